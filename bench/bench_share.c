// SPDX-License-Identifier: MIT
/*
 * Copy-on-write and queries (issue #6):
 *  - clone of a populated 1 GiB alloc area, per page (2 MiB frames, and a
 *    platform with 4 KiB leaves only);
 *  - a copy-on-write break fault (copy a shared 4 KiB frame) beside a plain
 *    lazy 4 KiB fault (zero a fresh frame), same shapes, same run;
 *  - a range query over 1 GiB of mixed leaves (1 GiB, 2 MiB, 4 KiB, gaps).
 */
#include "bench_util.h"

#include <stdlib.h>

#define SHARE_GPA (64 * GiB)
#define COW_AREA (64 * MiB)

static const struct bench_format *ept4(void)
{
	return bench_format_by_name("EPT4");
}

static void bm_clone(gb_state *st, void *arg)
{
	bool small = arg != NULL;
	struct aspace *as, *c;
	uint64_t pages = GiB / ASPACE_PAGE_SIZE;

	if (bench_create(ept4(), small, &as) ||
	    aspace_map_alloc(as, SHARE_GPA, GiB, ASPACE_READ | ASPACE_WRITE,
			     true)) {
		gb_skip_with_error(st, "setup failed");
		return;
	}
	while (gb_keep_running(st)) {
		if (aspace_clone(as, &c)) {
			gb_skip_with_error(st, "clone failed");
			break;
		}
		gb_pause(st);
		aspace_destroy(c);
		gb_resume(st);
	}
	gb_set_items_processed(st, (int64_t)(gb_iterations(st) * pages));
	/* items/s: pages cloned per second (ns per page = 1e9 / it). */
	aspace_destroy(as);
}

/*
 * cow: write faults on pages shared with a clone (each copies a frame);
 * else: lazy write faults on a fresh area (each zeroes a frame). When the
 * area is used up, it is rebuilt with the clock stopped.
 */
static void bm_cow(gb_state *st, void *arg)
{
	bool cow = arg != NULL;
	uint64_t npages = COW_AREA / ASPACE_PAGE_SIZE, i = npages;
	struct aspace *as, *c = NULL;
	struct aspace_vcpu *v;

	if (bench_create(ept4(), true, &as)) {
		gb_skip_with_error(st, "setup failed");
		return;
	}
	v = aspace_vcpu_attach(as);
	while (gb_keep_running(st)) {
		if (i == npages) {
			gb_pause(st);
			if (c)
				aspace_destroy(c);
			aspace_unmap(as, SHARE_GPA, COW_AREA);
			aspace_map_alloc(as, SHARE_GPA, COW_AREA,
					 ASPACE_READ | ASPACE_WRITE, cow);
			c = NULL;
			if (cow && aspace_clone(as, &c))
				gb_skip_with_error(st, "clone failed");
			i = 0;
			gb_resume(st);
		}
		int r = aspace_vcpu_fault(v, SHARE_GPA + i++ * ASPACE_PAGE_SIZE,
					  ASPACE_WRITE);
		gb_keep_u64((uint64_t)r);
	}
	gb_set_items_processed(st, (int64_t)gb_iterations(st));
	aspace_vcpu_detach(v);
	if (c)
		aspace_destroy(c);
	aspace_destroy(as);
}

/* 1 GiB of mixed leaves: 1 GiB block, 2 MiB blocks, 4 KiB pages, gaps. */
static int query_layout(struct aspace *as)
{
	unsigned rw = ASPACE_READ | ASPACE_WRITE;
	int r = aspace_map_linear(as, SHARE_GPA, 8 * GiB, GiB / 2, rw);

	if (!r)
		r = aspace_map_linear(as, SHARE_GPA + GiB / 2,
				      9 * GiB + ASPACE_PAGE_SIZE, GiB / 4, rw);
	if (!r)
		r = aspace_map_alloc(as, SHARE_GPA + 3 * GiB / 4, GiB / 4, rw,
				     false);
	for (uint64_t p = 0; !r && p < GiB / 4; p += 3 * ASPACE_BLOCK_2M + 4096)
		r = aspace_handle_fault(as, SHARE_GPA + 3 * GiB / 4 + p,
					ASPACE_WRITE);
	return r;
}

static void bm_query(gb_state *st, void *arg)
{
	struct aspace *as;
	struct aspace_query q;
	struct aspace_run run;
	uint64_t runs = 0;

	if (bench_create(ept4(), false, &as) || query_layout(as)) {
		gb_skip_with_error(st, "setup failed");
		return;
	}
	while (gb_keep_running(st)) {
		aspace_query_begin(as, SHARE_GPA, GiB, &q);
		while (aspace_query_next(&q, &run))
			runs++;
	}
	gb_counter(st, "runs_per_query",
		   (double)runs /
			   (double)(gb_iterations(st) ? gb_iterations(st) : 1),
		   GB_COUNTER_PLAIN);
	aspace_destroy(as);
}

void bench_register_share(int reps)
{
	static int one = 1;
	gb_bench *b;

	b = gb_register("clone_1g_populated/EPT4/2m_frames", bm_clone, NULL);
	gb_unit(gb_use_real_time(b), GB_US);
	b = gb_register("clone_1g_populated/EPT4/4k_frames", bm_clone, &one);
	gb_unit(gb_use_real_time(b), GB_MS);
	b = gb_register("fault_write_4k/EPT4/cow_break", bm_cow, &one);
	gb_repetitions(b, reps);
	b = gb_register("fault_write_4k/EPT4/lazy", bm_cow, NULL);
	gb_repetitions(b, reps);
	b = gb_register("query_1g_mixed/EPT4", bm_query, NULL);
	gb_unit(b, GB_US);
}
