/*
 * human.h - sizes for people: one style for every command that reports
 * bytes (mirror sync, export, import), so their summaries can be compared
 * at a glance.
 */
#ifndef HUMAN_H
#define HUMAN_H

#include <stdint.h>

#define HUMAN_SIZE_MAX 16 /* "1023.9 KiB", with NUL, and room to spare */

/*
 * Writes n bytes as "512 B", "1.5 KiB", "20.0 MiB", "3.2 GiB" or "1.1 TiB"
 * (powers of 1024, as the configuration's K, M and G are) into out, and
 * returns out, so it can be an argument of printf.
 */
const char *human_size(char out[HUMAN_SIZE_MAX], uint64_t n);

#endif
