/* SPDX-License-Identifier: MIT */
/*
 * Frames: per-vCPU caches, control-path reservations, deferred frees.
 *
 * A vCPU fault must not take a shared lock, so each vCPU keeps a magazine
 * of 4 KiB frames (and a couple of 2 MiB ones) that it refills and drains
 * in batches through the HAL. The fault path tops the cache up before it
 * walks, so the walk never calls the allocator.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "internal.h"

/*
 * Out of line, so that the compiler does not expand a constant-size memset
 * in place: table pages, and data frames by default, are zeroed by libc's
 * memset, as the fault benchmark's floor zeroes them.
 */
void frame_zero(struct aspace *as, aspace_hpa_t hpa, size_t size)
{
	memset(pt_va(as, hpa), 0, size);
}

/*
 * Zero with non-temporal stores: whole lines go to memory without being
 * read first (no read for ownership). The fence orders them before the
 * release that publishes the frame: streaming stores are weakly ordered.
 */
static void zero_stream(void *p, size_t size)
{
#if defined(__x86_64__)
	const __m128i z = _mm_setzero_si128();
	__m128i *q = p;

	for (size_t i = 0; i < size / sizeof(*q); i += 4) {
		_mm_stream_si128(&q[i], z);
		_mm_stream_si128(&q[i + 1], z);
		_mm_stream_si128(&q[i + 2], z);
		_mm_stream_si128(&q[i + 3], z);
	}
	_mm_sfence();
#else
	memset(p, 0, size);
#endif
}

/* A data frame, zeroed as the address space's aspace_zero mode says. */
void data_zero(struct aspace *as, aspace_hpa_t hpa, size_t size)
{
	if (size >= as->stream_from)
		zero_stream(pt_va(as, hpa), size);
	else
		frame_zero(as, hpa, size);
}

void cache_init(struct frame_cache *c, unsigned batch)
{
	memset(c, 0, sizeof(*c));
	c->batch = MIN(MAX(batch, 1u), CACHE_4K_MAX / 2);
}

/*
 * Up to n frames of one size onto the stack v (popped from the end), in
 * one HAL call where it can. The frame the HAL handed out first goes on
 * top: allocators hand frames out in address order, and zeroing pages in
 * ascending order is much faster than in descending order.
 */
static size_t hal_alloc_n(struct aspace *as, size_t size, aspace_hpa_t *v,
			  size_t n)
{
	size_t got = 0;

	if (as->hal.alloc_batch) {
		while (got < n) {
			unsigned ask = (unsigned)MIN(n - got, UINT_MAX);
			int r = as->hal.alloc_batch(as->hal.ctx, size, &v[got],
						    ask);

			if (r <= 0)
				break;
			got += MIN((unsigned)r, ask);
			if ((unsigned)r < ask)
				break;
		}
	} else {
		while (got < n && !as->hal.alloc(as->hal.ctx, size, &v[got]))
			got++;
	}
	for (size_t i = 0; i < got / 2; i++) {
		aspace_hpa_t t = v[i];

		v[i] = v[got - 1 - i];
		v[got - 1 - i] = t;
	}
	return got;
}

/*
 * cache_topup's slow path: fewer than need frames at hand. Take a whole
 * batch (more if need asks for it), so that the HAL is called once per
 * batch faults. Frames a short HAL did hand out stay in the cache.
 */
int cache_refill(struct aspace *as, struct frame_cache *c, unsigned need)
{
	unsigned want = MIN(MAX(need, c->n4k + c->batch), CACHE_4K_MAX);

	cache_set_n(&c->n4k, c->n4k + (unsigned)hal_alloc_n(
					      as, ASPACE_PAGE_SIZE,
					      &c->f4k[c->n4k], want - c->n4k));
	return c->n4k >= need ? 0 : -ENOMEM;
}

/* Give frames back to the HAL until at most keep are left (2 MiB: 0). */
void cache_drain(struct aspace *as, struct frame_cache *c, unsigned keep)
{
	while (c->n4k > keep) {
		cache_set_n(&c->n4k, c->n4k - 1);
		as->hal.free(as->hal.ctx, c->f4k[c->n4k], ASPACE_PAGE_SIZE);
	}
	while (c->n2m > 0 && keep == 0) {
		cache_set_n(&c->n2m, c->n2m - 1);
		as->hal.free(as->hal.ctx, c->f2m[c->n2m], ASPACE_BLOCK_2M);
	}
}

void cache_push(struct aspace *as, struct frame_cache *c, aspace_hpa_t hpa)
{
	if (c->n4k == CACHE_4K_MAX)
		cache_drain(as, c, CACHE_4K_MAX - c->batch);
	c->f4k[c->n4k] = hpa;
	cache_set_n(&c->n4k, c->n4k + 1);
}

/* A 2 MiB frame from the cache; -ENOBUFS when it has none. */
int cache_pop_2m(struct frame_cache *c, aspace_hpa_t *hpa)
{
	if (!c->n2m)
		return -ENOBUFS;
	cache_set_n(&c->n2m, c->n2m - 1);
	*hpa = c->f2m[c->n2m];
	return 0;
}

/* One more 2 MiB frame from the HAL (outside any read section). */
int cache_refill_2m(struct aspace *as, struct frame_cache *c)
{
	aspace_hpa_t hpa;

	if (c->n2m == CACHE_2M_MAX)
		return 0;
	if (as->hal.alloc(as->hal.ctx, ASPACE_BLOCK_2M, &hpa))
		return -ENOMEM;
	c->f2m[c->n2m] = hpa;
	cache_set_n(&c->n2m, c->n2m + 1);
	return 0;
}

