/* SPDX-License-Identifier: MIT */
/*
 * A counting host HAL for the stress test.
 *
 * Frames come from one arena and hpa = MEM_PHYS_BASE + offset, so a library
 * that used an hpa as a pointer would crash at once. Frames are handed out
 * dirty, so a frame the library forgot to zero shows up as poison in guest
 * reads. The state of every arena page is kept (free, or the size of the
 * frame holding it) to catch double frees, frees of the wrong size, and
 * phys_to_virt of freed frames; under ASan freed frames are also poisoned
 * so that any access to them is reported. Outstanding bytes are counted so
 * that leaks show, and a bound on them is enforced during runs.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRESS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define STRESS_ASAN 1
#endif
#ifdef STRESS_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MEM_TOTAL (MEM_ARENA_OFF + MEM_ARENA_SIZE)
#define ARENA_PAGES (MEM_ARENA_SIZE / PAGE)
#define POISON_BYTE 0xcb

/* Frame sizes are carved from separate classes to limit alignment waste. */
static const struct {
	int max_order;
	uint64_t start, end;
} classes[] = {
	{8, 0, 8 * SZ_1G},	      /* 4 KiB .. 1 MiB */
	{17, 8 * SZ_1G, 32 * SZ_1G},  /* 2 MiB .. 512 MiB */
	{18, 32 * SZ_1G, 56 * SZ_1G}, /* 1 GiB */
};

static struct {
	uint8_t *va;
	pthread_mutex_t lock;
	uint64_t bump[3];
	uint64_t *stack[HAL_ORDERS];
	size_t depth[HAL_ORDERS], cap[HAL_ORDERS];
	_Atomic uint8_t *pages;
	struct hal_counts c;
	uint64_t bound;
	bool bound_reported;
	_Atomic uint64_t win_base, win_size;
	atomic_uint_fast64_t flushes;
	struct aspace_hal direct, indirect;
} H = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int size_order(size_t size)
{
	for (int order = 0; order < HAL_ORDERS; order++)
		if (size == (PAGE << order))
			return order;
	return -1;
}

static uint64_t pattern(uint64_t off)
{
	return (off | 1) * 0x9e3779b97f4a7c15ull;
}

static void fill_pattern(uint8_t *p, uint64_t len, uint64_t off)
{
	uint64_t *w = (uint64_t *)p;

	for (uint64_t i = 0; i < len / 8; i++)
		w[i] = pattern(off + 8 * i);
}

static int class_of(int order)
{
	int i = 0;

	while (order > classes[i].max_order)
		i++;
	return i;
}

static int bump_alloc(int order, uint64_t *off)
{
	int cl = class_of(order);
	uint64_t size = PAGE << order;
	uint64_t at = (H.bump[cl] + size - 1) & ~(size - 1);

	if (at + size > classes[cl].end)
		return -ENOMEM;
	H.bump[cl] = at + size;
	*off = at;
	return 0;
}

static void push_free(int order, uint64_t off)
{
	if (H.depth[order] == H.cap[order]) {
		size_t cap = H.cap[order] ? 2 * H.cap[order] : 256;
		uint64_t *s = realloc(H.stack[order], cap * sizeof(*s));

		if (!s)
			stress_fatal("out of memory for the HAL free list");
		H.stack[order] = s;
		H.cap[order] = cap;
	}
	H.stack[order][H.depth[order]++] = off;
}

static void mark_pages(uint64_t off, int order, uint8_t state)
{
	uint64_t first = off / PAGE, n = 1ull << order;

	for (uint64_t i = 0; i < n; i++)
		atomic_store_explicit(&H.pages[first + i], state,
				      memory_order_relaxed);
}

/* Dirty the frame: the library must not rely on zeroed frames. */
static void poison_frame(uint8_t *p, uint64_t size)
{
	if (size <= SZ_2M) {
		memset(p, POISON_BYTE, size);
		return;
	}
	for (uint64_t off = 0; off < size; off += PAGE)
		memset(p + off, POISON_BYTE, 64);
}

static void count_alloc(int order)
{
	uint64_t size = PAGE << order;

	H.c.bytes += size;
	H.c.frames++;
	H.c.allocs++;
	H.c.by_order[order]++;
	if (H.c.bytes > H.c.peak_bytes)
		H.c.peak_bytes = H.c.bytes;
	if (H.bound && H.c.bytes > H.bound && !H.bound_reported) {
		H.bound_reported = true;
		stress_violation("HAL: %" PRIu64 " MiB of frames outstanding, "
				 "more than the bound of %" PRIu64
				 " MiB (leak?)",
				 H.c.bytes >> 20, H.bound >> 20);
	}
}

/* A vCPU calls no HAL inside its read section (memb: checkable). */
static void check_not_in_read_section(const char *call, size_t size)
{
	if (urcu_memb_read_ongoing())
		stress_violation("HAL %s of %#zx bytes inside an RCU read "
				 "section",
				 call, size);
}

