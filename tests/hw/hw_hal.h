/* SPDX-License-Identifier: MIT */
/*
 * A HAL whose host-physical memory is one host buffer standing for the
 * emulator's RAM at [base, base + size): hpa != host pointer, so the
 * library's tables can be dumped and loaded at the same HPA in the emulator.
 */
#ifndef ASPACE_HW_HAL_H
#define ASPACE_HW_HAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <aspace/aspace.h>

struct hw_hal {
	struct aspace_hal hal;
	uint64_t base, size;
	uint8_t *mem;
	uint64_t *used;	      /* bitmap, one bit per 4 KiB page */
	uint8_t *alloc_order; /* per page: order + 1 at an allocation start */
	uint64_t pages_used;
	uint64_t high_water; /* one past the highest page ever handed out */
	uint64_t allocs, frees, failed_allocs;
	/* First misuse seen (double free, size mismatch, foreign HPA). */
	char error[160];
	pthread_mutex_t lock;
};

/* direct_map: declare hpa + offset == host pointer to the library. */
int hw_hal_init(struct hw_hal *h, uint64_t base, uint64_t size,
		bool direct_map);
void hw_hal_fini(struct hw_hal *h);
/* Host pointer of hpa, NULL if outside the buffer. */
void *hw_hal_ptr(struct hw_hal *h, uint64_t hpa);
bool hw_hal_page_allocated(struct hw_hal *h, uint64_t hpa);
/* Bytes from base that cover every page handed out so far. */
uint64_t hw_hal_dump_size(struct hw_hal *h);

#endif
