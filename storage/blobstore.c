/*
 * blobstore.c - the blob store's interface (blobstore.h): the table of
 * backends a configuration may name, and one-line dispatchers through a
 * store's operations. Nothing here knows how any backend keeps its bytes;
 * a new backend is one entry in `backends`.
 */
#include "blobstore.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "../common/log.h"
#include "blobstore_fs.h"
#include "blobstore_s3.h"

/* Every backend a configuration may name, the default first. */
static const blobstore_ops *const backends[] = {
    &blobstore_fs_ops,
    &blobstore_s3_ops,
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

const blobstore_ops *blobstore_backend_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < NBACKENDS; i++)
		if (strcmp(name, backends[i]->name) == 0)
			return backends[i];
	return NULL;
}

status_t blobstore_open_backend(blobstore **out, const char *backend, const char *location)
{
	return blobstore_open_opts(out, backend, location, NULL);
}

status_t blobstore_open_opts(blobstore **out, const char *backend, const char *location,
			     const blobstore_options *opts)
{
	static const blobstore_options none;

	const blobstore_ops *ops = blobstore_backend_find(backend);

	*out = NULL;
	if (ops == NULL) {
		log_error("blobstore: unknown storage backend '%s' (known: filesystem, s3)",
			  backend ? backend : "(null)");
		return ST_INVALID;
	}
	return ops->open(out, location, opts != NULL ? opts : &none);
}

status_t blobstore_open(blobstore **out, const char *root)
{
	return blobstore_open_backend(out, BLOBSTORE_DEFAULT_BACKEND, root);
}

status_t blobstore_redirect_url(blobstore *bs, const char *digest, char **out)
{
	*out = NULL;
	if (bs->bs_ops->redirect_url == NULL)
		return ST_UNSUPPORTED;
	return bs->bs_ops->redirect_url(bs, digest, out);
}

void blobstore_close(blobstore *bs)
{
	if (bs != NULL)
		bs->bs_ops->close(bs);
}

status_t blobstore_stat(blobstore *bs, const char *digest, uint64_t *out_size)
{
	return bs->bs_ops->stat(bs, digest, out_size);
}

status_t blobstore_read_open(blobstore *bs, const char *digest, blob_reader **out)
{
	return bs->bs_ops->read_open(bs, digest, out);
}

uint64_t blob_reader_size(const blob_reader *rd)
{
	return rd->rd_size;
}

int blob_reader_take_fd(blob_reader *rd)
{
	int fd = rd->rd_fd;

	rd->rd_fd = -1;
	return fd;
}

status_t blob_reader_read(blob_reader *rd, uint64_t off, void *buf, size_t len, size_t *out_n)
{
	return rd->rd_ops->reader_read(rd, off, buf, len, out_n);
}

void blob_reader_close(blob_reader *rd)
{
	if (rd != NULL)
		rd->rd_ops->reader_close(rd);
}

status_t blobstore_put(blobstore *bs, const char *digest, const void *buf, size_t len)
{
	return bs->bs_ops->put(bs, digest, buf, len);
}

status_t blobstore_delete(blobstore *bs, const char *digest)
{
	return bs->bs_ops->remove(bs, digest);
}

status_t blobstore_retire(blobstore *bs, const char *digest)
{
	if (bs->bs_ops->retire == NULL)
		return bs->bs_ops->remove(bs, digest);
	return bs->bs_ops->retire(bs, digest);
}

status_t blobstore_purge(blobstore *bs)
{
	return bs->bs_ops->purge != NULL ? bs->bs_ops->purge(bs) : ST_OK;
}

status_t blobstore_quarantine(blobstore *bs, const char *digest)
{
	return bs->bs_ops->quarantine(bs, digest);
}

status_t blobstore_upload_begin(blobstore *bs, const char *id, digest_alg alg, blob_upload **out)
{
	return bs->bs_ops->upload_begin(bs, id, alg, out);
}

status_t blobstore_upload_resume(blobstore *bs, const char *id, digest_alg alg, blob_upload **out)
{
	return bs->bs_ops->upload_resume(bs, id, alg, out);
}

status_t blob_upload_write(blob_upload *up, const void *buf, size_t len)
{
	return up->up_ops->upload_write(up, buf, len);
}

void blob_upload_stage(blob_upload *up)
{
	up->up_ops->upload_stage(up);
}

status_t blob_upload_flush(blob_upload *up)
{
	return up->up_ops->upload_flush(up);
}

void blob_upload_park(blob_upload *up)
{
	up->up_ops->upload_park(up);
}

uint64_t blob_upload_size(const blob_upload *up)
{
	return up->up_ops->upload_size(up);
}

digest_alg blob_upload_alg(const blob_upload *up)
{
	return up->up_ops->upload_alg(up);
}

status_t blobstore_upload_commit(blobstore *bs, blob_upload *up, const char *expected,
				 uint64_t *out_size)
{
	assert(up->up_ops == bs->bs_ops);
	return bs->bs_ops->upload_commit(bs, up, expected, out_size);
}

void blob_upload_free(blob_upload *up)
{
	if (up != NULL)
		up->up_ops->upload_free(up);
}

status_t blobstore_upload_open_read(blobstore *bs, const char *id, blob_reader **out)
{
	return bs->bs_ops->upload_open_read(bs, id, out);
}

status_t blobstore_upload_remove(blobstore *bs, const char *id)
{
	return bs->bs_ops->upload_remove(bs, id);
}

status_t blobstore_upload_list_stale(blobstore *bs, time_t before,
				     void (*fn)(void *arg, const char *id), void *arg)
{
	return bs->bs_ops->upload_list_stale(bs, before, fn, arg);
}

status_t blobstore_backup(blobstore *bs, const char *digest, blobstore *dst, bool *out_linked)
{
	if (dst == NULL || dst->bs_ops != bs->bs_ops)
		return ST_INVALID;
	return bs->bs_ops->backup(bs, digest, dst, out_linked);
}

status_t blobstore_list(blobstore *bs,
			int (*fn)(void *arg, const char *digest, uint64_t size, time_t mtime),
			void *arg)
{
	return bs->bs_ops->list(bs, fn, arg);
}