static int hal_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	int order = size_order(size);
	uint64_t off;
	uint8_t *p;

	(void)ctx;
	check_not_in_read_section("alloc", size);
	if (order < 0) {
		stress_violation("HAL alloc of %#zx bytes: not a power of two "
				 "from 4 KiB to 1 GiB",
				 size);
		return -EINVAL;
	}
	pthread_mutex_lock(&H.lock);
	if (H.depth[order]) {
		off = H.stack[order][--H.depth[order]];
	} else if (bump_alloc(order, &off)) {
		pthread_mutex_unlock(&H.lock);
		stress_violation("HAL arena exhausted allocating %#zx", size);
		return -ENOMEM;
	}
	mark_pages(off, order, (uint8_t)(order + 1));
	p = H.va + MEM_ARENA_OFF + off;
	UNPOISON(p, size);
	count_alloc(order);
	pthread_mutex_unlock(&H.lock);
	poison_frame(p, size);
	*hpa = MEM_PHYS_BASE + MEM_ARENA_OFF + off;
	return 0;
}

static bool free_valid(aspace_hpa_t hpa, size_t size, int order)
{
	uint64_t off = hpa - MEM_PHYS_BASE - MEM_ARENA_OFF;
	uint64_t last;

	if (order < 0 || !hal_in_arena(hpa) || (hpa & (size - 1))) {
		stress_violation("HAL free(%#" PRIx64 ", %#zx): not a frame "
				 "this HAL could have given",
				 hpa, size);
		return false;
	}
	last = off + size - PAGE;
	if (atomic_load_explicit(&H.pages[off / PAGE], memory_order_relaxed) !=
		    order + 1 ||
	    atomic_load_explicit(&H.pages[last / PAGE], memory_order_relaxed) !=
		    order + 1) {
		stress_violation("HAL free(%#" PRIx64 ", %#zx): frame is not "
				 "allocated with that size (state %d): double "
				 "free or wrong size",
				 hpa, size, hal_frame_state(hpa));
		return false;
	}
	return true;
}

static void hal_free(void *ctx, aspace_hpa_t hpa, size_t size)
{
	int order = size_order(size);
	uint64_t off = hpa - MEM_PHYS_BASE - MEM_ARENA_OFF;

	(void)ctx;
	check_not_in_read_section("free", size);
	pthread_mutex_lock(&H.lock);
	if (!free_valid(hpa, size, order)) {
		pthread_mutex_unlock(&H.lock);
		return;
	}
	mark_pages(off, order, 0);
	POISON(H.va + MEM_ARENA_OFF + off, size);
	push_free(order, off);
	H.c.bytes -= size;
	H.c.frames--;
	H.c.frees++;
	H.c.by_order[order]--;
	pthread_mutex_unlock(&H.lock);
}

/*
 * The library calls phys_to_virt while it walks, inside its RCU read
 * section. Stalling there now and then widens the windows in which a walk
 * holds an entry that a control operation is replacing, so that a frame
 * freed too early (or an entry installed too late) gets caught.
 */
static void stall_sometimes(void)
{
	static _Thread_local uint64_t rng;
	uint64_t roll;

	if (!rng)
		rng = (uintptr_t)&rng | 1;
	roll = rng_next(&rng) % 65536;
	if (roll < 16) {
		sched_yield();
	} else if (roll < 1024) {
		double until = now_seconds() + 2e-6;

		while (now_seconds() < until)
			;
	}
}

static void *hal_p2v(void *ctx, aspace_hpa_t hpa)
{
	(void)ctx;
	stall_sometimes();
	if (hpa < MEM_PHYS_BASE || hpa - MEM_PHYS_BASE >= MEM_TOTAL)
		stress_fatal("HAL phys_to_virt(%#" PRIx64 "): not host memory "
			     "this HAL knows",
			     hpa);
	if (hal_in_arena(hpa) && hal_frame_state(hpa) == 0)
		stress_violation("HAL phys_to_virt(%#" PRIx64 "): the frame "
				 "is free (use after free)",
				 hpa);
	return H.va + (hpa - MEM_PHYS_BASE);
}

static void hal_flush(void *ctx, aspace_gpa_t gpa, uint64_t size)
{
	uint64_t base = atomic_load(&H.win_base);
	uint64_t wsize = atomic_load(&H.win_size);

	(void)ctx;
	atomic_fetch_add_explicit(&H.flushes, 1, memory_order_relaxed);
	if (size == 0)
		return;
	/* flushing more than needed is allowed (a whole table's span) */
	if ((gpa | size) & (PAGE - 1) || gpa + size <= base ||
	    gpa >= base + wsize)
		stress_violation("HAL flush(%#" PRIx64 ", %#" PRIx64
				 "): misses the window [%#" PRIx64
				 ", +%#" PRIx64 ") or is unaligned",
				 gpa, size, base, wsize);
}

