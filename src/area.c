/* SPDX-License-Identifier: MIT */
/*
 * The area set: a sorted array of immutable areas, published with release
 * and read under RCU. Writers build a new array (or append in place) under
 * as->lock; lookups search an index of the areas' starts, cached per vCPU.
 *
 * Why an index: a binary search over v[] loads v[mid], then v[mid]->start,
 * two dependent loads per step into areas spread over the heap, and half
 * its branches mispredict, each waiting for its load; with thousands of
 * areas nearly every step waits for a cache miss. So the starts are copied
 * into dense arrays beside v[], laid out as the levels of a B+ tree over
 * the sorted array: level 0 holds every start, level l every AREA_FANOUT-th
 * key of level l - 1, and each node of AREA_FANOUT keys (16: two cache
 * lines) starts a cache line. A lookup narrows to one node per level, and
 * within a node compares three keys at a time, twice: no branch depends on
 * a key, and the dependent loads are half a binary search's (translate is
 * bound by their latency, not by instructions). 100000 areas take five
 * nodes, the upper four (50 KiB) stay cached, and the lines of v[] that the
 * last node chooses between are fetched while it is searched. Sixteen keys
 * a node measured best: with eight, ten areas already take two levels,
 * each with its own overhead; with 32, a node spans four lines.
 *
 * Why sorted levels and not an Eytzinger or a balanced-tree order, which
 * can search faster still: the set allows one change in place, appending
 * an area that sorts last, and with sorted levels that writes one key per
 * level at most and moves none.
 *
 * Readers take n with acquire; the keys that n covers (level l: the first
 * level_size(n, l)) were written before n was published. A search reads
 * whole nodes, so it also reads the slots after those in the last node of
 * a level: they hold UINT64_MAX, or keys being appended, which are greater
 * than every key n covers. Such a slot counts as at or below gpa only when
 * all the covered keys are, and then the search ends past them and is
 * clamped to the last covered one, which is right; otherwise it counts as
 * UINT64_MAX would. Keys are loaded and stored as relaxed atomics, as those
 * slots may be written meanwhile; on the usual CPUs, plain moves.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static size_t set_count(const struct area_set *set)
{
	return __atomic_load_n(&set->n, __ATOMIC_ACQUIRE);
}

/* Keys in level l with n >= 1 areas. */
static inline size_t level_size(size_t n, unsigned l)
{
	return ((n - 1) >> (l * AREA_FANOUT_SHIFT)) + 1;
}

/* The top level for n >= 1 areas: the lowest with one node. */
static inline unsigned level_top(size_t n)
{
	return (63u - (unsigned)__builtin_clzll((n - 1) | 1)) /
	       AREA_FANOUT_SHIFT;
}

/* Slots of level l for cap areas: whole nodes, whole cache lines. */
static inline size_t level_slots(size_t cap, unsigned l)
{
	size_t unit = MAX(AREA_FANOUT, 64 / sizeof(uint64_t));

	return (level_size(cap, l) + unit - 1) & ~(unit - 1);
}

static inline uint64_t key_load(const uint64_t *k)
{
	return __atomic_load_n(k, __ATOMIC_RELAXED);
}

/* How many of k[i], k[i + step], k[i + 2 * step] are at or below gpa. */
static inline size_t count3(const uint64_t *k, size_t i, size_t step,
			    aspace_gpa_t gpa)
{
	return (size_t)(key_load(&k[i]) <= gpa) +
	       (size_t)(key_load(&k[i + step]) <= gpa) +
	       (size_t)(key_load(&k[i + 2 * step]) <= gpa);
}

/*
 * Index of the last key at or below gpa in the node that starts at
 * k[first], with k[first] <= gpa. Each step compares three keys at once
 * and keeps a quarter of the range: two steps for 16 keys, so the chain
 * of dependent loads is half as long as a binary search's. A fanout that
 * is not a power of four (tests use 2) ends with one binary step.
 */
