/* SPDX-License-Identifier: MIT */
/*
 * Regression test (found by the stress test): aspace_clear returns every
 * frame to the HAL. After a control-path fault (which fills the control
 * path's frame cache), aspace_clear + aspace_barrier must leave the HAL
 * holding what a new address space holds, and stats.cache_frames ("frames
 * sitting in vCPU caches") must be 0 with no vCPU attached.
 */
#include <aspace/aspace.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_long outstanding;
static const struct aspace_hal *host;

static int count_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	int r = host->alloc(host->ctx, size, hpa);

	(void)ctx;
	if (!r)
		atomic_fetch_add(&outstanding, (long)size);
	return r;
}

static void count_free(void *ctx, aspace_hpa_t hpa, size_t size)
{
	(void)ctx;
	atomic_fetch_sub(&outstanding, (long)size);
	host->free(host->ctx, hpa, size);
}

static void *p2v(void *ctx, aspace_hpa_t hpa)
{
	(void)ctx;
	return host->phys_to_virt(host->ctx, hpa);
}

int main(void)
{
	struct aspace_hal hal;
	struct aspace_config cfg = {
		.format = ASPACE_FMT_EPT4, .size = 1ull << 30, .hal = &hal};
	struct aspace_stats st;
	struct aspace *as;
	long fresh, cleared;

	host = aspace_host_hal();
	hal = *host;
	hal.alloc = count_alloc;
	hal.free = count_free;
	hal.alloc_batch = NULL; /* else batches bypass count_alloc */
	hal.phys_to_virt = p2v;
	hal.direct_map = false;
	if (aspace_create(&cfg, &as))
		return 99;
	fresh = atomic_load(&outstanding);
	if (aspace_map_alloc(as, 0x10000, 0x4000, ASPACE_READ, false) ||
	    aspace_handle_fault(as, 0x10000, ASPACE_READ))
		return 99;
	aspace_clear(as);
	aspace_barrier(as);
	aspace_stats(as, &st);
	cleared = atomic_load(&outstanding);
	aspace_destroy(as);
	if (cleared == fresh && st.cache_frames == 0 &&
	    atomic_load(&outstanding) == 0)
		return 0;
	fprintf(stderr,
		"FAIL: a new address space holds %ld bytes; after map, "
		"fault, clear and barrier %ld; stats.cache_frames %" PRIu64
		"; after destroy %ld\n",
		fresh, cleared, st.cache_frames, atomic_load(&outstanding));
	return 1;
}
