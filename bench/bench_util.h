/* SPDX-License-Identifier: MIT */
/* Helpers shared by the benchmarks: formats, set-up, random numbers. */
#ifndef ASPACE_BENCH_UTIL_H
#define ASPACE_BENCH_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <aspace/aspace.h>

#include "gbench.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Every address space of the suite has this GPA window: [0, 1 TiB). */
#define BENCH_WINDOW (1ull << 40)

/* A table format as the suite runs it (S2_4K appears with two IPA sizes). */
struct bench_format {
	const char *name; /* used in benchmark names */
	enum aspace_format format;
	unsigned gpa_bits;
};

extern const struct bench_format bench_formats[];
extern const unsigned bench_nformats;
const struct bench_format *bench_format_by_name(const char *name);

/* Leaves a benchmark asks for. */
enum bench_leaf { LEAF_4K, LEAF_2M, LEAF_1G };
extern const uint64_t bench_leaf_size[3];
extern const char *const bench_leaf_name[3];

/*
 * Creates an address space of the given format over BENCH_WINDOW with the
 * host HAL. leaves4k_only: a platform without 2 MiB and 1 GiB leaves, which
 * is how lazy faults are made to take 4 KiB frames.
 */
int bench_create(const struct bench_format *f, bool leaves4k_only,
		 struct aspace **out);
/* The same, with data frames zeroed as zero says, and RCU flavour rcu. */
int bench_create_with(const struct bench_format *f, bool leaves4k_only,
		      enum aspace_zero zero, enum aspace_rcu rcu,
		      struct aspace **out);

/* Leaves present, summed over the three sizes. */
uint64_t bench_leaves(struct aspace *as);

/*
 * Page faults the host kernel took for this thread so far: the fault
 * benchmarks report them per operation, since first touches of frames the
 * allocator got from the kernel cost more than the library's own work.
 */
uint64_t bench_host_faults(void);

/* Monotonic clock in nanoseconds (vDSO, so cheap enough around a call). */
uint64_t bench_now_ns(void);
/* CPU time of this thread in nanoseconds (a system call: time long spans). */
uint64_t bench_cpu_ns(void);

/* xorshift64: cheap enough that it does not hide what it feeds. */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* A uniform index below n without a division. */
static inline uint64_t bench_rand_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)bench_rand(s) * n) >> 64);
}

/* The seed of thread t: fixed, so every run walks the same addresses. */
static inline uint64_t bench_seed(unsigned t)
{
	return 0x9e3779b97f4a7c15ull * (t + 1) | 1;
}

/*
 * An object shared by the threads of one multi-threaded run. The first
 * thread to arrive creates it and the last to leave destroys it; Google
 * Benchmark's barriers around the timed loop make sure that no thread
 * leaves before every thread arrived.
 */
struct bench_shared {
	pthread_mutex_t lock;
	int refs;
	void *obj;
};
#define BENCH_SHARED_INIT                                                      \
	{                                                                      \
		PTHREAD_MUTEX_INITIALIZER, 0, NULL                             \
	}

void *bench_shared_get(struct bench_shared *s,
		       void *(*create)(void *arg, int threads), void *arg,
		       int threads);
void bench_shared_put(struct bench_shared *s, void (*destroy)(void *obj));

/* Functions run after the benchmarks, to free what a set-up kept. */
void bench_at_end(void (*fn)(void));
void bench_run_at_end(void);

/* Records an error (rc < 0) for the run; returns true if rc is one. */
bool bench_failed(gb_state *st, int rc, const char *what);
/*
 * Runs the (empty) timed loop of a run that failed before its loop: it must
 * still pass the barriers that the other threads of the run wait in, and
 * Google Benchmark wants every run to leave through gb_keep_running. Call
 * it only where the loop has not run.
 */
void bench_drain(gb_state *st);

/*
 * Benchmark groups; each registers its benchmarks. reps: repetitions of the
 * runs whose medians the summary compares (the others run once).
 */
void bench_register_translate(int reps);
void bench_register_fault(int reps);
void bench_register_map(int reps);
void bench_register_io(int reps);
void bench_register_areas(int reps);
void bench_register_translate_scaling(int reps);
void bench_register_fault_scaling(int reps);
void bench_register_share(int reps);

/* Registers fn under a printf-formatted name. */
gb_bench *bench_register(gb_fn fn, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* ASPACE_BENCH_UTIL_H */
