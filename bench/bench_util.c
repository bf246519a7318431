// SPDX-License-Identifier: MIT
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "bench_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

const struct bench_format bench_formats[] = {
	{"EPT4", ASPACE_FMT_EPT4, 0},	  {"EPT5", ASPACE_FMT_EPT5, 0},
	{"S2_40", ASPACE_FMT_S2_4K, 40},  {"S2_48", ASPACE_FMT_S2_4K, 48},
	{"SV39X4", ASPACE_FMT_SV39X4, 0}, {"SV48X4", ASPACE_FMT_SV48X4, 0},
	{"SV57X4", ASPACE_FMT_SV57X4, 0},
};
const unsigned bench_nformats =
	sizeof(bench_formats) / sizeof(bench_formats[0]);

const uint64_t bench_leaf_size[3] = {4 * KiB, 2 * MiB, 1 * GiB};
const char *const bench_leaf_name[3] = {"4k", "2m", "1g"};

const struct bench_format *bench_format_by_name(const char *name)
{
	for (unsigned i = 0; i < bench_nformats; i++)
		if (!strcmp(bench_formats[i].name, name))
			return &bench_formats[i];
	abort();
}

int bench_create(const struct bench_format *f, bool leaves4k_only,
		 struct aspace **out)
{
	return bench_create_with(f, leaves4k_only, ASPACE_ZERO_AUTO,
				 ASPACE_RCU_MEMB, out);
}

int bench_create_with(const struct bench_format *f, bool leaves4k_only,
		      enum aspace_zero zero, enum aspace_rcu rcu,
		      struct aspace **out)
{
	struct aspace_config cfg = {
		.format = f->format,
		.base = 0,
		.size = BENCH_WINDOW,
		.gpa_bits = f->gpa_bits,
		.platform = {.no_block_1g = leaves4k_only,
			     .no_block_2m = leaves4k_only},
		.rcu = rcu,
		.zero = zero,
	};

	return aspace_create(&cfg, out);
}

uint64_t bench_leaves(struct aspace *as)
{
	struct aspace_stats s;

	aspace_stats(as, &s);
	return s.mapped_4k + s.mapped_2m + s.mapped_1g;
}

uint64_t bench_host_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void *bench_shared_get(struct bench_shared *s,
		       void *(*create)(void *arg, int threads), void *arg,
		       int threads)
{
	void *obj;

	pthread_mutex_lock(&s->lock);
	if (s->refs++ == 0)
		s->obj = create(arg, threads);
	obj = s->obj;
	pthread_mutex_unlock(&s->lock);
	return obj;
}

void bench_shared_put(struct bench_shared *s, void (*destroy)(void *obj))
{
	pthread_mutex_lock(&s->lock);
	if (--s->refs == 0) {
		if (s->obj)
			destroy(s->obj);
		s->obj = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

static void (*at_end[16])(void);
static unsigned n_at_end;

void bench_at_end(void (*fn)(void))
{
	for (unsigned i = 0; i < n_at_end; i++)
		if (at_end[i] == fn)
			return;
	if (n_at_end == sizeof(at_end) / sizeof(at_end[0]))
		abort();
	at_end[n_at_end++] = fn;
}

void bench_run_at_end(void)
{
	while (n_at_end)
		at_end[--n_at_end]();
}

bool bench_failed(gb_state *st, int rc, const char *what)
{
	char msg[160];

	if (rc >= 0)
		return false;
	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-rc));
	gb_skip_with_error(st, msg);
	return true;
}

void bench_drain(gb_state *st)
{
	while (gb_keep_running(st))
		;
}

gb_bench *bench_register(gb_fn fn, void *arg, const char *fmt, ...)
{
	char name[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return gb_register(name, fn, arg);
}
