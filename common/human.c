/*
 * human.c - sizes for people (see human.h).
 */
#include "human.h"

#include <stdio.h>

const char *human_size(char out[HUMAN_SIZE_MAX], uint64_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	/* 1023.96 KiB would print as "1024.0 KiB": round up to the next unit */
	if (u > 0 && u < 4 && v >= 1023.95)
		v /= 1024, u++;
	snprintf(out, HUMAN_SIZE_MAX, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return out;
}
