/*
 * stage.c - the staged writer (see stage.h).
 *
 * Slot number k (counting from 0 since the ring was made) lives at
 * mem + (k % nslots) * STAGE_SLOT_BYTES. The caller fills slot `filled`;
 * the hash thread takes slots [hashed, filled), the write thread
 * [written, filled); a slot is free again once both are past it. The
 * threads start at the first full slot, so a stage that never fills one
 * hashes and writes inline. Counters, stop and err are under mu.
 *
 * Measured (make bench, 2 cores): 256 KiB slots cost a 256 MiB push ~25 %
 * in thread wake-ups; 512 KiB and 1 MiB ones, and 2 or 4 of them, came out
 * alike; one slot (no double buffering) is ~20 % slower.
 */
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fileio.h"

struct stage {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* any counter moved, or stop */
	char *mem;
	int nslots;
	int fd;			       /* the file, through the page cache (borrowed) */
	int dfd;		       /* the file, O_DIRECT (owned); -1 once it refused a write */
	digest_ctx *hash;	       /* borrowed */
	uint64_t off[STAGE_SLOTS_MAX]; /* file offset of each slot's first byte */
	size_t len[STAGE_SLOTS_MAX];
	uint64_t filled, hashed, written;
	uint64_t cur_off; /* file offset of the slot being filled */
	size_t cur_len;	  /* bytes in it (caller only) */
	bool threads;	  /* th_hash and th_write run */
	bool stop;	  /* stage_end: the threads end once nothing is left */
	status_t err;	  /* first write failure */
	pthread_t th_hash, th_write;
};

static char *slot_mem(stage *sg, uint64_t k)
{
	return sg->mem + (size_t)(k % (uint64_t)sg->nslots) * STAGE_SLOT_BYTES;
}

/* Writes slot k to the file: O_DIRECT if aligned, else through the page
 * cache. What O_DIRECT wrote is then read back into the page cache, in the
 * background (readahead: the kernel's I/O, no copy here), up to
 * STAGE_READBACK_MAX into the file: the first pull of a blob comes right
 * after its push (CI pushes, the deploy pulls), and found it on disk alone
 * (make bench: a fifth of a warm pull's speed; with this, as fast). */
static status_t slot_write(stage *sg, uint64_t k)
{
	int i = (int)(k % (uint64_t)sg->nslots);
	status_t st;

	if (sg->dfd >= 0 && sg->off[i] % STAGE_ALIGN == 0 && sg->len[i] % STAGE_ALIGN == 0) {
		st = fileio_write(sg->dfd, slot_mem(sg, k), sg->len[i], (off_t)sg->off[i]);
		if (st == ST_OK && sg->off[i] < STAGE_READBACK_MAX)
			posix_fadvise(sg->fd, (off_t)sg->off[i], (off_t)sg->len[i],
				      POSIX_FADV_WILLNEED); /* a hint: failure is harmless */
		if (st != ST_IO || errno != EINVAL)
			return st;
		/* Opened, but the file system refuses these writes: the page
		 * cache from here on, this slot written again whole. */
		close(sg->dfd);
		sg->dfd = -1;
	}
	return fileio_write(sg->fd, slot_mem(sg, k), sg->len[i], (off_t)sg->off[i]);
}

/* The hash thread: feeds slots to the hash in order. */
static void *hash_main(void *arg)
{
	stage *sg = arg;

	pthread_mutex_lock(&sg->mu);
	for (;;) {
		while (sg->hashed == sg->filled && !sg->stop)
			pthread_cond_wait(&sg->cv, &sg->mu);
		if (sg->hashed == sg->filled)
			break;
		uint64_t k = sg->hashed;
		pthread_mutex_unlock(&sg->mu);
		digest_ctx_update(sg->hash, slot_mem(sg, k), sg->len[k % (uint64_t)sg->nslots]);
		pthread_mutex_lock(&sg->mu);
		sg->hashed++;
		pthread_cond_broadcast(&sg->cv);
	}
	pthread_mutex_unlock(&sg->mu);
	return NULL;
}

/* The write thread: writes slots in order; after a failure it only counts
 * them, so nobody waits forever. */
static void *write_main(void *arg)
{
	stage *sg = arg;

	pthread_mutex_lock(&sg->mu);
	for (;;) {
		while (sg->written == sg->filled && !sg->stop)
			pthread_cond_wait(&sg->cv, &sg->mu);
		if (sg->written == sg->filled)
			break;
		uint64_t k = sg->written;
		bool failed = sg->err != ST_OK;
		pthread_mutex_unlock(&sg->mu);
		status_t st = failed ? ST_OK : slot_write(sg, k);
		pthread_mutex_lock(&sg->mu);
		if (st != ST_OK && sg->err == ST_OK)
			sg->err = st;
		sg->written++;
		pthread_cond_broadcast(&sg->cv);
	}
	pthread_mutex_unlock(&sg->mu);
	return NULL;
}

