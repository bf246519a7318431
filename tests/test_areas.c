// SPDX-License-Identifier: MIT
/*
 * The area set (src/area.c, built into this test) against a naive model:
 * random sets of disjoint areas, from empty to more than four index levels,
 * looked up with area_find, area_next and area_intersects at random GPAs,
 * at every kind of edge and while the set grows in place, each answer
 * compared with a linear scan of the areas. The index itself is checked
 * against its definition. Then reader threads look areas up while a writer
 * appends in place, as vCPUs do under RCU.
 *
 * Built twice: with the library's fanout, and with a fanout of 2
 * (test_areas_fan2), which gives many levels with few areas.
 *
 *	test_areas [seed]     (or ASPACE_SEED=seed)
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "internal.h"
#include "tcommon.h"

#ifndef TEST_NAME
#define TEST_NAME "test_areas"
#endif

/* GPAs the library may see stay below 2^59. */
#define GPA_LIMIT (1ull << 59)

struct model {
	struct area **a; /* sorted, disjoint; the set's v[] must match */
	size_t n;
};

static long m_find(const struct model *m, size_t n, aspace_gpa_t gpa)
{
	for (size_t i = 0; i < n; i++)
		if (m->a[i]->start <= gpa && gpa < m->a[i]->end)
			return (long)i;
	return -1;
}

static long m_next(const struct model *m, size_t n, aspace_gpa_t gpa)
{
	for (size_t i = 0; i < n; i++)
		if (m->a[i]->end > gpa)
			return (long)i;
	return -1;
}

static bool m_intersects(const struct model *m, size_t n, aspace_gpa_t lo,
			 aspace_gpa_t hi)
{
	for (size_t i = 0; i < n; i++)
		if (m->a[i]->start < hi && m->a[i]->end > lo)
			return true;
	return false;
}

/* Pages of a random size: mostly small, now and then huge. */
static uint64_t rand_pages(unsigned max_order)
{
	return t_range(1, 1ull << t_range(0, max_order));
}

/* n sorted, disjoint areas; some touch, some are far apart. */
static void model_gen(struct model *m, size_t n)
{
	aspace_gpa_t at = t_chance(20) ? 0 : rand_pages(28) * PAGE;

	m->a = malloc((n ? n : 1) * sizeof(*m->a));
	T_ASSERT(m->a, "out of memory");
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		aspace_gpa_t end =
			at + rand_pages(t_chance(10) ? 20 : 4) * PAGE;

		T_ASSERT(end < GPA_LIMIT, "generated areas ran past 2^59");
		m->a[i] = area_new(at, end, 0, 0, AREA_LINEAR);
		T_ASSERT(m->a[i], "out of memory");
		at = end;
		if (!t_chance(25))
			at += rand_pages(t_chance(5) ? 24 : 6) * PAGE;
	}
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->a[i]);
	free(m->a);
}

static const char *name_of(const struct model *m, long i)
{
	static char buf[4][64];
	static unsigned k;
	char *b = buf[k++ % 4];

	if (i < 0)
		return i == -1 ? "none" : "an area not in the model";
	snprintf(b, sizeof(buf[0]), "#%ld [%#llx, %#llx)", i,
		 (unsigned long long)m->a[i]->start,
		 (unsigned long long)m->a[i]->end);
	return b;
}

static long index_of(const struct model *m, const struct area *a)
{
	for (size_t i = 0; a && i < m->n; i++)
		if (m->a[i] == a)
			return (long)i;
	return a ? -2 : -1;
}

/* One GPA through every lookup, with n areas of the model in the set. */
static void check_gpa(const struct area_set *set, const struct model *m,
		      size_t n, aspace_gpa_t gpa)
{
	long want = m_find(m, n, gpa), got = index_of(m, area_find(set, gpa));

	T_EXPECT(got == want, "%zu areas: area_find(%#llx) gave %s, not %s", n,
		 (unsigned long long)gpa, name_of(m, got), name_of(m, want));
	want = m_next(m, n, gpa);
	got = index_of(m, area_next(set, gpa));
	T_EXPECT(got == want, "%zu areas: area_next(%#llx) gave %s, not %s", n,
		 (unsigned long long)gpa, name_of(m, got), name_of(m, want));
}

static void check_range(const struct area_set *set, const struct model *m,
			size_t n, aspace_gpa_t lo, aspace_gpa_t hi)
{
	bool want = m_intersects(m, n, lo, hi);

	T_EXPECT(area_intersects(set, lo, hi) == want,
		 "%zu areas: area_intersects(%#llx, %#llx) is not %d", n,
		 (unsigned long long)lo, (unsigned long long)hi, want);
}