static inline size_t node_floor(const uint64_t *k, size_t first,
				aspace_gpa_t gpa)
{
	size_t p = first;

	__builtin_prefetch(&k[first]);
	if (AREA_FANOUT > 8)
		__builtin_prefetch(&k[first + 8]);
#pragma GCC unroll 8
	for (size_t q = AREA_FANOUT / 4; q; q /= 4)
		p += q * count3(k, p + q, q, gpa);
	if (AREA_FANOUT_SHIFT & 1)
		p += key_load(&k[p + 1]) <= gpa;
	return p;
}

/* Index of the last of the first n areas starting at or before gpa, or -1. */
static inline __attribute__((always_inline)) long
area_floor(const struct area_set *set, size_t n, aspace_gpa_t gpa)
{
	unsigned l;
	size_t p = 0;

	if (!n)
		return -1;
	l = level_top(n);
	if (gpa < key_load(&set->key[l][0]))
		return -1;
	/* Below the top, a node's first key is its parent's: <= gpa. */
	for (;;) {
		p = node_floor(set->key[l], p * AREA_FANOUT, gpa);
		p = MIN(p, level_size(n, l) - 1);
		if (!l)
			return (long)p;
		if (!--l) {
			__builtin_prefetch(&set->v[p * AREA_FANOUT]);
			if (AREA_FANOUT > 8)
				__builtin_prefetch(
					&set->v[p * AREA_FANOUT + 8]);
		}
	}
}

const struct area *area_find(const struct area_set *set, aspace_gpa_t gpa)
{
	long i = area_floor(set, set_count(set), gpa);

	if (i >= 0 && gpa < set->v[i]->end)
		return set->v[i];
	return NULL;
}

const struct area *area_next(const struct area_set *set, aspace_gpa_t gpa)
{
	size_t n = set_count(set);
	long i = area_floor(set, n, gpa);

	if (i >= 0 && gpa < set->v[i]->end)
		return set->v[i];
	if ((size_t)(i + 1) < n)
		return set->v[i + 1];
	return NULL;
}

bool area_intersects(const struct area_set *set, aspace_gpa_t lo,
		     aspace_gpa_t hi)
{
	const struct area *a = area_next(set, lo);

	return a && a->start < hi;
}

struct area *area_new(aspace_gpa_t start, aspace_gpa_t end, aspace_hpa_t hpa,
		      unsigned flags, enum area_kind kind)
{
	struct area *a = malloc(sizeof(*a));

	if (a) {
		a->start = start;
		a->end = end;
		a->hpa = hpa;
		a->flags = flags;
		a->kind = kind;
	}
	return a;
}

/*
 * One allocation, so that free() releases it: the header, v[cap], then the
 * key levels, each starting a cache line, as does each node in them.
 */
struct area_set *area_set_new(size_t cap, uint64_t gen)
{
	size_t head, keys = 0;
	unsigned l, top;
	struct area_set *set;

	cap = MAX(cap, 1);
	if (cap > AREA_SET_MAX)
		return NULL;
	top = level_top(cap);
	for (l = 0; l <= top; l++)
		keys += level_slots(cap, l);
	head = sizeof(*set) + (cap * sizeof(set->v[0]) + 63) / 64 * 64;
	set = aligned_alloc(64, head + keys * sizeof(uint64_t));
	if (!set)
		return NULL;
	memset(set, 0, sizeof(*set));
	set->gen = gen;
	set->cap = cap;
	set->key[0] = (uint64_t *)((char *)set + head);
	for (l = 1; l <= top; l++)
		set->key[l] = set->key[l - 1] + level_slots(cap, l - 1);
	memset(set->key[0], 0xff, keys * sizeof(uint64_t));
	return set;
}

void area_set_push(struct area_set *set, struct area *a)
{
	size_t i = set->n, j = i;
	unsigned l = 0;

	set->v[i] = a;
	/* A key that starts a node is also the key of the node above. */
	do {
		__atomic_store_n(&set->key[l][j], a->start, __ATOMIC_RELAXED);
		if (j % AREA_FANOUT)
			break;
		j /= AREA_FANOUT;
	} while (++l < AREA_LEVELS && set->key[l]);
	__atomic_store_n(&set->n, i + 1, __ATOMIC_RELEASE);
}
