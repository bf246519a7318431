/* SPDX-License-Identifier: MIT */
#include "test_hal.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <urcu/urcu-memb.h>

#define GIB (1ull << 30)
#define NIL UINT32_MAX
#define NO_ORDER 0xff
#define EVENT_LOG 65536
/* Blocks this large go back to the kernel when freed, to bound the RSS. */
#define RELEASE_MIN (64u << 10)

struct test_hal {
	struct aspace_hal ops;
	pthread_mutex_t lock;
	unsigned char *mem; /* arena: frame region then linear region */
	aspace_hpa_t base;
	uint64_t frame_bytes, linear_bytes;
	uint8_t garbage;

	/* Buddy allocator over the frame region, indexed by 4 KiB page. */
	uint32_t npages;
	uint8_t *
		alloc_order; /* order of the block starting here, or NO_ORDER */
	uint8_t *free_order; /* order of the free block starting here */
	uint32_t *next, *prev;
	uint32_t free_head[TEST_HAL_NSIZES];

	struct test_hal_counts counts;
	uint64_t allocs_armed; /* allocations since test_hal_fail_at */
	uint64_t fail_n;
	bool fail_after;
	uint64_t fail_min_size;

	uint64_t seq;
	struct test_hal_event log[EVENT_LOG];
};

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt,
								...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "test_hal: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static void log_event(struct test_hal *h, enum test_hal_event_type type,
		      uint64_t addr, uint64_t size)
{
	struct test_hal_event *e = &h->log[h->seq % EVENT_LOG];

	h->seq++;
	e->type = type;
	e->addr = addr;
	e->size = size;
	e->seq = h->seq;
}

static void list_push(struct test_hal *h, unsigned o, uint32_t idx)
{
	uint32_t head = h->free_head[o];

	h->next[idx] = head;
	h->prev[idx] = NIL;
	if (head != NIL)
		h->prev[head] = idx;
	h->free_head[o] = idx;
	h->free_order[idx] = o;
}

static void list_del(struct test_hal *h, unsigned o, uint32_t idx)
{
	if (h->prev[idx] != NIL)
		h->next[h->prev[idx]] = h->next[idx];
	else
		h->free_head[o] = h->next[idx];
	if (h->next[idx] != NIL)
		h->prev[h->next[idx]] = h->prev[idx];
	h->free_order[idx] = NO_ORDER;
}

static int size_order(uint64_t size)
{
	if (size < (1ull << TEST_HAL_MIN_ORDER) ||
	    size > (1ull << TEST_HAL_MAX_ORDER) || (size & (size - 1)))
		return -1;
	return __builtin_ctzll(size) - TEST_HAL_MIN_ORDER;
}

static bool should_fail(struct test_hal *h, uint64_t size)
{
	h->allocs_armed++;
	if (h->fail_min_size && size >= h->fail_min_size)
		return true;
	if (!h->fail_n)
		return false;
	if (h->allocs_armed == h->fail_n)
		return true;
	return h->fail_after && h->allocs_armed > h->fail_n;
}

static int buddy_alloc(struct test_hal *h, unsigned order, uint32_t *out)
{
	unsigned o = order;
	uint32_t idx;

	while (o < TEST_HAL_NSIZES && h->free_head[o] == NIL)
		o++;
	if (o == TEST_HAL_NSIZES)
		return -ENOMEM;
	idx = h->free_head[o];
	list_del(h, o, idx);
	while (o > order) {
		o--;
		list_push(h, o, idx + (1u << o));
	}
	h->alloc_order[idx] = order;
	*out = idx;
	return 0;
}

/*
 * A vCPU's read section calls no HAL: the fault path tops its cache up
 * before the walk and frees after it (a HAL may block, and a long read
 * section holds every grace period up). Checkable for the memb flavour.
 */
static void check_not_in_read_section(const char *call)
{
	if (urcu_memb_read_ongoing())
		die("hal.%s called inside an RCU read section", call);
}

static int hal_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	struct test_hal *h = ctx;
	int order = size_order(size);
	uint32_t idx;
	int ret;

	check_not_in_read_section("alloc");
	if (order < 0)
		die("alloc of invalid size %#zx", size);
	pthread_mutex_lock(&h->lock);
	if (should_fail(h, size)) {
		h->counts.failed_allocs++;
		pthread_mutex_unlock(&h->lock);
		return -ENOMEM;
	}
	ret = buddy_alloc(h, order, &idx);
	if (ret) {
		h->counts.failed_allocs++;
		pthread_mutex_unlock(&h->lock);
		return ret;
	}
	h->counts.allocs++;
	h->counts.frames[order]++;
	h->counts.frames_total++;
	h->counts.bytes += size;
	*hpa = h->base + ((uint64_t)idx << 12);
	log_event(h, TEST_HAL_ALLOC, *hpa, size);
	pthread_mutex_unlock(&h->lock);
	/* The block is ours alone now: fill it outside the lock. */
	memset(h->mem + ((uint64_t)idx << 12), h->garbage, size);
	return 0;
}

