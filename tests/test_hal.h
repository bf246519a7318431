/* SPDX-License-Identifier: MIT */
/*
 * Test HAL: simulated host-physical memory for the aspace tests.
 *
 * One mmap'ed arena stands for host RAM. Its host-physical addresses start
 * at a base that differs from the host pointer, so a library that confuses
 * the two crashes or reads the wrong memory. The arena has two regions:
 *  - the frame region, handed out by a buddy allocator in naturally aligned
 *    power-of-two blocks (4 KiB .. 1 GiB), filled with garbage so that
 *    missing zeroing shows;
 *  - the linear region, never allocated, where tests point map_linear.
 * Double frees and frees of the wrong size abort with a message. The N-th
 * allocation can be made to fail, and every alloc/free/flush is logged.
 */
#ifndef TESTS_TEST_HAL_H
#define TESTS_TEST_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aspace/aspace.h>

#define TEST_HAL_MIN_ORDER 12
#define TEST_HAL_MAX_ORDER 30
#define TEST_HAL_NSIZES (TEST_HAL_MAX_ORDER - TEST_HAL_MIN_ORDER + 1)

struct test_hal_opts {
	uint64_t frame_bytes;  /* frame region, a multiple of 1 GiB; 0: 2 GiB */
	uint64_t linear_bytes; /* linear region, multiple of 1 GiB; 0: 4 GiB */
	aspace_hpa_t hpa_base; /* 1 GiB aligned; 0: a default per mode */
	bool direct_map;       /* else phys_to_virt is a callback */
	bool no_flush;	       /* hal.flush = NULL */
	uint8_t garbage;       /* fill byte of fresh frames; 0: 0xA5 */
};

struct test_hal_counts {
	uint64_t frames[TEST_HAL_NSIZES]; /* outstanding, per order */
	uint64_t frames_total;		  /* outstanding blocks */
	uint64_t bytes;			  /* outstanding bytes */
	uint64_t allocs, frees, failed_allocs, flushes;
};

enum test_hal_event_type {
	TEST_HAL_ALLOC,
	TEST_HAL_FREE,
	TEST_HAL_FLUSH,
};

struct test_hal_event {
	enum test_hal_event_type type;
	uint64_t addr; /* hpa for ALLOC/FREE, gpa for FLUSH */
	uint64_t size;
	uint64_t seq; /* 1, 2, 3... over the HAL's life */
};

struct test_hal;

struct test_hal *test_hal_new(const struct test_hal_opts *opts);
/* Frees the arena; returns the bytes still outstanding (a leak if != 0). */
uint64_t test_hal_delete(struct test_hal *h);
const struct aspace_hal *test_hal_ops(struct test_hal *h);

/* Host pointer of [hpa, hpa + len) if it lies in the arena, else NULL. */
void *test_hal_ptr(struct test_hal *h, aspace_hpa_t hpa, uint64_t len);
/* ref_walk read callback: an 8-byte aligned word of the arena. */
bool test_hal_read64(void *h, uint64_t hpa, uint64_t *val);

aspace_hpa_t test_hal_frame_base(const struct test_hal *h);
uint64_t test_hal_frame_size(const struct test_hal *h);
aspace_hpa_t test_hal_linear_base(const struct test_hal *h);
uint64_t test_hal_linear_size(const struct test_hal *h);
bool test_hal_direct(const struct test_hal *h);

void test_hal_counts(struct test_hal *h, struct test_hal_counts *c);
uint64_t test_hal_bytes(struct test_hal *h);
/* Size of the allocated block holding hpa (its start in *base), or 0. */
uint64_t test_hal_block_of(struct test_hal *h, aspace_hpa_t hpa,
			   aspace_hpa_t *base);

/*
 * Make the n-th allocation from now fail (n >= 1), and with and_after every
 * one after it too. n == 0 disarms.
 */
void test_hal_fail_at(struct test_hal *h, uint64_t n, bool and_after);
/* Fail every allocation of min_size bytes or more; 0 disarms. */
void test_hal_fail_sizes_from(struct test_hal *h, uint64_t min_size);

/* Sequence number of the latest event. */
uint64_t test_hal_seq(struct test_hal *h);
/*
 * Copy up to max events newer than seq into out; returns how many, or -1
 * if some were overwritten in the log since.
 */
long test_hal_events_since(struct test_hal *h, uint64_t seq,
			   struct test_hal_event *out, size_t max);

#endif /* TESTS_TEST_HAL_H */
