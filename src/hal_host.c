/* SPDX-License-Identifier: MIT */
/*
 * The built-in host HAL: frames from jemalloc, aligned to their size, with
 * host-physical address == host virtual address (a user-space stand-in for
 * a hypervisor's frame allocator; benchmarks and tests use it).
 */
#include <errno.h>
#include <jemalloc/jemalloc.h>

#include <aspace/aspace.h>

static int host_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	void *p = mallocx(size, MALLOCX_ALIGN(size));

	if (!p)
		return -ENOMEM;
	*hpa = (uintptr_t)p;
	return 0;
}

static void host_free(void *ctx, aspace_hpa_t hpa, size_t size)
{
	sdallocx((void *)(uintptr_t)hpa, size, MALLOCX_ALIGN(size));
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
};

const struct aspace_hal *aspace_host_hal(void)
{
	return &host_hal;
}