static uint64_t block_of_locked(struct test_hal *h, uint32_t idx,
				uint32_t *start)
{
	for (unsigned o = 0; o < TEST_HAL_NSIZES; o++) {
		uint32_t s = idx & ~((1u << o) - 1);

		if (h->alloc_order[s] == o) {
			*start = s;
			return 1ull << (o + TEST_HAL_MIN_ORDER);
		}
	}
	return 0;
}

static void check_free(struct test_hal *h, aspace_hpa_t hpa, size_t size,
		       int order)
{
	uint32_t idx, start;
	uint64_t bsize;

	if (order < 0)
		die("free of invalid size %#zx at hpa %#llx", size,
		    (unsigned long long)hpa);
	if (hpa < h->base || hpa - h->base >= h->frame_bytes ||
	    (hpa & (size - 1)))
		die("free of hpa %#llx (size %#zx): not a frame of this HAL",
		    (unsigned long long)hpa, size);
	idx = (hpa - h->base) >> 12;
	if (h->alloc_order[idx] == order)
		return;
	bsize = block_of_locked(h, idx, &start);
	if (!bsize)
		die("double free (or free of never allocated) hpa %#llx "
		    "size %#zx",
		    (unsigned long long)hpa, size);
	die("free of wrong size: %#zx bytes at hpa %#llx, allocated as "
	    "%#llx bytes at %#llx",
	    size, (unsigned long long)hpa, (unsigned long long)bsize,
	    (unsigned long long)h->base + ((uint64_t)start << 12));
}

static void hal_free(void *ctx, aspace_hpa_t hpa, size_t size)
{
	struct test_hal *h = ctx;
	int order = size_order(size);
	uint32_t idx;
	unsigned o;

	check_not_in_read_section("free");
	pthread_mutex_lock(&h->lock);
	check_free(h, hpa, size, order);
	idx = (hpa - h->base) >> 12;
	h->alloc_order[idx] = NO_ORDER;
	h->counts.frees++;
	h->counts.frames[order]--;
	h->counts.frames_total--;
	h->counts.bytes -= size;
	log_event(h, TEST_HAL_FREE, hpa, size);
	/* Poison, so that a use after free reads garbage, not old tables. */
	if (size >= RELEASE_MIN)
		madvise(h->mem + ((uint64_t)idx << 12), size, MADV_DONTNEED);
	else
		memset(h->mem + ((uint64_t)idx << 12), h->garbage ^ 0xff, size);
	for (o = order; o < TEST_HAL_NSIZES - 1; o++) {
		uint32_t buddy = idx ^ (1u << o);

		if (buddy >= h->npages || h->free_order[buddy] != o)
			break;
		list_del(h, o, buddy);
		idx &= ~(1u << o);
	}
	list_push(h, o, idx);
	pthread_mutex_unlock(&h->lock);
}

void *test_hal_ptr(struct test_hal *h, aspace_hpa_t hpa, uint64_t len)
{
	uint64_t total = h->frame_bytes + h->linear_bytes;

	if (hpa < h->base || hpa - h->base > total || len > total ||
	    hpa - h->base + len > total)
		return NULL;
	return h->mem + (hpa - h->base);
}

static void *hal_phys_to_virt(void *ctx, aspace_hpa_t hpa)
{
	struct test_hal *h = ctx;
	void *p = test_hal_ptr(h, hpa, 1);

	if (!p)
		die("phys_to_virt of hpa %#llx outside the arena",
		    (unsigned long long)hpa);
	return p;
}

static void hal_flush(void *ctx, aspace_gpa_t gpa, uint64_t size)
{
	struct test_hal *h = ctx;

	pthread_mutex_lock(&h->lock);
	h->counts.flushes++;
	log_event(h, TEST_HAL_FLUSH, gpa, size);
	pthread_mutex_unlock(&h->lock);
}

bool test_hal_read64(void *ctx, uint64_t hpa, uint64_t *val)
{
	struct test_hal *h = ctx;
	void *p;

	if (hpa & 7)
		return false;
	p = test_hal_ptr(h, hpa, 8);
	if (!p)
		return false;
	*val = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
	return true;
}

static bool alloc_tables(struct test_hal *h)
{
	h->npages = h->frame_bytes >> 12;
	h->alloc_order = malloc(h->npages);
	h->free_order = malloc(h->npages);
	h->next = malloc(sizeof(uint32_t) * h->npages);
	h->prev = malloc(sizeof(uint32_t) * h->npages);
	if (!h->alloc_order || !h->free_order || !h->next || !h->prev)
		return false;
	memset(h->alloc_order, NO_ORDER, h->npages);
	memset(h->free_order, NO_ORDER, h->npages);
	for (unsigned o = 0; o < TEST_HAL_NSIZES; o++)
		h->free_head[o] = NIL;
	for (uint32_t i = h->npages; i > 0; i -= 1u << 18)
		list_push(h, TEST_HAL_NSIZES - 1, i - (1u << 18));
	return true;
}

