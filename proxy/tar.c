/*
 * tar.c - ustar writing and tolerant tar reading (see tar.h).
 *
 * The reader works on a plain fd with its own buffer, never seeking, so a
 * pipe works as well as a file. r->left is what remains of the current
 * entry's data and r->pad the zero bytes after it; tar_next skips both.
 * Extended headers (PAX 'x', GNU 'L') only set the next entry's name or
 * size; they are read whole into memory, bounded by TAR_EXT_MAX.
 */
#include "tar.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAR_EXT_MAX (1024 * 1024) /* largest PAX or GNU long-name header read */
#define TAR_BUF (64 * 1024)

/* ---- writing ---- */

static status_t write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return (errno == ENOSPC || errno == EDQUOT) ? ST_NO_SPACE : ST_IO;
		p += w;
		len -= (size_t)w;
	}
	return ST_OK;
}

/* An octal field of width w (with its NUL), or base-256 if v does not fit. */
static void put_num(char *field, size_t w, uint64_t v)
{
	uint64_t max = 1;

	for (size_t i = 0; i < w - 1; i++)
		max *= 8;
	if (v < max) {
		field[w - 1] = '\0';
		for (size_t i = w - 1; i > 0; i--, v >>= 3)
			field[i - 1] = (char)('0' + (v & 7));
		return;
	}
	memset(field, 0, w);
	field[0] = (char)0x80;
	for (size_t i = w - 1; i > 0 && v > 0; i--, v >>= 8)
		field[i] = (char)(v & 0xff);
}

/* One ustar header block; name truncated to 100 bytes (the caller sends
 * the whole name in a PAX header first when it is longer). */
static status_t header_block(int fd, const char *name, uint64_t size, char type)
{
	unsigned char h[TAR_BLOCK];
	size_t n = strlen(name);
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	memcpy(h, name, n > 100 ? 100 : n);
	put_num((char *)h + 100, 8, type == '5' ? 0755 : 0644);
	put_num((char *)h + 108, 8, 0);
	put_num((char *)h + 116, 8, 0);
	put_num((char *)h + 124, 12, size);
	put_num((char *)h + 136, 12, 0);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return write_all(fd, h, sizeof(h));
}

status_t tar_write_header(int fd, const char *name, uint64_t size, char type)
{
	size_t n = strlen(name);
	status_t st;

	if (n == 0 || n >= TAR_NAME_MAX)
		return ST_INVALID;
	if (n > 100) {
		/* "LEN path=NAME\n", LEN counting its own digits */
		char rec[TAR_NAME_MAX + 32];
		size_t body = n + 7, len = body + 1;
		while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
			len = body + (size_t)snprintf(NULL, 0, "%zu", len);
		snprintf(rec, sizeof(rec), "%zu path=%s\n", len, name);
		if ((st = header_block(fd, "PaxHeader", len, 'x')) != ST_OK ||
		    (st = write_all(fd, rec, len)) != ST_OK ||
		    (st = tar_write_pad(fd, len)) != ST_OK)
			return st;
	}
	return header_block(fd, name, type == '5' ? 0 : size, type);
}

status_t tar_write_data(int fd, const void *buf, size_t len)
{
	return write_all(fd, buf, len);
}

status_t tar_write_pad(int fd, uint64_t size)
{
	static const char zero[TAR_BLOCK];
	size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);

	return pad ? write_all(fd, zero, pad) : ST_OK;
}

status_t tar_write_end(int fd)
{
	static const char zero[2 * TAR_BLOCK];

	return write_all(fd, zero, sizeof(zero));
}

/* ---- reading ---- */

struct tar_reader {
	int fd;
	char *buf;
	size_t pos, len; /* buffered bytes [pos, len) */
	uint64_t left;	 /* data left in the current entry */
	uint64_t pad;	 /* padding after it */
	bool eof;
};

