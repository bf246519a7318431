// SPDX-License-Identifier: MIT
/*
 * Area-set lookup: vCPU translation at random GPAs spread over 10 to 100000
 * areas, so the cost of finding the area shows as the set grows. Each area
 * is 16 KiB with a 16 KiB hole after it, so no two areas touch.
 * translate: independent GPAs, which the CPU may overlap (throughput);
 * translate_chain: each GPA waits for the last result (latency).
 */
#include "bench_util.h"

#include <errno.h>
#include <stdlib.h>

#define AREAS_GPA (64 * GiB)
#define AREAS_HPA (64 * GiB) /* never dereferenced */
#define AREA_SIZE (16 * KiB)
#define AREA_STRIDE (32 * KiB)

/* Mapping 100000 areas takes a while: keep the last set for reruns. */
static struct {
	struct aspace *as;
	uint64_t nareas;
} cached;

static void areas_free(void)
{
	if (cached.as)
		aspace_destroy(cached.as);
	cached.as = NULL;
}

static struct aspace *areas_get(uint64_t nareas, int *rc)
{
	struct aspace *as;

	if (cached.as && cached.nareas == nareas)
		return cached.as;
	areas_free();
	*rc = bench_create(bench_format_by_name("EPT4"), false, &as);
	if (*rc)
		return NULL;
	for (uint64_t i = 0; i < nareas && !*rc; i++)
		*rc = aspace_map_linear(as, AREAS_GPA + i * AREA_STRIDE,
					AREAS_HPA + i * AREA_STRIDE, AREA_SIZE,
					ASPACE_READ | ASPACE_WRITE);
	if (*rc) {
		aspace_destroy(as);
		return NULL;
	}
	cached.as = as;
	cached.nareas = nareas;
	bench_at_end(areas_free);
	return as;
}

static void bm_areas(gb_state *st, void *arg)
{
	bool chain = arg != NULL;
	uint64_t nareas = (uint64_t)gb_range_arg(st, 0);
	uint64_t rng = bench_seed(0), acc = 0, dep = 0, n;
	struct aspace_vcpu *vcpu = NULL;
	struct aspace_xlate x;
	int rc = 0, bad = 0;
	struct aspace *as = areas_get(nareas, &rc);

	if (as && !(vcpu = aspace_vcpu_attach(as)))
		rc = -errno;
	if (bench_failed(st, rc, "areas set-up")) {
		bench_drain(st);
		return;
	}
	n = gb_max_iterations(st);
	while (gb_keep_running_batch(st, n))
		for (uint64_t i = 0; i < n; i++) {
			uint64_t r = bench_rand(&rng) + dep;
			uint64_t area =
				(uint64_t)(((unsigned __int128)r * nareas) >>
					   64);
			uint64_t start = AREAS_GPA + area * AREA_STRIDE;

			bad |= aspace_vcpu_translate(
				vcpu, start + (r & (AREA_SIZE - 1)), &x);
			acc += x.area_start;
			/* 0 when right, known only once translate is done */
			if (chain)
				dep = x.area_start - start;
		}
	gb_keep_u64(acc);
	bench_failed(st, bad, "translate");
	gb_set_items_processed(st, (int64_t)gb_iterations(st));
	aspace_vcpu_detach(vcpu);
}

void bench_register_areas(int reps)
{
	static bool chain = true;

	for (int c = 0; c < 2; c++) {
		gb_bench *b = bench_register(bm_areas, c ? &chain : NULL,
					     "areas/EPT4/translate%s",
					     c ? "_chain" : "");

		gb_arg_name(b, "areas");
		for (int64_t n = 10; n <= 100000; n *= 10)
			gb_arg(b, n);
	}
}
