/* SPDX-License-Identifier: MIT */
/*
 * The built-in host HAL: frames aligned to their size, with host-physical
 * address == host virtual address (a user-space stand-in for a
 * hypervisor's frame allocator; benchmarks and tests use it).
 *
 * 4 KiB frames, the ones lazy faults take one by one, come from a pool of
 * 2 MiB chunks. A shared depot, under a lock, knows every free frame that
 * no thread holds (a bitmap per chunk) and hands out the lowest first.
 * Each thread takes a stack of frames at a time from it and keeps the
 * frames it frees in a buffer, which goes back when full: an allocation
 * or a free is an array pop or push with no lock and no shared cache
 * line, and the depot's lock is taken once per LOCAL_MAX frames. Frames
 * freed by one thread (the control path's unmap) thus reach the others
 * (vCPUs refilling their caches): any thread may free a frame. A thread
 * that exits gives back what it holds.
 *
 * Lowest address first is for the zeroing that follows every allocation:
 * zeroing page after page runs at twice the speed in ascending order as
 * in descending or random order (the hardware prefetchers follow), and
 * address order keeps the free frames in long runs however the frees came
 * (a LIFO pool, even one sorting what it got back, scatters them a little
 * more with every unmap: a lazy fault was 40% slower after a few hundred
 * rounds of fault and unmap).
 *
 * The pool keeps its chunks, so that a recycled frame is already backed
 * by memory (like a hypervisor's frame pool, and unlike memory fresh from
 * the kernel, whose first touch costs a host page fault). Every frame is
 * in exactly one place: handed out, in a thread's stack or free buffer,
 * or in the depot.
 *
 * Other sizes, and the chunks, come from jemalloc arenas of their own, one
 * per allocating thread (one shared arena serialized concurrent vCPUs on
 * its lock), whose freed pages are never purged (dirty/muzzy decay off),
 * for the same reason.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <jemalloc/jemalloc.h>

#include <aspace/aspace.h>

#define FRAME ASPACE_PAGE_SIZE
#define CHUNK ASPACE_BLOCK_2M
#define CHUNK_FRAMES (CHUNK / FRAME)
#define WORDS (CHUNK_FRAMES / 64)
/* Frames a thread takes from the depot at once, and frees it collects. */
#define LOCAL_MAX 256

struct chunk {
	uintptr_t base;
	unsigned nfree;
	uint64_t free[WORDS]; /* bit i: frame i is in the depot */
};

static struct {
	pthread_mutex_t lock;
	struct chunk *v; /* sorted by base */
	size_t n, cap;
	size_t first; /* no chunk below v[first] has a free frame */
	size_t hint;  /* the chunk of the latest free */
} depot = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * One thread's frames: a stack whose top goes out next (lowest address),
 * and the frames freed on this thread, in any order.
 */
struct local {
	bool arena_ready; /* arena_flags is set */
	bool registered;  /* local_exit will run at thread exit */
	int arena_flags;
	unsigned n, nfreed;
	aspace_hpa_t f[LOCAL_MAX];
	aspace_hpa_t freed[LOCAL_MAX];
};

static __thread struct local local;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool pool_on; /* 4 KiB frames from the pool (else from jemalloc) */

static void arena_init(struct local *l)
{
	unsigned ind;
	size_t len = sizeof(ind);
	ssize_t never = -1;
	char name[64];

	l->arena_ready = true;
	if (mallctl("arenas.create", &ind, &len, NULL, 0))
		return; /* the default arenas will do */
	snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", ind);
	mallctl(name, NULL, NULL, &never, sizeof(never));
	snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", ind);
	mallctl(name, NULL, NULL, &never, sizeof(never));
	l->arena_flags = MALLOCX_ARENA(ind);
}

/* The chunk holding hpa (depot locked); frees come in runs: try the last. */
static struct chunk *chunk_of(aspace_hpa_t hpa)
{
	uintptr_t base = (uintptr_t)hpa & ~(uintptr_t)(CHUNK - 1);
	size_t lo = 0, hi = depot.n;

	if (depot.hint < depot.n && depot.v[depot.hint].base == base)
		return &depot.v[depot.hint];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (depot.v[mid].base < base)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Not a frame of the pool: a foreign free, memory is corrupt. */
	if (lo == depot.n || depot.v[lo].base != base)
		abort();
	depot.hint = lo;
	return &depot.v[lo];
}

/* Frames back to the depot (locked). */
static void depot_put(const aspace_hpa_t *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct chunk *c = chunk_of(v[i]);
		size_t k = (v[i] - c->base) / FRAME;
		uint64_t bit = 1ull << (k % 64);

		if (c->free[k / 64] & bit)
			abort(); /* a double free */
		c->free[k / 64] |= bit;
		c->nfree++;
		if ((size_t)(c - depot.v) < depot.first)
			depot.first = (size_t)(c - depot.v);
	}
}

/* Up to max frames, lowest first, from the depot (locked) into out. */
static unsigned depot_take(aspace_hpa_t *out, unsigned max)
{
	unsigned got = 0;

	for (; depot.first < depot.n; depot.first++) {
		struct chunk *c = &depot.v[depot.first];

		for (unsigned w = 0; w < WORDS && c->nfree; w++) {
			while (c->free[w]) {
				unsigned b =
					(unsigned)__builtin_ctzll(c->free[w]);

				if (got == max)
					return got;
				c->free[w] &= c->free[w] - 1;
				c->nfree--;
				out[got++] = c->base + (w * 64 + b) * FRAME;
			}
		}
	}
	return got;
}

