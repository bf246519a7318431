// SPDX-License-Identifier: MIT
/*
 * The control path: map_linear and unmap of 1 MiB .. 64 GiB, with 1 GiB
 * aligned host addresses (largest leaves) and 4 KiB aligned ones (4 KiB
 * leaves only), and protect of ranges that split blocks. Each call is
 * timed alone (manual time), the call that undoes it runs off the clock.
 * The entries a call writes come from aspace_stats, so the ns per entry
 * that the summary prints is measured, not assumed.
 */
#include "bench_util.h"

#include <stdlib.h>

#define MAP_GPA (64 * GiB)
#define MAP_HPA (128 * GiB) /* never dereferenced: no memory behind it */
#define RW (ASPACE_READ | ASPACE_WRITE)

struct map_case {
	const struct bench_format *fmt;
	uint64_t size;
	bool aligned; /* HPA 1 GiB aligned; else 4 KiB aligned */
	bool unmap;   /* time the unmap instead of the map */
};

static uint64_t map_hpa(const struct map_case *c)
{
	return c->aligned ? MAP_HPA : MAP_HPA + ASPACE_PAGE_SIZE;
}

/* Leaves that one map of this case writes, measured once. */
static int probe_entries(struct aspace *as, const struct map_case *c,
			 uint64_t *entries)
{
	uint64_t before = bench_leaves(as);
	int rc = aspace_map_linear(as, MAP_GPA, map_hpa(c), c->size, RW);

	if (rc)
		return rc;
	*entries = bench_leaves(as) - before;
	return aspace_unmap(as, MAP_GPA, c->size);
}

static void bm_map(gb_state *st, void *arg)
{
	const struct map_case *c = arg;
	uint64_t entries = 0, n, hpa = map_hpa(c);
	struct aspace *as;
	int bad = 0;

	if (bench_failed(st, bench_create(c->fmt, false, &as), "create")) {
		bench_drain(st);
		return;
	}
	if (bench_failed(st, probe_entries(as, c, &entries), "map probe")) {
		bench_drain(st);
		aspace_destroy(as);
		return;
	}
	n = gb_max_iterations(st);
	while (gb_keep_running_batch(st, n))
		for (uint64_t i = 0; i < n; i++) {
			uint64_t t0, t1;

			if (c->unmap) {
				bad |= aspace_map_linear(as, MAP_GPA, hpa,
							 c->size, RW);
				t0 = bench_now_ns();
				bad |= aspace_unmap(as, MAP_GPA, c->size);
				t1 = bench_now_ns();
			} else {
				t0 = bench_now_ns();
				bad |= aspace_map_linear(as, MAP_GPA, hpa,
							 c->size, RW);
				t1 = bench_now_ns();
				bad |= aspace_unmap(as, MAP_GPA, c->size);
			}
			gb_set_iteration_time(st, (double)(t1 - t0) * 1e-9);
		}
	bench_failed(st, bad, c->unmap ? "unmap" : "map_linear");
	gb_counter(st, "entries", (double)entries, GB_COUNTER_PLAIN);
	gb_set_items_processed(st, (int64_t)(gb_iterations(st) * entries));
	aspace_destroy(as);
}

enum protect_kind { SPLIT_1G_TO_4K, SPLIT_EDGES, WHOLE_1G };

struct protect_case {
	const struct bench_format *fmt;
	enum protect_kind kind;
};

static void bm_protect(gb_state *st, void *arg)
{
	const struct protect_case *c = arg;
	uint64_t gpa = MAP_GPA, size = 1 * GiB, splits0, n;
	struct aspace_stats s;
	struct aspace *as;
	int bad = 0;

	if (c->kind == SPLIT_1G_TO_4K) {
		gpa = MAP_GPA + 512 * MiB + 64 * KiB;
		size = ASPACE_PAGE_SIZE;
	} else if (c->kind == SPLIT_EDGES) {
		gpa = MAP_GPA + ASPACE_PAGE_SIZE;
		size = 64 * MiB;
	}
	if (bench_failed(st, bench_create(c->fmt, false, &as), "create")) {
		bench_drain(st);
		return;
	}
	aspace_stats(as, &s);
	splits0 = s.splits;
	n = gb_max_iterations(st);
	while (gb_keep_running_batch(st, n))
		for (uint64_t i = 0; i < n; i++) {
			uint64_t t0, t1;

			bad |= aspace_map_linear(as, MAP_GPA, MAP_HPA, 1 * GiB,
						 RW);
			t0 = bench_now_ns();
			bad |= aspace_protect(as, gpa, size, ASPACE_READ);
			t1 = bench_now_ns();
			gb_set_iteration_time(st, (double)(t1 - t0) * 1e-9);
			bad |= aspace_unmap(as, MAP_GPA, 1 * GiB);
		}
	bench_failed(st, bad, "protect");
	aspace_stats(as, &s);
	if (gb_iterations(st))
		gb_counter(st, "splits",
			   (double)(s.splits - splits0) /
				   (double)gb_iterations(st),
			   GB_COUNTER_PLAIN);
	aspace_destroy(as);
}

static void register_map(const struct bench_format *fmt, uint64_t size,
			 bool aligned, bool unmap, int reps)
{
	struct map_case *c = malloc(sizeof(*c));
	gb_bench *b;

	if (!c)
		abort();
	*c = (struct map_case){fmt, size, aligned, unmap};
	b = bench_register(bm_map, c, "%s/%s/%s/MiB:%llu",
			   unmap ? "unmap" : "map_linear", fmt->name,
			   aligned ? "aligned" : "4k_hpa",
			   (unsigned long long)(size / MiB));
	gb_use_manual_time(gb_unit(b, GB_US));
	if (reps > 1)
		gb_display_aggregates_only(gb_repetitions(b, reps));
}

void bench_register_map(int reps)
{
	static const uint64_t aligned_sizes[] = {1 * MiB, 64 * MiB, 1 * GiB,
						 64 * GiB};
	static const uint64_t misaligned_sizes[] = {1 * MiB, 64 * MiB, 1 * GiB};
	static const char *const protect_names[] = {
		"split_1g_to_4k", "split_edges_64m", "whole_1g"};
	const struct bench_format *ept4 = bench_format_by_name("EPT4");

	for (int unmap = 0; unmap <= 1; unmap++) {
		for (unsigned i = 0; i < 4; i++)
			register_map(ept4, aligned_sizes[i], true, unmap,
				     !unmap && aligned_sizes[i] == 64 * GiB
					     ? reps
					     : 1);
		for (unsigned i = 0; i < 3; i++)
			register_map(ept4, misaligned_sizes[i], false, unmap,
				     !unmap && misaligned_sizes[i] == 1 * GiB
					     ? reps
					     : 1);
	}
	for (unsigned i = 0; i < bench_nformats; i++)
		if (&bench_formats[i] != ept4)
			register_map(&bench_formats[i], 1 * GiB, false, false,
				     1);
	for (int k = SPLIT_1G_TO_4K; k <= WHOLE_1G; k++) {
		struct protect_case *c = malloc(sizeof(*c));

		if (!c)
			abort();
		*c = (struct protect_case){ept4, k};
		gb_use_manual_time(
			gb_unit(bench_register(bm_protect, c, "protect/EPT4/%s",
					       protect_names[k]),
				GB_US));
	}
}
