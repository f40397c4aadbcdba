/*
 * ref.h - repository names, tags and references, as the OCI distribution
 * spec's grammar defines them.
 *
 *   name: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 *         at most REF_NAME_MAX - 1 characters
 *   tag:  [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
 *   reference: a tag or a digest (see digest.h)
 */
#ifndef REF_H
#define REF_H

#include <stddef.h>
#include "../common/status.h"

#define REF_NAME_MAX 256 /* with NUL */
#define REF_TAG_MAX 129	 /* with NUL */

/* ST_OK or ST_NAME_INVALID (also for NULL or longer than REF_NAME_MAX - 1). */
status_t ref_name_check(const char *s);
/* ST_OK or ST_TAG_INVALID (also for NULL or empty). */
status_t ref_tag_check(const char *s);

typedef enum { REF_TAG, REF_DIGEST } ref_kind;

/*
 * Classifies a manifest reference: a valid digest (REF_DIGEST), a valid tag
 * (REF_TAG). ST_OK with *out_kind; ST_UNSUPPORTED for a well-formed digest
 * of an algorithm we do not compute; ST_DIGEST_INVALID for something that
 * contains ':' but is not a digest; ST_TAG_INVALID otherwise (NULL
 * included). out_kind may be NULL; it is left alone on failure.
 */
status_t ref_parse(const char *s, ref_kind *out_kind);

#endif
