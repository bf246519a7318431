/* SPDX-License-Identifier: MIT */
/*
 * The built-in host HAL: frames aligned to their size, with host-physical
 * address == host virtual address (a user-space stand-in for a
 * hypervisor's frame allocator; benchmarks and tests use it).
 *
 * 4 KiB frames, the ones lazy faults take one by one, come from a pool.
 * Each thread carves 2 MiB chunks into frames and hands them out from a
 * stack of its own: an allocation is an array pop, with no lock and no
 * shared cache line. Frees collect in a second per-thread buffer; a full
 * one is sorted and goes to a shared depot as a magazine, where a thread
 * that ran out takes it (before it carves a new chunk). That is how
 * frames freed by one thread (the control path's unmap) reach the others
 * (vCPUs refilling their caches): a frame may be freed by any thread. A
 * thread that exits hands all it holds to the depot.
 *
 * Frames go out in ascending address order, as carved or as sorted into a
 * magazine: zeroing pages one after the other is twice as fast ascending
 * as in random or descending order (the hardware prefetchers follow), and
 * zeroing is most of a lazy fault.
 *
 * The pool keeps its chunks for reuse, so that a recycled frame is already
 * backed by memory (like a hypervisor's frame pool, and unlike memory
 * fresh from the kernel, whose first touch costs a host page fault).
 * Every frame is in exactly one place: handed out, in a thread's stack or
 * free buffer or uncarved chunk, or in the depot.
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
#include <string.h>
#include <sys/types.h>
#include <jemalloc/jemalloc.h>

#include <aspace/aspace.h>

#define FRAME ASPACE_PAGE_SIZE
#define CHUNK ASPACE_BLOCK_2M

/*
 * A magazine lives in one of the free frames it hands over (free memory,
 * after all), so that moving frames between threads never calls malloc
 * and a free cannot fail for want of memory. The frame holding it is the
 * lowest of the magazine's frames; f[] is sorted descending, so that the
 * frames leave a stack in ascending order.
 */
#define MAG_FRAMES 510
struct magazine {
	struct magazine *next;
	unsigned n;
	aspace_hpa_t f[MAG_FRAMES]; /* the frames besides this one */
};
_Static_assert(sizeof(struct magazine) <= FRAME, "a magazine fits a frame");

static struct {
	pthread_mutex_t lock;
	struct magazine *full;
} depot = {PTHREAD_MUTEX_INITIALIZER, NULL};

/*
 * One thread's frames: a stack whose top goes out next, frames freed on
 * this thread (in any order), and the uncarved rest of its chunk.
 */
struct local {
	bool arena_ready; /* arena_flags is set */
	bool registered;  /* local_exit will run at thread exit */
	int arena_flags;
	unsigned n, nfreed;
	uintptr_t carve, carve_end;
	aspace_hpa_t f[MAG_FRAMES + 1];
	aspace_hpa_t freed[MAG_FRAMES + 1];
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

static void reverse(aspace_hpa_t *v, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		aspace_hpa_t t = v[i];

		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
}

/* End of the run from i, made descending (an ascending one is reversed). */
static size_t run_end(aspace_hpa_t *v, size_t i, size_t n)
{
	size_t j = i + 1;

	if (j < n && v[j] > v[i]) {
		while (j + 1 < n && v[j + 1] > v[j])
			j++;
		reverse(&v[i], ++j - i);
		return j;
	}
	while (j < n && v[j] < v[j - 1])
		j++;
	return j;
}

/* Merge the descending runs v[0..na) and v[na..na + nb), through tmp. */
static void merge_desc(aspace_hpa_t *v, size_t na, size_t nb, aspace_hpa_t *tmp)
{
	size_t i = 0, j = na, k = 0;

	memcpy(tmp, v, na * sizeof(*v));
	while (i < na && j < na + nb)
		v[k++] = tmp[i] > v[j] ? tmp[i++] : v[j++];
	while (i < na)
		v[k++] = tmp[i++];
}

/*
 * Sort descending (n <= MAG_FRAMES + 1): a natural merge sort, since frees
 * come in runs (an unmap frees in GPA order, which was allocation order),
 * and then a pass or two is all it takes.
 */
static void sort_desc(aspace_hpa_t *v, size_t n)
{
	aspace_hpa_t tmp[MAG_FRAMES + 1];
	size_t i, m = n, e;

	do {
		for (i = 0; i < n; i = e) {
			m = run_end(v, i, n);
			if (m == n)
				break;
			e = run_end(v, m, n);
			merge_desc(&v[i], m - i, e - m, tmp);
		}
	} while (i > 0 || m < n);
}

/* Frames v[0..n) (1 <= n <= MAG_FRAMES + 1), sorted, to the depot. */
static void depot_put(aspace_hpa_t *v, unsigned n)
{
	struct magazine *m;

	sort_desc(v, n);
	m = (void *)(uintptr_t)v[n - 1];
	m->n = n - 1;
	memcpy(m->f, v, m->n * sizeof(*v));
	pthread_mutex_lock(&depot.lock);
	m->next = depot.full;
	depot.full = m;
	pthread_mutex_unlock(&depot.lock);
}

static struct magazine *depot_get(void)
{
	struct magazine *m;

	pthread_mutex_lock(&depot.lock);
	m = depot.full;
	if (m)
		depot.full = m->next;
	pthread_mutex_unlock(&depot.lock);
	return m;
}

/* Thread exit: whatever the thread holds goes to the depot. */
static void local_exit(void *arg)
{
	struct local *l = arg;

	/* A later call on this thread registers (and comes here) again. */
	l->registered = false;
	if (l->nfreed)
		depot_put(l->freed, l->nfreed);
	l->nfreed = 0;
	do {
		while (l->n < MAG_FRAMES + 1 && l->carve < l->carve_end) {
			l->f[l->n++] = l->carve;
			l->carve += FRAME;
		}
		if (l->n)
			depot_put(l->f, l->n);
		l->n = 0;
	} while (l->carve < l->carve_end);
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
	if (!l->registered)
		local_exit(l);
}

/*
 * Restock the empty stack: from the current chunk, a magazine from the
 * depot, this thread's own frees, or a new chunk, in that order.
 */
static int local_refill(struct local *l)
{
	struct magazine *m;
	unsigned take;

	if (l->carve == l->carve_end) {
		m = depot_get();
		if (m) {
			memcpy(l->f, m->f, m->n * sizeof(m->f[0]));
			l->n = m->n;
			l->f[l->n++] = (uintptr_t)m;
			return 0;
		}
		if (l->nfreed) {
			sort_desc(l->freed, l->nfreed);
			memcpy(l->f, l->freed, l->nfreed * sizeof(l->f[0]));
			l->n = l->nfreed;
			l->nfreed = 0;
			return 0;
		}
		m = mallocx(CHUNK, MALLOCX_ALIGN(CHUNK) | l->arena_flags);
		if (!m)
			return -ENOMEM;
		l->carve = (uintptr_t)m;
		l->carve_end = l->carve + CHUNK;
	}
	take = (unsigned)((l->carve_end - l->carve) / FRAME);
	if (take > MAG_FRAMES + 1)
		take = MAG_FRAMES + 1;
	l->n = take;
	for (unsigned i = 0; i < take; i++)
		l->f[i] = l->carve + (uint64_t)(take - 1 - i) * FRAME;
	l->carve += (uint64_t)take * FRAME;
	return 0;
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
		if (!l->n && local_refill(l))
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
	if (l->nfreed == MAG_FRAMES + 1) {
		depot_put(l->freed, l->nfreed);
		l->nfreed = 0;
	}
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