/* A GPA near something interesting: an edge, inside, a gap, the ends. */
static aspace_gpa_t pick_gpa(const struct model *m, size_t n)
{
	const struct area *a;

	if (!n || t_chance(5))
		return t_chance(50) ? t_range(0, 3 * PAGE)
				    : GPA_LIMIT - t_range(1, 3 * PAGE);
	a = m->a[t_range(0, n - 1)];
	switch (t_range(0, 5)) {
	case 0:
		return a->start;
	case 1:
		return a->end - 1;
	case 2:
		return a->end;
	case 3:
		return a->start - 1; /* wraps below 0 for the first at 0 */
	case 4:
		return t_range(a->start, a->end - 1);
	default: /* anywhere up to a little past the last area */
		return t_range(0, m->a[n - 1]->end + 4 * PAGE);
	}
}

/* The index as area_set_push() defines it, from the set's n alone. */
static void check_index(const struct area_set *set, const struct model *m)
{
	size_t n = set->n, len = n;
	unsigned l = 0;

	if (!n)
		return;
	for (;;) {
		size_t stride = 1;

		for (unsigned k = 0; k < l; k++)
			stride *= AREA_FANOUT;
		T_ASSERT(set->key[l], "%zu areas: no key level %u", n, l);
		for (size_t j = 0; j < len; j++)
			T_ASSERT(set->key[l][j] == m->a[j * stride]->start,
				 "%zu areas: key[%u][%zu] is %#llx, not the "
				 "start of area %zu",
				 n, l, j, (unsigned long long)set->key[l][j],
				 j * stride);
		if (len <= AREA_FANOUT)
			break;
		len = (len + AREA_FANOUT - 1) / AREA_FANOUT;
		l++;
	}
}

static void check_set(const struct area_set *set, const struct model *m,
		      size_t n, unsigned queries)
{
	T_ASSERT(set->n == n, "the set holds %zu areas, not %zu", set->n, n);
	for (size_t i = 0; i < n; i++)
		T_ASSERT(set->v[i] == m->a[i], "v[%zu] is not area %zu", i, i);
	check_index(set, m);
	/* Small sets: every edge of every area. */
	for (size_t i = 0; n <= 64 && i < n; i++) {
		const struct area *a = m->a[i];

		check_gpa(set, m, n, a->start - 1);
		check_gpa(set, m, n, a->start);
		check_gpa(set, m, n, a->end - 1);
		check_gpa(set, m, n, a->end);
	}
	for (unsigned q = 0; q < queries; q++) {
		aspace_gpa_t lo = pick_gpa(m, n), hi = pick_gpa(m, n);

		check_gpa(set, m, n, lo);
		if (lo > hi) {
			aspace_gpa_t t = lo;

			lo = hi;
			hi = t;
		}
		check_range(set, m, n, lo, hi);
		if (lo < GPA_LIMIT)
			check_range(set, m, n, lo, lo + t_range(1, 2 * PAGE));
	}
}

/* A set of the model's areas, filled as set_replace() does. */
static void random_set(size_t n, size_t extra, unsigned queries)
{
	struct model m;
	struct area_set *set;

	model_gen(&m, n);
	set = area_set_new(n + extra, t_rand());
	T_ASSERT(set, "area_set_new(%zu) failed", n + extra);
	T_ASSERT(set->cap >= n + extra && set->n == 0,
		 "area_set_new(%zu): cap %zu, n %zu", n + extra, set->cap,
		 set->n);
	for (size_t i = 0; i < n; i++)
		area_set_push(set, m.a[i]);
	check_set(set, &m, n, queries);
	free(set);
	model_free(&m);
}

/* A set appended to in place, looked up as it grows (levels appear). */
static void growing_set(size_t n, unsigned queries)
{
	struct model m;
	struct area_set *set;

	model_gen(&m, n);
	set = area_set_new(n, 0);
	T_ASSERT(set, "area_set_new(%zu) failed", n);
	check_set(set, &m, 0, 8);
	for (size_t k = 1; k <= n; k++) {
		area_set_push(set, m.a[k - 1]);
		/* Small, around level boundaries, and now and then. */
		if (k <= 4 * AREA_FANOUT || (k & (k - 1)) == 0 ||
		    ((k - 1) & (k - 2)) == 0 ||
		    k % (AREA_FANOUT * AREA_FANOUT) <= 1 || t_chance(1))
			check_set(set, &m, k, queries);
	}
	free(set);
	model_free(&m);
}