status_t stage_new(stage **out, int fd, int dfd, digest_ctx *hash, uint64_t off, int nslots)
{
	stage *sg;

	*out = NULL;
	if (nslots < 2 || nslots > STAGE_SLOTS_MAX)
		return ST_INVALID;
	if ((sg = calloc(1, sizeof(*sg))) == NULL)
		return ST_NOMEM;
	/* mmap: page-aligned for O_DIRECT, and given back whole at the end. */
	sg->mem = mmap(NULL, (size_t)nslots * STAGE_SLOT_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sg->mem == MAP_FAILED) {
		free(sg);
		return ST_NOMEM;
	}
	pthread_mutex_init(&sg->mu, NULL);
	pthread_cond_init(&sg->cv, NULL);
	sg->nslots = nslots;
	sg->fd = fd;
	sg->dfd = dfd;
	sg->hash = hash;
	sg->cur_off = off;
	sg->err = ST_OK;
	*out = sg;
	return ST_OK;
}

/* Hashes and writes the slot being filled right here (no threads). */
static void slot_inline(stage *sg)
{
	int i = (int)(sg->filled % (uint64_t)sg->nslots);

	sg->off[i] = sg->cur_off;
	sg->len[i] = sg->cur_len;
	digest_ctx_update(sg->hash, slot_mem(sg, sg->filled), sg->cur_len);
	if (sg->err == ST_OK)
		sg->err = slot_write(sg, sg->filled);
	sg->filled = sg->hashed = ++sg->written;
}

/* Starts both threads; false if it cannot (then none runs). */
static bool threads_start(stage *sg)
{
	if (pthread_create(&sg->th_hash, NULL, hash_main, sg) != 0)
		return false;
	if (pthread_create(&sg->th_write, NULL, write_main, sg) != 0) {
		pthread_mutex_lock(&sg->mu);
		sg->stop = true;
		pthread_cond_broadcast(&sg->cv);
		pthread_mutex_unlock(&sg->mu);
		pthread_join(sg->th_hash, NULL);
		sg->stop = false;
		return false;
	}
	pthread_setname_np(sg->th_hash, "upload-hash");
	pthread_setname_np(sg->th_write, "upload-write");
	sg->threads = true;
	return true;
}

/* Hands the slot being filled over to the threads, starting them first
 * (or, if they cannot start, does its work inline). */
static void slot_handover(stage *sg)
{
	int i = (int)(sg->filled % (uint64_t)sg->nslots);

	if (!sg->threads && !threads_start(sg)) {
		slot_inline(sg);
	} else {
		pthread_mutex_lock(&sg->mu);
		sg->off[i] = sg->cur_off;
		sg->len[i] = sg->cur_len;
		sg->filled++;
		pthread_cond_broadcast(&sg->cv);
		pthread_mutex_unlock(&sg->mu);
	}
	sg->cur_off += sg->cur_len;
	sg->cur_len = 0;
}

/* Room in the slot being filled: it ends 4 KiB-aligned in the file. */
static size_t slot_room(const stage *sg)
{
	return STAGE_SLOT_BYTES - (size_t)(sg->cur_off % STAGE_ALIGN) - sg->cur_len;
}

status_t stage_write(stage *sg, const void *buf, size_t len)
{
	const char *p = buf;
	status_t st;

	while (len > 0) {
		size_t n = slot_room(sg);

		if (sg->cur_len == 0 && sg->threads) {
			/* A fresh slot: wait until both threads are done with it. */
			pthread_mutex_lock(&sg->mu);
			while (sg->filled - (sg->hashed < sg->written ? sg->hashed : sg->written) >=
			       (uint64_t)sg->nslots)
				pthread_cond_wait(&sg->cv, &sg->mu);
			st = sg->err;
			pthread_mutex_unlock(&sg->mu);
		} else {
			st = sg->threads ? ST_OK : sg->err;
		}
		if (st != ST_OK)
			return st;
		if (n > len)
			n = len;
		memcpy(slot_mem(sg, sg->filled) + sg->cur_len, p, n);
		sg->cur_len += n;
		p += n;
		len -= n;
		if (slot_room(sg) == 0)
			slot_handover(sg);
	}
	return ST_OK;
}

status_t stage_end(stage *sg)
{
	status_t st;

	if (sg->cur_len > 0) {
		if (sg->threads)
			slot_handover(sg);
		else
			slot_inline(sg);
	}
	if (sg->threads) {
		pthread_mutex_lock(&sg->mu);
		sg->stop = true;
		pthread_cond_broadcast(&sg->cv);
		pthread_mutex_unlock(&sg->mu);
		pthread_join(sg->th_hash, NULL);
		pthread_join(sg->th_write, NULL);
	}
	st = sg->err;
	if (sg->dfd >= 0)
		close(sg->dfd);
	munmap(sg->mem, (size_t)sg->nslots * STAGE_SLOT_BYTES);
	pthread_mutex_destroy(&sg->mu);
	pthread_cond_destroy(&sg->cv);
	free(sg);
	return st;
}
