/*
 * glob.h - the globs of registry.conf over repository names and tags, one
 * matcher for every rule that names repositories: access rules
 * (auth_rule), and the storage policies (quota, immutable, retain).
 *
 *   `*`  matches within one path segment (no '/')
 *   `**` matches anything, '/' included
 *   `?`  one character but '/'
 *   anything else matches itself.
 */
#ifndef GLOB_H
#define GLOB_H

#include <stdbool.h>

#define GLOB_NAME_MAX 1024 /* longer names never match */

/* Whether name matches pattern. NULL never matches. Dynamic programming
 * over the name: never more than pattern length x name length steps. */
bool glob_match(const char *pattern, const char *name);

#endif
