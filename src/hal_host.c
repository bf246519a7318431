/* SPDX-License-Identifier: MIT */
/*
 * The built-in host HAL: frames from jemalloc, aligned to their size, with
 * host-physical address == host virtual address (a user-space stand-in for
 * a hypervisor's frame allocator; benchmarks and tests use it).
 *
 * Frames come from jemalloc arenas of their own, one per allocating
 * thread (vCPUs refill their caches concurrently: one shared arena
 * serialized them on its lock), whose freed pages are never purged
 * (dirty/muzzy decay off), so a frame recycled by a later fault is already
 * backed by memory: like a hypervisor's frame pool, and unlike memory
 * fresh from the kernel, whose first touch costs a host page fault
 * (microseconds) on every page. A frame may be freed by any thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <jemalloc/jemalloc.h>

#include <aspace/aspace.h>

static __thread int arena_flags;
static __thread bool arena_ready;

static void arena_init(void)
{
	unsigned ind;
	size_t len = sizeof(ind);
	ssize_t never = -1;
	char name[64];

	arena_ready = true;
	if (mallctl("arenas.create", &ind, &len, NULL, 0))
		return; /* the default arenas will do */
	snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", ind);
	mallctl(name, NULL, NULL, &never, sizeof(never));
	snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", ind);
	mallctl(name, NULL, NULL, &never, sizeof(never));
	arena_flags = MALLOCX_ARENA(ind);
}

static int host_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	void *p;

	if (!arena_ready)
		arena_init();
	p = mallocx(size, MALLOCX_ALIGN(size) | arena_flags);
	if (!p)
		return -ENOMEM;
	*hpa = (uintptr_t)p;
	return 0;
}

static void host_free(void *ctx, aspace_hpa_t hpa, size_t size)
{
	sdallocx((void *)(uintptr_t)hpa, size,
		 MALLOCX_ALIGN(size) | arena_flags);
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