static void set_defaults(struct test_hal *h, const struct test_hal_opts *o)
{
	h->frame_bytes = o->frame_bytes ? o->frame_bytes : 2 * GIB;
	h->linear_bytes = o->linear_bytes ? o->linear_bytes : 4 * GIB;
	h->base = o->hpa_base;
	if (!h->base)
		h->base = o->direct_map ? 0x80000000ull : 0x340000000ull;
	h->garbage = o->garbage ? o->garbage : 0xa5;
	if ((h->frame_bytes | h->linear_bytes | h->base) & (GIB - 1))
		die("arena sizes and base must be 1 GiB multiples");
}

struct test_hal *test_hal_new(const struct test_hal_opts *o)
{
	struct test_hal *h = calloc(1, sizeof(*h));
	uint64_t total;

	if (!h)
		die("out of memory");
	set_defaults(h, o);
	total = h->frame_bytes + h->linear_bytes;
	h->mem = mmap(NULL, total, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->mem == MAP_FAILED || !alloc_tables(h))
		die("cannot reserve an arena of %#llx bytes",
		    (unsigned long long)total);
	pthread_mutex_init(&h->lock, NULL);
	h->ops.alloc = hal_alloc;
	h->ops.free = hal_free;
	h->ops.phys_to_virt = hal_phys_to_virt;
	h->ops.flush = o->no_flush ? NULL : hal_flush;
	h->ops.ctx = h;
	h->ops.direct_map = o->direct_map;
	if (o->direct_map)
		h->ops.direct_map_offset =
			(uintptr_t)h->mem - (uintptr_t)h->base;
	return h;
}

uint64_t test_hal_delete(struct test_hal *h)
{
	uint64_t left = h->counts.bytes;

	munmap(h->mem, h->frame_bytes + h->linear_bytes);
	pthread_mutex_destroy(&h->lock);
	free(h->alloc_order);
	free(h->free_order);
	free(h->next);
	free(h->prev);
	free(h);
	return left;
}

const struct aspace_hal *test_hal_ops(struct test_hal *h)
{
	return &h->ops;
}

aspace_hpa_t test_hal_frame_base(const struct test_hal *h)
{
	return h->base;
}

uint64_t test_hal_frame_size(const struct test_hal *h)
{
	return h->frame_bytes;
}

aspace_hpa_t test_hal_linear_base(const struct test_hal *h)
{
	return h->base + h->frame_bytes;
}

uint64_t test_hal_linear_size(const struct test_hal *h)
{
	return h->linear_bytes;
}

bool test_hal_direct(const struct test_hal *h)
{
	return h->ops.direct_map;
}

void test_hal_counts(struct test_hal *h, struct test_hal_counts *c)
{
	pthread_mutex_lock(&h->lock);
	*c = h->counts;
	pthread_mutex_unlock(&h->lock);
}

uint64_t test_hal_bytes(struct test_hal *h)
{
	uint64_t b;

	pthread_mutex_lock(&h->lock);
	b = h->counts.bytes;
	pthread_mutex_unlock(&h->lock);
	return b;
}

uint64_t test_hal_block_of(struct test_hal *h, aspace_hpa_t hpa,
			   aspace_hpa_t *base)
{
	uint32_t start;
	uint64_t size;

	if (hpa < h->base || hpa - h->base >= h->frame_bytes)
		return 0;
	pthread_mutex_lock(&h->lock);
	size = block_of_locked(h, (hpa - h->base) >> 12, &start);
	pthread_mutex_unlock(&h->lock);
	if (size && base)
		*base = h->base + ((uint64_t)start << 12);
	return size;
}

void test_hal_fail_at(struct test_hal *h, uint64_t n, bool and_after)
{
	pthread_mutex_lock(&h->lock);
	h->allocs_armed = 0;
	h->fail_n = n;
	h->fail_after = and_after;
	pthread_mutex_unlock(&h->lock);
}

void test_hal_fail_sizes_from(struct test_hal *h, uint64_t min_size)
{
	pthread_mutex_lock(&h->lock);
	h->fail_min_size = min_size;
	pthread_mutex_unlock(&h->lock);
}

uint64_t test_hal_seq(struct test_hal *h)
{
	uint64_t s;

	pthread_mutex_lock(&h->lock);
	s = h->seq;
	pthread_mutex_unlock(&h->lock);
	return s;
}

long test_hal_events_since(struct test_hal *h, uint64_t seq,
			   struct test_hal_event *out, size_t max)
{
	long n = 0;

	pthread_mutex_lock(&h->lock);
	if (h->seq - seq > EVENT_LOG) {
		pthread_mutex_unlock(&h->lock);
		return -1;
	}
	for (uint64_t s = seq + 1; s <= h->seq && (size_t)n < max; s++)
		out[n++] = h->log[(s - 1) % EVENT_LOG];
	pthread_mutex_unlock(&h->lock);
	return n;
}
