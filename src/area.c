/* SPDX-License-Identifier: MIT */
/*
 * The area set: a sorted array of immutable areas, published with release
 * and read under RCU. Writers build a new array (or append in place) under
 * as->lock; lookups are a binary search, cached per vCPU.
 */
#include <stdlib.h>

#include "internal.h"

static size_t set_count(const struct area_set *set)
{
	return __atomic_load_n(&set->n, __ATOMIC_ACQUIRE);
}

/* Index of the last area starting at or before gpa, or -1. */
static long area_floor(const struct area_set *set, aspace_gpa_t gpa)
{
	long lo = 0, hi = (long)set_count(set) - 1, found = -1;

	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;

		if (set->v[mid]->start <= gpa) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

const struct area *area_find(const struct area_set *set, aspace_gpa_t gpa)
{
	long i = area_floor(set, gpa);

	if (i >= 0 && gpa < set->v[i]->end)
		return set->v[i];
	return NULL;
}

const struct area *area_next(const struct area_set *set, aspace_gpa_t gpa)
{
	long i = area_floor(set, gpa);

	if (i >= 0 && gpa < set->v[i]->end)
		return set->v[i];
	if ((size_t)(i + 1) < set_count(set))
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

struct area_set *area_set_new(size_t cap, uint64_t gen)
{
	struct area_set *set =
		malloc(sizeof(*set) + MAX(cap, 1) * sizeof(set->v[0]));

	if (set) {
		set->gen = gen;
		set->n = 0;
		set->cap = MAX(cap, 1);
	}
	return set;
}