void cache_push_2m(struct aspace *as, struct frame_cache *c, aspace_hpa_t hpa)
{
	if (c->n2m == CACHE_2M_MAX) {
		as->hal.free(as->hal.ctx, hpa, ASPACE_BLOCK_2M);
	} else {
		c->f2m[c->n2m] = hpa;
		cache_set_n(&c->n2m, c->n2m + 1);
	}
}

/* Reserve n frames of one size for a control operation, all or nothing. */
int stack_reserve(struct aspace *as, struct frame_stack *s, size_t n,
		  size_t size)
{
	if (n > s->cap) {
		aspace_hpa_t *v = realloc(s->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = n;
	}
	if (s->n < n)
		s->n += hal_alloc_n(as, size, &s->v[s->n], n - s->n);
	if (s->n < n) {
		stack_release(as, s, size);
		return -ENOMEM;
	}
	return 0;
}

/* Return what a reservation did not use, and its array. */
void stack_release(struct aspace *as, struct frame_stack *s, size_t size)
{
	while (s->n)
		as->hal.free(as->hal.ctx, s->v[--s->n], size);
	free(s->v);
	s->v = NULL;
	s->cap = 0;
}

/* ---- frees after flush and grace period (invariant I5) ---- */

#define FREE_CHUNK_N 255
struct free_chunk {
	struct free_chunk *next;
	unsigned n;
	struct {
		aspace_hpa_t hpa;
		uint64_t size;
	} v[FREE_CHUNK_N];
};

/*
 * Flush, wait for readers, then return the frames. The wait is synchronous
 * rather than call_rcu: control-path callers may be any thread, and
 * liburcu wants call_rcu callers registered (and online, for QSBR). It
 * also means memory is back in the HAL when unmap returns.
 */
static void free_chunks(struct aspace *as, struct free_list *fl)
{
	struct free_chunk *c = fl->head;

	while (c) {
		struct free_chunk *next = c->next;

		for (unsigned i = 0; i < c->n; i++)
			as->hal.free(as->hal.ctx, c->v[i].hpa, c->v[i].size);
		free(c);
		c = next;
	}
	fl->head = NULL;
	fl->n = 0;
}

void free_list_commit(struct pt_op *op)
{
	flush_run(op->as, &op->flush);
	if (!op->freed.head)
		return;
	as_grace_period(op->as);
	free_chunks(op->as, &op->freed);
}

/*
 * Queue a frame whose entries are already cleared. If no memory is left
 * to queue it, commit what is queued now (flush, grace period, free) and
 * free this frame with it.
 */
void free_list_add(struct pt_op *op, aspace_hpa_t hpa, uint64_t size)
{
	struct free_chunk *c = op->freed.head;

	if (!c || c->n == FREE_CHUNK_N) {
		c = malloc(sizeof(*c));
		if (!c) {
			struct aspace *as = op->as;

			flush_run(as, &op->flush);
			as_grace_period(as);
			free_chunks(as, &op->freed);
			as->hal.free(as->hal.ctx, hpa, size);
			return;
		}
		c->n = 0;
		c->next = op->freed.head;
		op->freed.head = c;
	}
	c->v[c->n].hpa = hpa;
	c->v[c->n].size = size;
	c->n++;
	op->freed.n++;
}

/* ---- hpa -> count maps (open addressing, backward-shift delete) ---- */

/* Stored keys carry bit 63 (above any HPA), so that 0 can mean empty. */
#define MAP_TAG (1ull << 63)

static size_t map_slot(const struct hpa_map *m, aspace_hpa_t hpa)
{
	hpa |= MAP_TAG;
	size_t i = (size_t)((hpa >> 12) * 0x9e3779b97f4a7c15ull) & (m->cap - 1);

	while (m->v[i].hpa && m->v[i].hpa != hpa)
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* Room for more entries, so that hpa_map_set cannot fail later. */
int hpa_map_reserve(struct hpa_map *m, size_t more)
{
	struct hpa_map bigger;

	if ((m->n + more) * 2 <= m->cap)
		return 0;
	bigger.cap = m->cap ? m->cap : 16;
	while ((m->n + more) * 2 > bigger.cap)
		bigger.cap *= 2;
	bigger.v = calloc(bigger.cap, sizeof(*bigger.v));
	if (!bigger.v)
		return -ENOMEM;
	bigger.n = 0;
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].hpa)
			hpa_map_set(&bigger, m->v[i].hpa, m->v[i].count);
	free(m->v);
	*m = bigger;
	return 0;
}

uint32_t hpa_map_get(const struct hpa_map *m, aspace_hpa_t hpa)
{
	hpa |= MAP_TAG;
	return m->cap ? m->v[map_slot(m, hpa)].count : 0;
}

/* Set (count > 0, room reserved) or delete (count == 0). */
void hpa_map_set(struct hpa_map *m, aspace_hpa_t hpa, uint32_t count)
{
	size_t i, j;

	hpa |= MAP_TAG;
	if (count) {
		i = map_slot(m, hpa);
		m->n += !m->v[i].hpa;
		m->v[i].hpa = hpa;
		m->v[i].count = count;
		return;
	}
	if (!m->cap || !m->v[i = map_slot(m, hpa)].hpa)
		return;
	m->v[i].hpa = 0;
	m->v[i].count = 0;
	m->n--;
	/* Re-insert the rest of the cluster so probe chains stay intact. */
	for (j = (i + 1) & (m->cap - 1); m->v[j].hpa;
	     j = (j + 1) & (m->cap - 1)) {
		struct hpa_count e = m->v[j];

		m->v[j].hpa = 0;
		m->v[j].count = 0;
		m->n--;
		hpa_map_set(m, e.hpa, e.count);
	}
}
