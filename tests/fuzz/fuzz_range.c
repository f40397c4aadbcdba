/*
 * fuzz_range.c - Range and Content-Range (server/range.c).
 *
 * Input: 8 bytes of blob size (little-endian; short inputs pad with 0),
 * then the header value. Promises checked: a resolved Range lies inside the
 * blob and is never empty; a parsed Content-Range has first <= last < 2^63;
 * outputs are untouched on failure.
 */
#include "fuzz.h"

#include "../../oci/range.h"

#define UNTOUCHED 0xdeadbeefcafef00dull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t blob = 0, start = UNTOUCHED, len = UNTOUCHED;
	size_t head = size < 8 ? size : 8;
	char *s;
	status_t st;

	for (size_t i = 0; i < head; i++)
		blob |= (uint64_t)data[i] << (8 * i);
	/* Small sizes too, where the edge cases live. */
	if (head > 0 && (data[0] & 1))
		blob &= 0xffff;
	if ((s = fuzz_cstr(data + head, size - head)) == NULL)
		return 0;

	st = range_parse(s, blob, &start, &len);
	if (st == ST_OK) {
		FUZZ_ASSERT(len > 0);
		FUZZ_ASSERT(start < blob);
		FUZZ_ASSERT(len <= blob - start);
	} else {
		FUZZ_ASSERT(st == ST_RANGE || st == ST_INVALID);
		FUZZ_ASSERT(start == UNTOUCHED && len == UNTOUCHED);
	}

	start = len = UNTOUCHED;
	st = range_parse_content(s, &start, &len);
	if (st == ST_OK) {
		FUZZ_ASSERT(start <= len);
		FUZZ_ASSERT(len <= (uint64_t)INT64_MAX);
	} else {
		FUZZ_ASSERT(st == ST_INVALID);
		FUZZ_ASSERT(start == UNTOUCHED && len == UNTOUCHED);
	}
	free(s);
	return 0;
}
