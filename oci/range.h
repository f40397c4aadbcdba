/*
 * range.h - the byte ranges of HTTP requests.
 *
 * Range on blob GET (RFC 9110, one range only): "bytes=A-B", "bytes=A-",
 * "bytes=-N". Content-Range on upload PATCH, as clients send it: "A-B"
 * (distribution-spec) or "bytes A-B/LEN", where LEN may be a star (RFC form).
 * All numbers are unsigned decimal without sign or spaces, and must fit in
 * 63 bits; anything else is invalid, never truncated.
 */
#ifndef RANGE_H
#define RANGE_H

#include <stdint.h>
#include "../common/status.h"

/*
 * Resolves a Range header against a blob of `size` bytes.
 * ST_OK with [*out_start, *out_start + *out_len) inside the blob (an end
 * past the blob is clamped to its last byte, a suffix longer than the blob
 * is the whole blob); ST_RANGE when well-formed but unsatisfiable (start >=
 * size, or a suffix of 0 bytes) -> 416; ST_INVALID when malformed, B < A,
 * several ranges, a NULL argument, or a suffix range of an empty blob (no
 * byte to send in a 206): callers ignore the header and send the whole
 * blob, as RFC 9110 allows. Outputs are set only on ST_OK.
 */
status_t range_parse(const char *hdr, uint64_t size, uint64_t *out_start, uint64_t *out_len);

/*
 * Parses an upload chunk's Content-Range into first and last byte offsets
 * (inclusive). ST_OK; ST_INVALID if malformed, last < first, last >= LEN,
 * or a NULL argument. Outputs are set only on ST_OK.
 */
status_t range_parse_content(const char *hdr, uint64_t *out_first, uint64_t *out_last);

#endif