/* ---- readers beside an appending writer ---- */

#define CONC_AREAS 20000
#define CONC_READERS 2

struct conc {
	struct area_set *set;
	int done;
	uint64_t seed;
	unsigned long lookups, errors;
};

/* Area i of the concurrent phase: a function of i, known to readers. */
static aspace_gpa_t conc_start(size_t i)
{
	return (1ull << 32) + i * 8 * PAGE + (i % 3) * PAGE;
}

static aspace_gpa_t conc_end(size_t i)
{
	return conc_start(i) + (1 + i % 5) * PAGE;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool conc_ok(const struct area *a, size_t i)
{
	return a && a->start == conc_start(i) && a->end == conc_end(i);
}

static void *reader(void *arg)
{
	struct conc *c = arg;
	uint64_t rng = c->seed | 1;

	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		size_t n = __atomic_load_n(&c->set->n, __ATOMIC_ACQUIRE);
		size_t i = n ? xorshift(&rng) % n : 0;
		aspace_gpa_t gpa;
		const struct area *a;

		if (!n)
			continue;
		/* Published before we looked: found, and stays found. */
		gpa = conc_start(i) +
		      xorshift(&rng) % (conc_end(i) - conc_start(i));
		c->errors += !conc_ok(area_find(c->set, gpa), i);
		c->errors +=
			!conc_ok(area_next(c->set, i ? conc_end(i - 1) : 0), i);
		/* At the growing end: not there yet, or the right one. */
		gpa = conc_start(n) +
		      xorshift(&rng) % (conc_end(n) - conc_start(n));
		a = area_find(c->set, gpa);
		c->errors += a && !conc_ok(a, n);
		c->errors += !area_intersects(c->set, conc_start(i),
					      conc_start(i) + 1);
		c->lookups += 4;
	}
	return NULL;
}

static void concurrent_append(void)
{
	struct conc c[CONC_READERS];
	pthread_t tid[CONC_READERS];
	struct area_set *set = area_set_new(CONC_AREAS, 0);
	struct area **a = malloc(CONC_AREAS * sizeof(*a));

	T_ASSERT(set && a, "out of memory");
	for (size_t i = 0; i < CONC_AREAS; i++) {
		a[i] = area_new(conc_start(i), conc_end(i), 0, 0, AREA_LINEAR);
		T_ASSERT(a[i], "out of memory");
	}
	for (int r = 0; r < CONC_READERS; r++) {
		c[r] = (struct conc){.set = set, .seed = t_rand()};
		T_ASSERT(!pthread_create(&tid[r], NULL, reader, &c[r]),
			 "pthread_create failed");
	}
	for (size_t i = 0; i < CONC_AREAS; i++) {
		area_set_push(set, a[i]);
		if (i % 64 == 0)
			sched_yield();
	}
	for (int r = 0; r < CONC_READERS; r++)
		__atomic_store_n(&c[r].done, 1, __ATOMIC_RELEASE);
	for (int r = 0; r < CONC_READERS; r++) {
		pthread_join(tid[r], NULL);
		T_EXPECT(!c[r].errors,
			 "reader %d: %lu wrong answers in %lu lookups while "
			 "areas were appended",
			 r, c[r].errors, c[r].lookups);
	}
	for (size_t i = 0; i < CONC_AREAS; i++)
		free(a[i]);
	free(a);
	free(set);
}

int main(int argc, char **argv)
{
	unsigned rounds = (unsigned)t_env_u64("AREAS_ROUNDS", 300);

	t_init(TEST_NAME, argc, argv);
	T_EXPECT(!area_set_new(AREA_SET_MAX + 1, 0),
		 "area_set_new() took more areas than can exist");
	for (size_t n = 0; n <= 3 * AREA_FANOUT; n++)
		random_set(n, t_range(0, 40), 64);
	for (unsigned r = 0; r < rounds; r++) {
		size_t n = t_chance(50)
				   ? t_range(0, 300)
				   : t_range(300, t_chance(10) ? 6000 : 1500);

		random_set(n, t_chance(50) ? 0 : t_range(1, 5000), 300);
	}
	/* Past four levels of 16: 65536 keys need a fifth. */
	random_set(AREA_FANOUT >= 16 ? 70000 : 5000, 7, 500);
	growing_set(AREA_FANOUT >= 16 ? 5000 : 700, 40);
	concurrent_append();
	return t_finish(TEST_NAME, "area lookups match a linear scan");
}
