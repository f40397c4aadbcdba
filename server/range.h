/*
 * range.h - the byte ranges of HTTP requests.
 *
 * Range on blob GET (RFC 9110, one range only): "bytes=A-B", "bytes=A-",
 * "bytes=-N". Content-Range on upload PATCH, as clients send it: "A-B"
 * (distribution-spec) or "bytes A-B/*" / "bytes A-B/LEN" (RFC form).
 * All numbers are unsigned decimal without sign or spaces, and must fit in
 * 63 bits; anything else is invalid, never truncated.
 */
#ifndef RANGE_H
#define RANGE_H

#include <stdint.h>
#include "../common/status.h"

/*
 * Resolves a Range header against a blob of `size` bytes.
 * ST_OK with [*out_start, *out_start + *out_len) inside the blob;
 * ST_RANGE when well-formed but unsatisfiable (start >= size, or a suffix
 * of 0 bytes) -> 416; ST_INVALID when malformed or several ranges (callers
 * ignore the header and send the whole blob, as RFC 9110 allows).
 */
status_t range_parse(const char *hdr, uint64_t size, uint64_t *out_start, uint64_t *out_len);

/*
 * Parses an upload chunk's Content-Range into first and last byte offsets
 * (inclusive). ST_OK; ST_INVALID if malformed or last < first.
 */
status_t range_parse_content(const char *hdr, uint64_t *out_first, uint64_t *out_last);

#endif
