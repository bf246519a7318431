/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the `make check` tests: seeded random numbers, failure
 * reporting, an address space on the test HAL with a reference walker, and
 * whole-state snapshots for "a failed call changes nothing" checks.
 */
#ifndef TESTS_TCOMMON_H
#define TESTS_TCOMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <aspace/aspace.h>

#include "ref_walk.h"
#include "test_hal.h"

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define PAGE ASPACE_PAGE_SIZE

#define T_SKIP 77

/* ---- seeds, random numbers, environment ---- */

/* Reads ASPACE_SEED (or argv[1]), else picks one; prints it. */
uint64_t t_init(const char *name, int argc, char **argv);
uint64_t t_seed(void);
uint64_t t_rand(void);
/* Uniform in [lo, hi]. */
uint64_t t_range(uint64_t lo, uint64_t hi);
bool t_chance(unsigned percent);
uint64_t t_env_u64(const char *name, uint64_t dflt);

/* ---- failures ---- */

/* Print a failure with the seed; t_fail exits, t_expect counts. */
__attribute__((format(printf, 3, 4), noreturn)) void
t_fail_at(const char *file, int line, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void t_err_at(const char *file, int line,
						    const char *fmt, ...);
#define t_fail(...) t_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define t_err(...) t_err_at(__FILE__, __LINE__, __VA_ARGS__)
#define T_ASSERT(cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			t_fail(__VA_ARGS__);                                   \
	} while (0)
#define T_EXPECT(cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			t_err(__VA_ARGS__);                                    \
	} while (0)
unsigned t_errors(void);
/* Print the one-line summary and return the exit status. */
int t_finish(const char *name, const char *what);

/* ---- formats ---- */

struct t_fmt {
	enum aspace_format fmt;
	unsigned gpa_bits; /* the width, also for formats with a fixed one */
};
/* Every format, and the S2 widths 32, 36, 39, 40, 42, 44, 48. */
extern const struct t_fmt t_formats[];
extern const unsigned t_nformats;
unsigned t_fmt_width(enum aspace_format fmt, unsigned gpa_bits);
const char *t_fmt_name(const struct t_fmt *f);
bool t_fmt_riscv(enum aspace_format fmt);

/* ---- an address space on the test HAL ---- */

struct t_as {
	struct test_hal *hal;
	struct aspace *as;
	struct aspace_config cfg;
	struct aspace_hw_root hw;
	struct ref_walker w;
	uint64_t root_table_pages; /* stats.table_pages of the empty space */
	uint64_t root_bytes;	   /* HAL bytes of the empty space */
};

struct t_as_opts {
	struct t_fmt fmt;
	aspace_gpa_t base;
	uint64_t size; /* 0: the whole width */
	struct aspace_platform platform;
	struct test_hal_opts hal;
	unsigned cache_batch;
	enum aspace_rcu rcu;
	enum aspace_zero zero;
};

/* Creates both (failing the test on errors) and initialises the walker. */
void t_as_create(struct t_as *t, const struct t_as_opts *o);
/* Destroys the space, checks the HAL got back every frame, frees it. */
void t_as_destroy(struct t_as *t);

/* The memory type the walker must see for flags on this platform. */
enum ref_memtype t_expected_mt(const struct t_as *t, unsigned flags);
/* Flags aspace_translate reports: perm plus the decodable memory type. */
bool t_xlate_flags_ok(const struct t_as *t, unsigned want, unsigned got);
const char *t_flags_str(unsigned flags, char *buf, size_t len);

/* ---- snapshots ---- */

struct t_snap_leaf {
	aspace_gpa_t gpa;
	uint64_t size, entry;
	aspace_hpa_t entry_hpa;
};

struct t_snapshot {
	struct t_snap_leaf *leaves;
	size_t nleaves;
	aspace_hpa_t *tables; /* hpa of every table, GPA order */
	size_t ntables;
	struct aspace_stats st;
	uint64_t hal_bytes, hal_frames;
	uint64_t content; /* hash of the memory every leaf maps in the arena */
	/* aspace_translate at the probe GPAs */
	size_t nprobes;
	aspace_gpa_t *probes;
	int *xret;
	struct aspace_xlate *xlate;
	char invalid[200]; /* first REF_INVALID seen, if any */
};

/*
 * Capture the whole table tree (every valid entry), stats, HAL counters
 * (after aspace_barrier) and aspace_translate at probes.
 */
void t_snapshot(struct t_as *t, struct t_snapshot *s,
		const aspace_gpa_t *probes, size_t nprobes);
/* 0 if equal, else prints the first difference (prefixed) and returns 1. */
int t_snapshot_cmp(const struct t_snapshot *a, const struct t_snapshot *b,
		   const char *what);
void t_snapshot_free(struct t_snapshot *s);

#endif /* TESTS_TCOMMON_H */