static void *map_fixed(uint8_t *at, uint64_t len, int flags, int fd)
{
	void *p =
		mmap(at, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * 2 MiB of a memfd, mapped again and again: 1 GiB-aligned "RAM". Each
 * chunk has its own memfd, so that slots never share host memory.
 */
static int setup_big(void)
{
	for (unsigned i = 0; i < MEM_BIG_CHUNKS; i++) {
		int fd = memfd_create("aspace-stress", MFD_CLOEXEC);
		uint8_t *chunk = H.va + MEM_BIG_OFF + i * SZ_1G;

		if (fd < 0 || ftruncate(fd, SZ_2M))
			return -errno;
		for (uint64_t off = 0; off < SZ_1G; off += SZ_2M)
			if (!map_fixed(chunk + off, SZ_2M, MAP_SHARED, fd))
				return -errno;
		close(fd);
		fill_pattern(chunk, SZ_2M, i * SZ_1G);
	}
	return 0;
}

static int setup_small(void)
{
	uint64_t len = MEM_SMALL_CHUNKS * MEM_SMALL_STRIDE;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

	if (!map_fixed(H.va + MEM_SMALL_OFF, len, flags, -1))
		return -errno;
	fill_pattern(H.va + MEM_SMALL_OFF, len, MEM_SMALL_OFF);
	return 0;
}

static int setup_arena(void)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *pages;

	if (!map_fixed(H.va + MEM_ARENA_OFF, MEM_ARENA_SIZE, flags, -1))
		return -errno;
	pages = mmap(NULL, ARENA_PAGES, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (pages == MAP_FAILED)
		return -errno;
	H.pages = pages;
	for (int i = 0; i < 3; i++)
		H.bump[i] = classes[i].start;
	return 0;
}

static void setup_hals(void)
{
	struct aspace_hal hal = {
		.alloc = hal_alloc,
		.free = hal_free,
		.phys_to_virt = hal_p2v,
		.flush = hal_flush,
	};

	H.indirect = hal;
	H.direct = hal;
	H.direct.direct_map = true;
	H.direct.direct_map_offset = (uintptr_t)H.va - MEM_PHYS_BASE;
}

int hal_setup(void)
{
	uint64_t len = MEM_TOTAL + SZ_1G;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *raw = mmap(NULL, len, PROT_NONE, flags, -1, 0);
	int err;

	if (raw == MAP_FAILED)
		return -errno;
	H.va = (uint8_t *)(((uintptr_t)raw + SZ_1G - 1) & ~(SZ_1G - 1));
	err = setup_big();
	if (!err)
		err = setup_small();
	if (!err)
		err = setup_arena();
	if (!err)
		setup_hals();
	return err;
}

const struct aspace_hal *hal_get(bool direct_map)
{
	return direct_map ? &H.direct : &H.indirect;
}

void hal_counts(struct hal_counts *out)
{
	pthread_mutex_lock(&H.lock);
	*out = H.c;
	pthread_mutex_unlock(&H.lock);
	out->flushes = atomic_load(&H.flushes);
}

void hal_reset_peak(void)
{
	pthread_mutex_lock(&H.lock);
	H.c.peak_bytes = H.c.bytes;
	pthread_mutex_unlock(&H.lock);
}

void hal_set_window(uint64_t base, uint64_t size)
{
	atomic_store(&H.win_base, base);
	atomic_store(&H.win_size, size);
}

void hal_set_bound(uint64_t bytes)
{
	pthread_mutex_lock(&H.lock);
	H.bound = bytes;
	H.bound_reported = false;
	pthread_mutex_unlock(&H.lock);
}

uint64_t hal_big_hpa(unsigned chunk)
{
	return MEM_PHYS_BASE + MEM_BIG_OFF + chunk * SZ_1G;
}

uint64_t hal_small_hpa(unsigned chunk)
{
	return MEM_PHYS_BASE + MEM_SMALL_OFF + chunk * MEM_SMALL_STRIDE;
}

void *hal_va(uint64_t hpa)
{
	return H.va + (hpa - MEM_PHYS_BASE);
}

bool hal_in_arena(uint64_t hpa)
{
	uint64_t start = MEM_PHYS_BASE + MEM_ARENA_OFF;

	return hpa >= start && hpa - start < MEM_ARENA_SIZE;
}

int hal_frame_state(uint64_t hpa)
{
	uint64_t page = (hpa - MEM_PHYS_BASE - MEM_ARENA_OFF) / PAGE;

	if (!hal_in_arena(hpa))
		return -1;
	return atomic_load_explicit(&H.pages[page], memory_order_relaxed);
}
