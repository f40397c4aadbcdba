/*
 * range.c - parses the Range header of blob GETs and the Content-Range
 * header of upload PATCHes (see range.h).
 *
 * Both are parsed strictly: every number is one or more ASCII digits with no
 * sign and no surrounding space, and must fit in 63 bits (a value that
 * overflows is refused, never wrapped or clamped). Outputs are written only
 * on ST_OK.
 */
#include "range.h"

#include <stddef.h>
#include <strings.h>

/*
 * Reads a decimal number at *pp into *out and moves *pp past it. Returns 0,
 * or -1 (with *pp unchanged) when there is no digit or the value is over
 * INT64_MAX.
 */
static int parse_u63(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

status_t range_parse(const char *hdr, uint64_t size, uint64_t *out_start, uint64_t *out_len)
{
	const char *p = hdr;
	uint64_t first, last, n;

	if (hdr == NULL || out_start == NULL || out_len == NULL)
		return ST_INVALID;
	/* The range unit is case-insensitive (RFC 9110 14.1). */
	if (strncasecmp(p, "bytes=", 6) != 0)
		return ST_INVALID;
	p += 6;
	if (*p == '-') {
		/* "-N": the last N bytes. */
		p++;
		if (parse_u63(&p, &n) != 0 || *p != '\0')
			return ST_INVALID;
		if (n == 0)
			return ST_RANGE;
		/* An empty blob has no byte a 206 could name: let the caller send
		 * the whole (empty) blob, which RFC 9110 allows. */
		if (size == 0)
			return ST_INVALID;
		if (n > size)
			n = size;
		*out_start = size - n;
		*out_len = n;
		return ST_OK;
	}
	if (parse_u63(&p, &first) != 0 || *p != '-')
		return ST_INVALID;
	p++;
	if (*p == '\0') {
		last = UINT64_MAX; /* "A-": to the end */
	} else {
		/* A second range (",...") or anything else after B lands here. */
		if (parse_u63(&p, &last) != 0 || *p != '\0')
			return ST_INVALID;
		if (last < first)
			return ST_INVALID;
	}
	if (first >= size)
		return ST_RANGE;
	if (last > size - 1)
		last = size - 1;
	*out_start = first;
	*out_len = last - first + 1;
	return ST_OK;
}

status_t range_parse_content(const char *hdr, uint64_t *out_first, uint64_t *out_last)
{
	const char *p = hdr;
	uint64_t first, last, total;
	int rfc_form;

	if (hdr == NULL || out_first == NULL || out_last == NULL)
		return ST_INVALID;
	rfc_form = strncasecmp(p, "bytes ", 6) == 0;
	if (rfc_form)
		p += 6;
	if (parse_u63(&p, &first) != 0 || *p++ != '-' || parse_u63(&p, &last) != 0)
		return ST_INVALID;
	if (rfc_form) {
		if (*p++ != '/')
			return ST_INVALID;
		if (*p == '*') {
			p++;
		} else {
			if (parse_u63(&p, &total) != 0)
				return ST_INVALID;
			/* RFC 9110 14.4: last must be below the complete length. */
			if (last >= total)
				return ST_INVALID;
		}
	}
	if (*p != '\0' || last < first)
		return ST_INVALID;
	*out_first = first;
	*out_last = last;
	return ST_OK;
}