status_t tar_reader_new(tar_reader **out, int fd)
{
	tar_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL || (r->buf = malloc(TAR_BUF)) == NULL) {
		free(r);
		return ST_NOMEM;
	}
	r->fd = fd;
	*out = r;
	return ST_OK;
}

void tar_reader_free(tar_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

/* Reads exactly len bytes (or skips them, buf NULL). ST_OK, ST_INVALID at
 * a premature end, ST_IO. */
static status_t raw_read(tar_reader *r, void *buf, uint64_t len)
{
	char *p = buf;

	while (len > 0) {
		size_t n;
		if (r->pos == r->len) {
			ssize_t got;
			do
				got = read(r->fd, r->buf, TAR_BUF);
			while (got < 0 && errno == EINTR);
			if (got < 0)
				return ST_IO;
			if (got == 0)
				return ST_INVALID;
			r->pos = 0;
			r->len = (size_t)got;
		}
		n = r->len - r->pos;
		if (n > len)
			n = (size_t)len;
		if (p != NULL) {
			memcpy(p, r->buf + r->pos, n);
			p += n;
		}
		r->pos += n;
		len -= n;
	}
	return ST_OK;
}

static int get_num(const unsigned char *f, size_t w, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		/* base-256, positive only */
		if (f[0] != 0x80)
			return -1;
		for (i = 1; i < w; i++) {
			if (v >> 56)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < w && (f[i] == ' ' || f[i] == '\0'))
		i++;
	for (; i < w && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < w; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*out = v;
	return 0;
}

static bool header_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned sum = 0;

	if (get_num(h + 148, 8, &want) != 0)
		return false;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == want;
}

/* Cleans name in place: no leading "./", refuses absolute and "..". */
static status_t clean_name(char *name)
{
	char *p = name;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/' && p[1] == '\0')
		p++;
	if (*p == '/')
		return ST_INVALID;
	memmove(name, p, strlen(p) + 1);
	for (char *s = name; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return ST_INVALID;
		s += n;
		if (*s == '/')
			s++;
	}
	/* "blobs/" (a folder) is "blobs" */
	for (size_t n = strlen(name); n > 0 && name[n - 1] == '/'; n--)
		name[n - 1] = '\0';
	return ST_OK;
}

/* Reads the data of an extended header of size bytes into a new buffer. */
static status_t read_ext(tar_reader *r, uint64_t size, char **out)
{
	char *b;
	status_t st;

	*out = NULL;
	if (size > TAR_EXT_MAX)
		return ST_INVALID;
	if ((b = malloc((size_t)size + 1)) == NULL)
		return ST_NOMEM;
	if ((st = raw_read(r, b, size)) != ST_OK ||
	    (st = raw_read(r, NULL, (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK)) != ST_OK) {
		free(b);
		return st;
	}
	b[size] = '\0';
	*out = b;
	return ST_OK;
}

/* PAX records "LEN key=value\n": picks path and size. */
static status_t pax_apply(const char *b, size_t len, char *name, bool *have_name, uint64_t *size,
			  bool *have_size)
{
	size_t off = 0;

	while (off < len) {
		char *end;
		unsigned long long rl = strtoull(b + off, &end, 10);
		const char *kv, *eq;
		/* strtoull skips blanks and takes a sign; a record starts with digits */
		if (b[off] < '0' || b[off] > '9' || *end != ' ' || rl == 0 || rl > len - off ||
		    (size_t)(end + 1 - (b + off)) >= rl)
			return ST_INVALID;
		kv = end + 1;
		eq = memchr(kv, '=', (size_t)(b + off + rl - kv));
		if (eq == NULL || b[off + rl - 1] != '\n')
			return ST_INVALID;
		if ((size_t)(eq - kv) == 4 && strncmp(kv, "path", 4) == 0) {
			size_t vn = (size_t)(b + off + rl - 1 - (eq + 1));
			if (vn >= TAR_NAME_MAX)
				return ST_INVALID;
			memcpy(name, eq + 1, vn);
			name[vn] = '\0';
			*have_name = true;
		} else if ((size_t)(eq - kv) == 4 && strncmp(kv, "size", 4) == 0) {
			*size = strtoull(eq + 1, NULL, 10);
			*have_size = true;
		}
		off += rl;
	}
	return ST_OK;
}

status_t tar_next(tar_reader *r, tar_entry *out)
{
	unsigned char h[TAR_BLOCK];
	char ext_name[TAR_NAME_MAX];
	bool have_name = false, have_size = false;
	uint64_t ext_size = 0, size;
	status_t st;

	memset(out, 0, sizeof(*out));
	if (r->eof)
		return ST_NOT_FOUND;
	if ((st = raw_read(r, NULL, r->left + r->pad)) != ST_OK)
		return st;
	r->left = r->pad = 0;
	for (;;) {
		char *ext = NULL;
		char type;

		if ((st = raw_read(r, h, TAR_BLOCK)) != ST_OK) {
			if (st == ST_INVALID && !have_name && !have_size) {
				r->eof = true; /* no end blocks: tolerated */
				return ST_NOT_FOUND;
			}
			return st;
		}
		{
			bool zero = true;
			for (size_t i = 0; i < TAR_BLOCK && zero; i++)
				zero = h[i] == 0;
			if (zero) {
				r->eof = true;
				return ST_NOT_FOUND;
			}
		}
		if (!header_ok(h) || get_num(h + 124, 12, &size) != 0)
			return ST_INVALID;
		type = (char)h[156];
		if (type == 'x' || type == 'L' || type == 'g') {
			if ((st = read_ext(r, size, &ext)) != ST_OK)
				return st;
			if (type == 'x')
				st = pax_apply(ext, (size_t)size, ext_name, &have_name, &ext_size,
					       &have_size);
			else if (type == 'L') {
				size_t n = strnlen(ext, (size_t)size);
				if (n >= TAR_NAME_MAX)
					st = ST_INVALID;
				else {
					memcpy(ext_name, ext, n);
					ext_name[n] = '\0';
					have_name = true;
				}
			}
			free(ext);
			if (st != ST_OK)
				return st;
			continue;
		}
		if (have_name) {
			memcpy(out->name, ext_name, sizeof(out->name));
		} else {
			char nm[101], prefix[156];
			memcpy(nm, h, 100);
			nm[100] = '\0';
			memcpy(prefix, h + 345, 155);
			prefix[155] = '\0';
			if (memcmp(h + 257, "ustar", 5) == 0 && prefix[0])
				snprintf(out->name, sizeof(out->name), "%s/%s", prefix, nm);
			else
				snprintf(out->name, sizeof(out->name), "%s", nm);
		}
		if (have_size)
			size = ext_size;
		if (clean_name(out->name) != ST_OK)
			return ST_INVALID;
		out->type = type == '\0' ? '0' : type;
		/* links, devices, fifos carry no data; folders neither */
		if (out->type == '1' || out->type == '2' || out->type == '3' || out->type == '4' ||
		    out->type == '5' || out->type == '6')
			size = out->type == '5' ? 0 : size;
		out->size = size;
		r->left = size;
		r->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		return ST_OK;
	}
}

status_t tar_read(tar_reader *r, void *buf, size_t max, size_t *out_n)
{
	status_t st;

	*out_n = 0;
	if (r->left == 0)
		return ST_OK;
	if (max > r->left)
		max = (size_t)r->left;
	/* whatever is buffered, else one read(2) */
	if (r->pos == r->len) {
		if ((st = raw_read(r, buf, max)) != ST_OK)
			return st;
		r->left -= max;
		*out_n = max;
		return ST_OK;
	}
	if (max > r->len - r->pos)
		max = r->len - r->pos;
	memcpy(buf, r->buf + r->pos, max);
	r->pos += max;
	r->left -= max;
	*out_n = max;
	return ST_OK;
}
