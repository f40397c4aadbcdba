/*
 * rules.h - who may do what to which repository.
 *
 * A rule is one line "PATTERN WHO ACTIONS":
 *   PATTERN  a glob over repository names: `*` matches within one path
 *            segment (no '/'), `**` matches anything (also '/'), `?` one
 *            character but '/'; anything else matches itself. So
 *            "team-a/" then `*` is every repository directly under
 *            team-a/, "library/" then `**` everything below library/, and
 *            `**` alone every repository.
 *   WHO      comma-separated: a user name, `@group`, `anonymous` (everyone,
 *            with or without credentials) or `*` (every signed-in user)
 *   ACTIONS  comma-separated: pull, push, delete, or `*` for all three
 * A group is "NAME: USER USER ..." (spaces or commas between members).
 *
 * Rules only grant, and add up: a principal may do to a repository the
 * union of what every matching rule grants it. With no rule at all, every
 * signed-in user may do everything and anonymous nothing.
 */
#ifndef AUTH_RULES_H
#define AUTH_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/status.h"

/* Actions, as a bit set. */
#define AUTH_PULL 1u
#define AUTH_PUSH 2u
#define AUTH_DELETE 4u
#define AUTH_ALL (AUTH_PULL | AUTH_PUSH | AUTH_DELETE)

#define AUTH_NAME_MAX 256 /* user and group names, with NUL */

typedef struct auth_rules auth_rules;

/* Whether name matches the glob pattern (see above). Names longer than
 * 1023 bytes never match. NULL never matches. */
bool auth_glob_match(const char *pattern, const char *name);

/* Parses "pull,push" (or "*") into a bit set. ST_OK, or ST_INVALID for an
 * empty list or an unknown action. */
status_t auth_actions_parse(const char *s, unsigned *out);

/* Whether s is a usable user name: 1-255 bytes of letters, digits and
 * . _ - @, not starting with '@', and not `anonymous`. */
bool auth_user_name_ok(const char *s);

/* An empty rule set. ST_OK with *out (free with auth_rules_free), ST_NOMEM. */
status_t auth_rules_new(auth_rules **out);
/* NULL is a no-op. */
void auth_rules_free(auth_rules *rs);

/*
 * Parses a rule line and appends it. ST_OK; ST_INVALID with a message in
 * err (errlen bytes; may be NULL) and rs unchanged; ST_NOMEM.
 */
status_t auth_rules_add(auth_rules *rs, const char *spec, char *err, size_t errlen);

/* Parses a group line and appends it, as auth_rules_add. A group defined
 * twice is ST_INVALID. */
status_t auth_rules_add_group(auth_rules *rs, const char *spec, char *err, size_t errlen);

/* ST_OK if every @group the rules name is defined, else ST_INVALID with
 * a message naming the first one that is not. */
status_t auth_rules_check(const auth_rules *rs, char *err, size_t errlen);

/* The actions user (NULL or "" = anonymous) may do on repo. */
unsigned auth_rules_eval(const auth_rules *rs, const char *user, const char *repo);

/* Whether user (NULL = anonymous) may pull from at least one repository
 * pattern (used to decide whether the catalog is worth showing). */
bool auth_rules_any_pull(const auth_rules *rs, const char *user);

/* Number of rules (groups not counted). */
size_t auth_rules_count(const auth_rules *rs);

#endif
