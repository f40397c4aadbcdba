/*
 * glob.c - the glob matcher of registry.conf's rules (see glob.h).
 *
 * One row of booleans per pattern token over the name (row[j]: the pattern
 * so far matches name[0..j)), so no pattern, however many stars it has,
 * costs more than pattern length x name length steps.
 */
#include "glob.h"

#include <string.h>

bool glob_match(const char *pattern, const char *name)
{
	bool row[GLOB_NAME_MAX + 1], next[GLOB_NAME_MAX + 1];
	size_t n, j;
	const char *p;

	if (pattern == NULL || name == NULL || (n = strlen(name)) > GLOB_NAME_MAX)
		return false;
	row[0] = true;
	for (j = 1; j <= n; j++)
		row[j] = false;
	for (p = pattern; *p;) {
		if (p[0] == '*' && p[1] == '*') {
			while (*p == '*')
				p++; /* "***" is "**" */
			next[0] = row[0];
			for (j = 1; j <= n; j++)
				next[j] = row[j] || next[j - 1];
		} else if (p[0] == '*') {
			p++;
			next[0] = row[0];
			for (j = 1; j <= n; j++)
				next[j] = row[j] || (next[j - 1] && name[j - 1] != '/');
		} else {
			char c = *p++;
			next[0] = false;
			for (j = 1; j <= n; j++)
				next[j] = row[j - 1] &&
					  (c == '?' ? name[j - 1] != '/' : name[j - 1] == c);
		}
		memcpy(row, next, (n + 1) * sizeof(row[0]));
	}
	return row[n];
}
