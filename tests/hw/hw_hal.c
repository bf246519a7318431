/* SPDX-License-Identifier: MIT */
/*
 * Lowest-address-first allocator of naturally aligned power-of-two blocks
 * over a bitmap. Lowest first keeps the dumped image short; checking every
 * free against the allocation it must match catches a library that frees
 * a frame twice, frees the wrong size or frees a frame it never got.
 */
#include "hw_hal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096ull
/*
 * Fresh and freed frames are filled with this byte: the HAL contract says
 * memory need not be zeroed, so a table the library forgot to clear shows
 * up as junk entries (0xa5..: present/reserved in every format), and so do
 * walks through freed tables.
 */
#define POISON 0xa5

static void note_error(struct hw_hal *h, const char *what, uint64_t hpa,
		       uint64_t size)
{
	if (!h->error[0])
		snprintf(h->error, sizeof(h->error),
			 "HAL misuse: %s hpa %#llx size %#llx", what,
			 (unsigned long long)hpa, (unsigned long long)size);
}

static bool range_free(const struct hw_hal *h, uint64_t first, uint64_t n)
{
	uint64_t i;

	if (n >= 64) {
		for (i = first / 64; i < (first + n) / 64; i++)
			if (h->used[i])
				return false;
		return true;
	}
	return !((h->used[first / 64] >> (first % 64)) & ((1ull << n) - 1));
}

static void range_mark(struct hw_hal *h, uint64_t first, uint64_t n, bool set)
{
	uint64_t i;

	for (i = first; i < first + n; i++) {
		if (set)
			h->used[i / 64] |= 1ull << (i % 64);
		else
			h->used[i / 64] &= ~(1ull << (i % 64));
	}
}

static int find_block(const struct hw_hal *h, uint64_t n, uint64_t *first)
{
	uint64_t total = h->size / PAGE, p;

	for (p = 0; p + n <= total; p += n) {
		/* Skip full words quickly for small blocks. */
		if (n < 64 && h->used[p / 64] == ~0ull) {
			p = (p / 64) * 64 + 64 - n;
			continue;
		}
		if (range_free(h, p, n)) {
			*first = p;
			return 0;
		}
	}
	return -ENOMEM;
}

static int hal_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	struct hw_hal *h = ctx;
	uint64_t n = size / PAGE, first;
	unsigned order = 0;
	int rc;

	if (size < PAGE || size > (1ull << 30) || (size & (size - 1))) {
		note_error(h, "alloc of a bad size", 0, size);
		return -EINVAL;
	}
	while ((1ull << order) < n)
		order++;
	pthread_mutex_lock(&h->lock);
	rc = find_block(h, n, &first);
	if (!rc) {
		range_mark(h, first, n, true);
		h->alloc_order[first] = (uint8_t)(order + 1);
		h->pages_used += n;
		h->allocs++;
		if (first + n > h->high_water)
			h->high_water = first + n;
		*hpa = h->base + first * PAGE;
		memset(h->mem + first * PAGE, POISON, n * PAGE);
	} else {
		h->failed_allocs++;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static void hal_free(void *ctx, aspace_hpa_t hpa, size_t size)
{
	struct hw_hal *h = ctx;
	uint64_t first = (hpa - h->base) / PAGE, n = size / PAGE;

	pthread_mutex_lock(&h->lock);
	if (hpa < h->base || hpa - h->base >= h->size || (hpa & (PAGE - 1))) {
		note_error(h, "free of a foreign address", hpa, size);
	} else if (!n || h->alloc_order[first] == 0 ||
		   (1ull << (h->alloc_order[first] - 1)) != n) {
		note_error(h, "free that matches no allocation", hpa, size);
	} else {
		h->alloc_order[first] = 0;
		range_mark(h, first, n, false);
		memset(h->mem + first * PAGE, POISON, n * PAGE);
		h->pages_used -= n;
		h->frees++;
	}
	pthread_mutex_unlock(&h->lock);
}

void *hw_hal_ptr(struct hw_hal *h, uint64_t hpa)
{
	if (hpa < h->base || hpa - h->base >= h->size)
		return NULL;
	return h->mem + (hpa - h->base);
}

static void *hal_phys_to_virt(void *ctx, aspace_hpa_t hpa)
{
	struct hw_hal *h = ctx;
	void *p = hw_hal_ptr(h, hpa);

	/*
	 * The driver never asks the library to touch linear-mapped memory, so
	 * a lookup outside the buffer is a library bug: report it loudly.
	 */
	if (!p) {
		fprintf(stderr,
			"hw_hal: phys_to_virt(%#llx) outside the HAL "
			"buffer\n",
			(unsigned long long)hpa);
		abort();
	}
	return p;
}

bool hw_hal_page_allocated(struct hw_hal *h, uint64_t hpa)
{
	uint64_t p = (hpa - h->base) / PAGE;
	bool used;

	if (hpa < h->base || hpa - h->base >= h->size)
		return false;
	pthread_mutex_lock(&h->lock);
	used = (h->used[p / 64] >> (p % 64)) & 1;
	pthread_mutex_unlock(&h->lock);
	return used;
}

uint64_t hw_hal_dump_size(struct hw_hal *h)
{
	return h->high_water * PAGE;
}

int hw_hal_init(struct hw_hal *h, uint64_t base, uint64_t size, bool direct_map)
{
	uint64_t pages = size / PAGE;

	memset(h, 0, sizeof(*h));
	h->base = base;
	h->size = size;
	/* Untouched pages of an anonymous mapping cost nothing. */
	h->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->mem == MAP_FAILED)
		return -ENOMEM;
	h->used = calloc((pages + 63) / 64, sizeof(uint64_t));
	h->alloc_order = calloc(pages, 1);
	if (!h->used || !h->alloc_order) {
		hw_hal_fini(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->hal.alloc = hal_alloc;
	h->hal.free = hal_free;
	h->hal.phys_to_virt = hal_phys_to_virt;
	h->hal.flush = NULL;
	h->hal.ctx = h;
	h->hal.direct_map = direct_map;
	h->hal.direct_map_offset = (uintptr_t)h->mem - (uintptr_t)base;
	return 0;
}

void hw_hal_fini(struct hw_hal *h)
{
	if (h->mem && h->mem != MAP_FAILED)
		munmap(h->mem, h->size);
	free(h->used);
	free(h->alloc_order);
	h->mem = NULL;
	h->used = NULL;
	h->alloc_order = NULL;
}