/* A new chunk, all free, into the depot (locked); -ENOMEM without one. */
static int depot_grow(struct local *l)
{
	void *m = mallocx(CHUNK, MALLOCX_ALIGN(CHUNK) | l->arena_flags);
	size_t i;

	if (!m)
		return -ENOMEM;
	/* One host TLB entry per chunk where the kernel has THP to give:
	 * zeroing page after page then takes no host page walks. */
	madvise(m, CHUNK, MADV_HUGEPAGE);
	if (depot.n == depot.cap) {
		size_t cap = depot.cap ? 2 * depot.cap : 64;
		struct chunk *v = realloc(depot.v, cap * sizeof(*v));

		if (!v) {
			sdallocx(m, CHUNK,
				 MALLOCX_ALIGN(CHUNK) | l->arena_flags);
			return -ENOMEM;
		}
		depot.v = v;
		depot.cap = cap;
	}
	for (i = depot.n; i > 0 && depot.v[i - 1].base > (uintptr_t)m; i--)
		depot.v[i] = depot.v[i - 1];
	depot.v[i].base = (uintptr_t)m;
	depot.v[i].nfree = CHUNK_FRAMES;
	memset(depot.v[i].free, 0xff, sizeof(depot.v[i].free));
	depot.n++;
	if (i < depot.first)
		depot.first = i;
	return 0;
}

/* Give back the thread's frees, and restock its stack if it is empty. */
static int local_flush(struct local *l, bool refill)
{
	aspace_hpa_t got[LOCAL_MAX];
	unsigned n = 0;
	int r = 0;

	pthread_mutex_lock(&depot.lock);
	depot_put(l->freed, l->nfreed);
	l->nfreed = 0;
	if (refill) {
		n = depot_take(got, LOCAL_MAX);
		if (!n && !(r = depot_grow(l)))
			n = depot_take(got, LOCAL_MAX);
	}
	pthread_mutex_unlock(&depot.lock);
	if (refill) {
		/* Lowest on top. */
		for (unsigned i = 0; i < n; i++)
			l->f[n - 1 - i] = got[i];
		l->n = n;
	}
	return r;
}

/* Thread exit: whatever the thread holds goes back to the depot. */
static void local_exit(void *arg)
{
	struct local *l = arg;

	/* A later call on this thread registers (and comes here) again. */
	l->registered = false;
	pthread_mutex_lock(&depot.lock);
	depot_put(l->f, l->n);
	depot_put(l->freed, l->nfreed);
	pthread_mutex_unlock(&depot.lock);
	l->n = 0;
	l->nfreed = 0;
}

/* Without the key, frames would be stranded in exited threads. */
static void exit_key_init(void)
{
	pool_on = pthread_key_create(&exit_key, local_exit) == 0;
}

/* The calling thread's frames (and arena), set up on its first call. */
static struct local *local_get(void)
{
	struct local *l = &local;

	if (!l->registered) {
		if (!l->arena_ready)
			arena_init(l);
		pthread_once(&exit_once, exit_key_init);
		l->registered =
			pool_on && pthread_setspecific(exit_key, l) == 0;
	}
	return l;
}

/*
 * Where the thread's exit cannot be learned of (no memory for the key's
 * value), nothing may stay with the thread between calls.
 */
static void local_put(struct local *l)
{
	if (!l->registered && (l->n || l->nfreed))
		local_exit(l);
}

static int host_alloc_batch(void *ctx, size_t size, aspace_hpa_t *hpa,
			    unsigned n)
{
	struct local *l = local_get();
	unsigned got = 0;

	if (size != FRAME || !pool_on) {
		for (; got < n; got++) {
			void *p = mallocx(size,
					  MALLOCX_ALIGN(size) | l->arena_flags);

			if (!p)
				break;
			hpa[got] = (uintptr_t)p;
		}
		return (int)got;
	}
	while (got < n) {
		if (!l->n && local_flush(l, true))
			break;
		hpa[got++] = l->f[--l->n];
	}
	local_put(l);
	return (int)got;
}

static int host_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	return host_alloc_batch(ctx, size, hpa, 1) == 1 ? 0 : -ENOMEM;
}

static void host_free(void *ctx, aspace_hpa_t hpa, size_t size)
{
	struct local *l = local_get();

	if (size != FRAME || !pool_on) {
		sdallocx((void *)(uintptr_t)hpa, size,
			 MALLOCX_ALIGN(size) | l->arena_flags);
		return;
	}
	l->freed[l->nfreed++] = hpa;
	if (l->nfreed == LOCAL_MAX)
		local_flush(l, false);
	local_put(l);
}

static void *host_phys_to_virt(void *ctx, aspace_hpa_t hpa)
{
	return (void *)(uintptr_t)hpa;
}

static const struct aspace_hal host_hal = {
	.alloc = host_alloc,
	.free = host_free,
	.phys_to_virt = host_phys_to_virt,
	.direct_map = true,
	.direct_map_offset = 0,
	.alloc_batch = host_alloc_batch,
};

const struct aspace_hal *aspace_host_hal(void)
{
	return &host_hal;
}
