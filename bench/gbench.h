/* SPDX-License-Identifier: MIT */
/*
 * A C interface to Google Benchmark (1.7), so that every benchmark of this
 * project is written in C and only this shim is C++.
 *
 * A benchmark is a function fn(state, arg) registered under a name. It runs
 * its set-up code, then the timed loop, then its tear-down code:
 *
 *	uint64_t n = gb_max_iterations(st);
 *	while (gb_keep_running_batch(st, n))
 *		for (uint64_t i = 0; i < n; i++)
 *			work();
 *
 * gb_keep_running() is one out-of-line call per iteration (a few ns); loops
 * whose body costs about as much should take the whole iteration count in
 * one batch as above, so that the hot loop is plain C. With ->Threads(n),
 * fn runs in n threads at once; they all enter and leave the timed loop
 * together (the library puts a barrier on both sides), which is what makes
 * set-up before the loop and tear-down after it safe to share.
 */
#ifndef ASPACE_BENCH_GBENCH_H
#define ASPACE_BENCH_GBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state; /* a benchmark::State */
typedef struct gb_bench gb_bench; /* a registered benchmark family */
typedef void (*gb_fn)(gb_state *st, void *arg);

enum gb_unit { GB_NS, GB_US, GB_MS, GB_S };

/* Counter flags, as benchmark::Counter::Flags. */
enum {
	GB_COUNTER_PLAIN = 0,
	GB_COUNTER_RATE = 1 << 0,	    /* divided by the run's time */
	GB_COUNTER_AVG_THREADS = 1 << 1,    /* divided by the thread count */
	GB_COUNTER_ITER_INVARIANT = 1 << 2, /* multiplied by iterations */
	GB_COUNTER_AVG_ITERATIONS = 1 << 3, /* divided by iterations */
	GB_COUNTER_INVERT = 1 << 4,	    /* 1 / value, after the above */
};

/* Registration. Every setter returns b, so calls chain. */
gb_bench *gb_register(const char *name, gb_fn fn, void *arg);
gb_bench *gb_arg(gb_bench *b, int64_t x);
gb_bench *gb_args(gb_bench *b, const int64_t *xs, size_t n);
gb_bench *gb_range(gb_bench *b, int64_t lo, int64_t hi);
gb_bench *gb_dense_range(gb_bench *b, int64_t lo, int64_t hi, int step);
gb_bench *gb_range_multiplier(gb_bench *b, int mult);
gb_bench *gb_arg_name(gb_bench *b, const char *name);
gb_bench *gb_threads(gb_bench *b, int n);
gb_bench *gb_thread_range(gb_bench *b, int lo, int hi);
gb_bench *gb_use_real_time(gb_bench *b);
/* The function reports each iteration's time with gb_set_iteration_time. */
gb_bench *gb_use_manual_time(gb_bench *b);
gb_bench *gb_unit(gb_bench *b, enum gb_unit unit);
/*
 * Minimum time as a multiple of the run's --benchmark_min_time (0.5 s when
 * the flag is absent), so that a shorter or longer run scales everything.
 */
gb_bench *gb_min_time_scale(gb_bench *b, double scale);
gb_bench *gb_min_warmup_time(gb_bench *b, double seconds);
gb_bench *gb_fixed_iterations(gb_bench *b, uint64_t n);
/* Repeat the run n times and report mean, median, stddev, cv. */
gb_bench *gb_repetitions(gb_bench *b, int n);
/* With repetitions: report (and print) the aggregates only. */
gb_bench *gb_aggregates_only(gb_bench *b);
/* With repetitions: print the aggregates only; the JSON keeps every run. */
gb_bench *gb_display_aggregates_only(gb_bench *b);

/* The timed loop. */
bool gb_keep_running(gb_state *st);
/* Counts n iterations per call; may overshoot the target by up to n - 1. */
bool gb_keep_running_batch(gb_state *st, uint64_t n);
/* The number of iterations the library wants from this run. */
uint64_t gb_max_iterations(const gb_state *st);
/* Iterations done so far (after the loop: all of them). */
uint64_t gb_iterations(const gb_state *st);
void gb_pause(gb_state *st);
void gb_resume(gb_state *st);
void gb_set_iteration_time(gb_state *st, double seconds);

/* Results. */
void gb_set_items_processed(gb_state *st, int64_t items);
void gb_set_bytes_processed(gb_state *st, int64_t bytes);
void gb_counter(gb_state *st, const char *name, double value, unsigned flags);
void gb_set_label(gb_state *st, const char *label);
/* Marks the run failed; the loop must still be left (it ends at once). */
void gb_skip_with_error(gb_state *st, const char *msg);

/* Arguments and threads of the running instance. */
int64_t gb_range_arg(const gb_state *st, size_t i);
int gb_thread_index(const gb_state *st);
int gb_thread_count(const gb_state *st);

/* Adds "key": "value" to the context block of the JSON and console output. */
void gb_add_context(const char *key, const char *value);
/*
 * Parses the benchmark flags out of argv, reports unknown ones (returns 1),
 * runs the benchmarks the filter selects and returns 0.
 */
int gb_main(int argc, char **argv);

/* Keep a value (or all memory) alive as far as the optimiser knows. */
static inline void gb_keep_u64(uint64_t v)
{
	__asm__ volatile("" : : "r"(v));
}

static inline void gb_clobber_memory(void)
{
	__asm__ volatile("" : : : "memory");
}

#ifdef __cplusplus
}
#endif
#endif /* ASPACE_BENCH_GBENCH_H */
