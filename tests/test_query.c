/* SPDX-License-Identifier: MIT */
/*
 * The query calls against independent models, for every format:
 *  - aspace_find_free_area against a brute-force scan of a shadow area list,
 *    at every alignment, with limits on and next to area edges;
 *  - aspace_check_access against a page-by-page scan of the shadow areas;
 *  - the range query: the runs tile the range exactly, every mapped run
 *    agrees with aspace_translate and with the model (which page is mapped,
 *    to which host address, by which leaf size), gaps hold nothing mapped,
 *    and no two neighbouring runs could have been one;
 *  - aspace_populate: every lazy page of the range afterwards mapped by the
 *    largest leaf a fault may use, present leaves untouched, -EFAULT
 *    changes nothing, and -ENOMEM half way (a HAL failing from the N-th
 *    allocation) leaves a valid, zeroed prefix mapped and the rest absent;
 *    in a copy-on-write clone, writes make the range private, reads don't;
 *  - queries and populate while vCPU threads fault pages in;
 *  - aspace_dump, parsed back and compared with the areas and runs.
 *
 * The model predicts leaf sizes: a linear page sits in the largest leaf
 * whose slot lies in its area with a suitably aligned host address (cuts
 * split leaves down to that); an alloc page faulted in gets 2 MiB when its
 * block lies in the area and nothing in the block was mapped, else 4 KiB.
 *
 * ASPACE_SEED=n replays, ASPACE_STEPS=n sets the random steps per format,
 * ASPACE_FORMAT=i runs only t_formats[i].
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "tcommon.h"

#define BLK ASPACE_BLOCK_2M
#define GIG ASPACE_BLOCK_1G
/* Alloc memory mapped at once: 4 KiB frames make a run each, so less. */
#define POPULATE_BUDGET(q) ((q)->leaf2m ? 96 * MIB : 16 * MIB)
#define MAX_RUNS (1u << 20)

struct qt {
	struct t_as t;
	struct model m;
	struct m_rangeset big; /* alloc pages mapped by 2 MiB leaves */
	struct t_fmt fmt;
	aspace_gpa_t win_lo, win_hi; /* window [lo, hi) */
	aspace_gpa_t pg_lo, pg_hi;   /* playground where areas go */
	bool leaf2m, leaf1g;
	unsigned long step;
	char op[200];
};

/* What the run exercised, printed at the end (a test that never hits a
 * path proves nothing about it). */
static struct {
	unsigned long ff_ok, ff_nomem, ff_inval;
	unsigned long pop_ok, pop_fault, pop_nomem, pop_full;
	unsigned long runs_mapped, runs_gap, access_true, access_false;
} seen;

#define QT_FAIL(q, msg, ...)                                                   \
	t_fail("%s step %lu [%s]: " msg, t_fmt_name(&(q)->fmt), (q)->step,     \
	       (q)->op, ##__VA_ARGS__)

typedef unsigned long long ull;

/* Arguments are evaluated twice: never pass a t_rand() call. */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static aspace_gpa_t align_down(aspace_gpa_t x, uint64_t a)
{
	return x & ~(a - 1);
}

static aspace_gpa_t align_up(aspace_gpa_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* ---- the model's view: leaves and interval helpers ---- */

/* The range of s holding addr, or NULL. */
static const struct m_range *rs_find(const struct m_rangeset *s,
				     aspace_gpa_t addr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->r[lo].start <= addr ? &s->r[lo] : NULL;
}

static bool rs_meets(const struct m_rangeset *s, aspace_gpa_t lo,
		     aspace_gpa_t hi)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->r[i].start < hi && s->r[i].end > lo)
			return true;
	return false;
}

static uint64_t rs_bytes(const struct m_rangeset *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->r[i].end - s->r[i].start;
	return n;
}

/*
 * Give an empty set an array: model.c's rs_remove passes s->r to memmove
 * even when the set is empty, which UBSan rejects when r is still NULL.
 */
static void rs_init(struct m_rangeset *s)
{
	memset(s, 0, sizeof(*s));
	s->cap = 16;
	s->r = malloc(s->cap * sizeof(*s->r));
	if (!s->r)
		t_fail("out of memory");
}

static const struct m_area *area_at(const struct qt *q, aspace_gpa_t gpa)
{
	long i = model_find(&q->m, gpa);

	return i < 0 ? NULL : &q->m.areas[i];
}

static bool inside(const struct m_area *a, aspace_gpa_t lo, uint64_t size)
{
	return lo >= a->start && lo + size <= a->start + a->size;
}

/* The leaf size that must map gpa, or 0 when nothing may map it. */
static uint64_t expected_leaf(const struct qt *q, aspace_gpa_t gpa)
{
	const struct m_area *a = area_at(q, gpa);

	if (!a)
		return 0;
	if (a->alloc) {
		if (!model_present(&q->m, gpa))
			return 0;
		return rs_find(&q->big, gpa) ? BLK : PAGE;
	}
	for (uint64_t l = GIG; l > PAGE; l >>= 9) {
		aspace_gpa_t slot = align_down(gpa, l);

		if ((l == GIG ? q->leaf1g : q->leaf2m) && inside(a, slot, l) &&
		    model_linear_hpa(a, slot) % l == 0)
			return l;
	}
	return PAGE;
}

/*
 * A fault of the absent page p of alloc area a: teach the model the leaf
 * it maps, and return the end of that leaf.
 */
static aspace_gpa_t model_fault(struct qt *q, const struct m_area *a,
				aspace_gpa_t p)
{
	aspace_gpa_t b = align_down(p, BLK);

	if (q->leaf2m && inside(a, b, BLK) &&
	    !rs_meets(&q->m.present, b, b + BLK)) {
		model_set_present(&q->m, b, BLK);
		rs_add(&q->big, b, b + BLK);
		return b + BLK;
	}
	p = align_down(p, PAGE);
	model_set_present(&q->m, p, PAGE);
	return p + PAGE;
}

/* 2 MiB leaves whose block an area edge now cuts were split. */
static void big_prune(struct qt *q)
{
	for (size_t i = 0; i < q->big.n;) {
		struct m_range r = q->big.r[i];
		aspace_gpa_t b;

		for (b = align_down(r.start, BLK); b < r.end; b += BLK) {
			const struct m_area *a = area_at(q, b);

			if (!a || !inside(a, b, BLK))
				break;
		}
		if (b < r.end) {
			rs_remove(&q->big, b, b + BLK);
			i = 0; /* the set changed shape: rescan */
			continue;
		}
		i++;
	}
}

/* ---- set-up ---- */

static unsigned rand_flags(void)
{
	unsigned f = ASPACE_READ;

	if (t_chance(60))
		f |= ASPACE_WRITE;
	if (t_chance(35))
		f |= ASPACE_EXEC;
	if (t_chance(12))
		f |= ASPACE_UNCACHED;
	else if (t_chance(12))
		f |= ASPACE_DEVICE;
	return f;
}

static unsigned rand_access(void)
{
	static const unsigned acc[] = {ASPACE_READ,
				       ASPACE_WRITE,
				       ASPACE_EXEC,
				       ASPACE_READ | ASPACE_WRITE,
				       ASPACE_READ | ASPACE_EXEC,
				       ASPACE_PERM_MASK};

	return acc[t_range(0, 5)];
}

static void qt_create(struct qt *q, const struct t_fmt *fmt,
		      const struct aspace_platform *plat)
{
	struct t_as_opts o = {.fmt = *fmt, .platform = *plat};
	unsigned width = t_fmt_width(fmt->fmt, fmt->gpa_bits);
	uint64_t top = 1ull << width, pg;

	memset(q, 0, sizeof(*q));
	q->fmt = *fmt;
	o.hal.frame_bytes = 2 * GIB;
	/* A window that starts at 0, or somewhere odd, and may stop short. */
	if (t_chance(50))
		o.base = align_down(t_range(0, top / 4),
				    t_chance(50) ? GIG : PAGE);
	o.size = top - o.base;
	if (t_chance(40))
		o.size = align_down(t_range(o.size / 2, o.size), PAGE);
	t_as_create(&q->t, &o);
	model_init(&q->m);
	rs_init(&q->m.present);
	rs_init(&q->big);
	q->win_lo = o.base;
	q->win_hi = o.base + o.size;
	pg = MIN(16 * GIB, o.size);
	q->pg_lo = align_down(t_range(q->win_lo, q->win_hi - pg), PAGE);
	q->pg_hi = q->pg_lo + pg;
	q->leaf2m = !plat->no_block_2m;
	/* 1 GiB leaves need a level above the 2 MiB one (not S2-32). */
	q->leaf1g = !plat->no_block_1g && q->t.hw.levels >= 3;
}

static void qt_destroy(struct qt *q)
{
	t_as_destroy(&q->t);
	model_free(&q->m);
	rs_free(&q->big);
}

/* ---- range query ---- */

static bool runs_mergeable(const struct aspace_run *a,
			   const struct aspace_run *b)
{
	if (a->mapped != b->mapped)
		return false;
	if (!a->mapped)
		return true;
	return a->leaf_size == b->leaf_size && a->flags == b->flags &&
	       b->hpa == a->hpa + a->size;
}

/* A mapped run against the model, area by area, and leaf by leaf. */
static void check_mapped_run(struct qt *q, const struct aspace_run *r)
{
	aspace_gpa_t end = r->gpa + r->size;
	uint64_t nleaves = 0;

	if (r->leaf_size != PAGE && r->leaf_size != BLK && r->leaf_size != GIG)
		QT_FAIL(q, "run %#llx+%#llx: leaf size %#llx", (ull)r->gpa,
			(ull)r->size, (ull)r->leaf_size);
	for (aspace_gpa_t at = r->gpa; at < end;) {
		const struct m_area *a = area_at(q, at);
		aspace_gpa_t stop;

		if (!a)
			QT_FAIL(q, "run %#llx+%#llx maps %#llx outside areas",
				(ull)r->gpa, (ull)r->size, (ull)at);
		stop = MIN(end, a->start + a->size);
		if (r->flags != a->flags)
			QT_FAIL(q, "run %#llx+%#llx flags %#x, area %#x",
				(ull)r->gpa, (ull)r->size, r->flags, a->flags);
		if (a->alloc) {
			const struct m_range *p = rs_find(&q->m.present, at);

			if (!p || p->end < stop)
				QT_FAIL(q, "run %#llx+%#llx maps lazy %#llx",
					(ull)r->gpa, (ull)r->size, (ull)at);
		} else if (model_linear_hpa(a, at) != r->hpa + (at - r->gpa)) {
			QT_FAIL(q,
				"run %#llx+%#llx: %#llx -> %#llx, area says "
				"%#llx",
				(ull)r->gpa, (ull)r->size, (ull)at,
				(ull)(r->hpa + (at - r->gpa)),
				(ull)model_linear_hpa(a, at));
		}
		at = stop;
	}
	/* Leaf by leaf: translate and the predicted leaf size agree. */
	for (aspace_gpa_t at = r->gpa; at < end; nleaves++) {
		aspace_gpa_t next =
			MIN(align_down(at, r->leaf_size) + r->leaf_size, end);
		struct aspace_xlate x;
		uint64_t want = expected_leaf(q, at);
		int ret;

		if (want != r->leaf_size)
			QT_FAIL(q,
				"run %#llx+%#llx: leaf at %#llx is %#llx, "
				"model says %#llx",
				(ull)r->gpa, (ull)r->size, (ull)at,
				(ull)r->leaf_size, (ull)want);
		if (nleaves < 512 || t_chance(2)) {
			ret = aspace_translate(q->t.as, at, &x);
			if (ret || x.hpa != r->hpa + (at - r->gpa) ||
			    x.leaf_size != r->leaf_size || x.flags != r->flags)
				QT_FAIL(q,
					"run %#llx+%#llx hpa %#llx leaf "
					"%#llx flags %#x; translate(%#llx) "
					"= %d hpa %#llx leaf %#llx flags %#x",
					(ull)r->gpa, (ull)r->size, (ull)r->hpa,
					(ull)r->leaf_size, r->flags, (ull)at,
					ret, (ull)x.hpa, (ull)x.leaf_size,
					x.flags);
		}
		at = next;
	}
}

/* A gap: no linear area and no present alloc page in it. */
static void check_gap(struct qt *q, const struct aspace_run *r)
{
	aspace_gpa_t end = r->gpa + r->size;
	struct aspace_xlate x;
	aspace_gpa_t probe[3] = {r->gpa, end - 1, r->gpa + t_rand() % r->size};

	if (r->hpa || r->leaf_size || r->flags)
		QT_FAIL(q,
			"gap %#llx+%#llx with hpa %#llx leaf %#llx flags %#x",
			(ull)r->gpa, (ull)r->size, (ull)r->hpa,
			(ull)r->leaf_size, r->flags);
	for (size_t i = model_lower(&q->m, r->gpa);
	     i < q->m.n && q->m.areas[i].start < end; i++) {
		const struct m_area *a = &q->m.areas[i];
		aspace_gpa_t lo = MAX(a->start, r->gpa);
		aspace_gpa_t hi = MIN(a->start + a->size, end);

		if (!a->alloc || rs_meets(&q->m.present, lo, hi))
			QT_FAIL(q, "gap %#llx+%#llx hides mapped %#llx-%#llx",
				(ull)r->gpa, (ull)r->size, (ull)lo, (ull)hi);
	}
	for (int i = 0; i < 3; i++) {
		int ret = aspace_translate(q->t.as, probe[i], &x);

		if (ret != -ENOENT)
			QT_FAIL(q, "gap %#llx+%#llx: translate(%#llx) = %d",
				(ull)r->gpa, (ull)r->size, (ull)probe[i], ret);
	}
}

/* Query [lo, hi): the runs tile it, are maximal, and match the model. */
static size_t check_query(struct qt *q, aspace_gpa_t lo, aspace_gpa_t hi)
{
	struct aspace_query it;
	struct aspace_run r, prev = {0};
	aspace_gpa_t at = lo;
	size_t n = 0;
	int ret = aspace_query_begin(q->t.as, lo, hi - lo, &it);

	if (ret)
		QT_FAIL(q, "query_begin(%#llx, %#llx) = %d", (ull)lo,
			(ull)(hi - lo), ret);
	while (aspace_query_next(&it, &r)) {
		if (r.gpa != at || !r.size || r.size > hi - at)
			QT_FAIL(q,
				"query [%#llx, %#llx): run %#llx+%#llx "
				"after %#llx",
				(ull)lo, (ull)hi, (ull)r.gpa, (ull)r.size,
				(ull)at);
		if (n && runs_mergeable(&prev, &r))
			QT_FAIL(q,
				"runs %#llx+%#llx and %#llx+%#llx could be "
				"one (mapped %d)",
				(ull)prev.gpa, (ull)prev.size, (ull)r.gpa,
				(ull)r.size, r.mapped);
		if (r.mapped) {
			check_mapped_run(q, &r);
			seen.runs_mapped++;
		} else {
			check_gap(q, &r);
			seen.runs_gap++;
		}
		at = r.gpa + r.size;
		prev = r;
		if (++n > MAX_RUNS)
			QT_FAIL(q, "query [%#llx, %#llx) does not end", (ull)lo,
				(ull)hi);
	}
	if (at != hi)
		QT_FAIL(q, "query [%#llx, %#llx) stopped at %#llx", (ull)lo,
			(ull)hi, (ull)at);
	if (aspace_query_next(&it, &r))
		QT_FAIL(q, "query yields a run after its end");
	return n;
}

static void check_query_bad(struct qt *q)
{
	struct aspace_query it;
	struct aspace_run r;
	struct {
		aspace_gpa_t gpa;
		uint64_t size;
	} bad[] = {
		{q->win_lo, 0},
		{q->win_hi - PAGE, 2 * PAGE},
		{q->win_hi, PAGE},
		{q->win_lo + PAGE, ~0ull},
		{q->win_lo ? q->win_lo - 1 : ~0ull, 2},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = aspace_query_begin(q->t.as, bad[i].gpa, bad[i].size,
					     &it);

		if (ret != -EINVAL || aspace_query_next(&it, &r))
			QT_FAIL(q,
				"query_begin(%#llx, %#llx) = %d, want -EINVAL "
				"and no runs",
				(ull)bad[i].gpa, (ull)bad[i].size, ret);
	}
}

/* ---- check_access ---- */

/* Page by page: every page the byte range touches is in a fitting area. */
static bool model_access(struct qt *q, aspace_gpa_t gpa, uint64_t size,
			 unsigned access)
{
	aspace_gpa_t last;

	if (!size || gpa + size - 1 < gpa || gpa < q->win_lo ||
	    gpa + size - 1 >= q->win_hi)
		return false;
	last = gpa + size - 1;
	for (aspace_gpa_t p = align_down(gpa, PAGE);; p += PAGE) {
		const struct m_area *a = area_at(q, p);

		if (!a || (access & ~a->flags))
			return false;
		/* The rest of the area answers alike: skip to its end. */
		p = a->start + a->size - PAGE;
		if (p >= align_down(last, PAGE))
			return true;
	}
}

static void check_access_some(struct qt *q, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		aspace_gpa_t gpa;
		uint64_t size;
		unsigned access = rand_access();

		if (q->m.n && t_chance(70)) {
			const struct m_area *a = &q->m.areas[t_rand() % q->m.n];

			gpa = t_chance(50) ? a->start : a->start + a->size;
			gpa += t_range(0, 2 * PAGE) - PAGE;
			if (t_chance(30))
				gpa = a->start + t_rand() % a->size;
		} else {
			gpa = t_range(q->pg_lo, q->pg_hi);
		}
		switch (t_range(0, 3)) {
		case 0:
			size = t_range(1, 64);
			break;
		case 1:
			size = t_range(1, 4 * PAGE);
			break;
		case 2:
			size = t_range(1, 3 * BLK);
			break;
		default:
			size = t_range(1, 2 * GIG);
			break;
		}
		if (q->m.n && t_chance(20)) {
			/* Exactly to an area's end, or one byte past. */
			const struct m_area *a = area_at(q, gpa);

			if (a)
				size = a->start + a->size - gpa + t_chance(50);
		}
		if (t_chance(3))
			size = t_chance(50) ? 0 : ~0ull - gpa + 2;
		if (t_chance(3))
			access = t_chance(50) ? 0 : ASPACE_DEVICE | ASPACE_READ;
		bool want = access && !(access & ~ASPACE_PERM_MASK) &&
			    model_access(q, gpa, size, access);
		bool got = aspace_check_access(q->t.as, gpa, size, access);

		if (got)
			seen.access_true++;
		else
			seen.access_false++;
		if (got != want)
			QT_FAIL(q,
				"check_access(%#llx, %#llx, %#x) = %d, "
				"model %d",
				(ull)gpa, (ull)size, access, got, want);
	}
}

/* ---- dump ---- */

static uint64_t parse_size(const char *s)
{
	char *e;
	uint64_t v = strtoull(s, &e, 10);
	static const char units[] = "BKMGTPE";
	const char *u = strchr(units, *e);

	if (!*e || !u)
		return ~0ull;
	return v << (10 * (u - units));
}

static const char *perm_of(unsigned f, char *buf)
{
	buf[0] = f & ASPACE_READ ? 'R' : '-';
	buf[1] = f & ASPACE_WRITE ? 'W' : '-';
	buf[2] = f & ASPACE_EXEC ? 'X' : '-';
	buf[3] = 0;
	return buf;
}

static const char *mt_of(unsigned f)
{
	return f & ASPACE_DEVICE ? "DEV" : f & ASPACE_UNCACHED ? "NC" : "WB";
}

/* The dump's area lines are the model's areas; its run lines the query's. */
static void check_dump(struct qt *q)
{
	char *buf = NULL, *line, *save;
	size_t len = 0, na = 0;
	FILE *f = open_memstream(&buf, &len);
	struct aspace_query it;
	struct aspace_run r;
	int section = 0;
	bool header = false;

	if (!f)
		t_fail("open_memstream");
	aspace_dump(q->t.as, f);
	fclose(f);
	aspace_query_begin(q->t.as, q->win_lo, q->win_hi - q->win_lo, &it);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long lo, hi, hpa;
		char sz[16], kind[16], perm[8], mt[8], leaf[16], p[4];

		if (!header) {
			char want[64];

			snprintf(want, sizeof(want),
				 "aspace %s:", aspace_format_name(q->fmt.fmt));
			if (strncmp(line, want, strlen(want)) ||
			    !strstr(line, "levels"))
				QT_FAIL(q, "dump header: %s", line);
			header = true;
			continue;
		}
		if (!strcmp(line, "areas:") || !strcmp(line, "mappings:")) {
			section++;
			continue;
		}
		if (section == 1) {
			const struct m_area *a;

			if (sscanf(line, " 0x%llx-0x%llx %15s %15s %7s %7s",
				   &lo, &hi, sz, kind, perm, mt) != 6 ||
			    na >= q->m.n)
				QT_FAIL(q, "dump area line: %s", line);
			a = &q->m.areas[na];
			if (lo != a->start || hi != a->start + a->size ||
			    parse_size(sz) != a->size ||
			    strcmp(kind, a->alloc ? "alloc" : "linear") ||
			    strcmp(perm, perm_of(a->flags, p)) ||
			    strcmp(mt, mt_of(a->flags)))
				QT_FAIL(q, "dump area line %s for %#llx+%#llx",
					line, (ull)a->start, (ull)a->size);
			na++;
			continue;
		}
		if (section != 2 ||
		    sscanf(line, " 0x%llx-0x%llx %15s -> 0x%llx %15s %7s %7s",
			   &lo, &hi, sz, &hpa, leaf, perm, mt) != 7)
			QT_FAIL(q, "dump line: %s", line);
		do {
			if (!aspace_query_next(&it, &r))
				QT_FAIL(q, "dump line %s past the runs", line);
		} while (!r.mapped);
		if (lo != r.gpa || hi != r.gpa + r.size ||
		    parse_size(sz) != r.size || hpa != r.hpa ||
		    parse_size(leaf) != r.leaf_size ||
		    strcmp(perm, perm_of(r.flags, p)) ||
		    strcmp(mt, mt_of(r.flags)))
			QT_FAIL(q, "dump line %s for run %#llx+%#llx", line,
				(ull)r.gpa, (ull)r.size);
	}
	if (na != q->m.n || section != 2)
		QT_FAIL(q, "dump lists %zu of %zu areas", na, q->m.n);
	while (aspace_query_next(&it, &r))
		if (r.mapped)
			QT_FAIL(q, "dump misses run %#llx+%#llx", (ull)r.gpa,
				(ull)r.size);
	free(buf);
}

/* ---- random operations ---- */

static uint64_t rand_size(void)
{
	switch (t_range(0, 9)) {
	case 0 ... 4:
		return t_range(1, 16) * PAGE;
	case 5 ... 7:
		return t_range(1, 4) * BLK + t_range(0, 2) * PAGE -
		       (t_chance(30) ? PAGE : 0);
	case 8:
		return t_range(1, 24) * BLK;
	default:
		return GIG * t_range(1, 2) + t_range(0, 3) * BLK +
		       (t_chance(30) ? PAGE : 0);
	}
}

static void rand_range(struct qt *q, aspace_gpa_t *gpa, uint64_t *size)
{
	uint64_t pg = q->pg_hi - q->pg_lo, s = rand_size();
	aspace_gpa_t g;

	s = MIN(s, pg);
	if (q->m.n && t_chance(50)) {
		const struct m_area *a = &q->m.areas[t_rand() % q->m.n];

		g = t_chance(50) ? a->start : a->start + a->size;
		if (t_chance(50))
			g -= align_down(t_rand() % s, PAGE);
	} else {
		static const uint64_t al[] = {PAGE, BLK, GIG};

		g = align_down(t_range(q->pg_lo, q->pg_hi - s),
			       al[t_range(0, 2)]);
		if (t_chance(25))
			g += t_range(1, 3) * PAGE;
	}
	if (g < q->pg_lo || g > q->pg_hi - s)
		g = q->pg_lo;
	*gpa = g;
	*size = s;
}

/*
 * Host memory in the HAL's linear region for [gpa, gpa + size): congruent
 * to gpa modulo 1 GiB or 2 MiB (big leaves), or any page (small ranges
 * only, as they map page by page).
 */
static aspace_hpa_t rand_linear_hpa(struct qt *q, aspace_gpa_t gpa,
				    uint64_t size)
{
	aspace_hpa_t lb = test_hal_linear_base(q->t.hal);
	uint64_t ls = test_hal_linear_size(q->t.hal);
	unsigned mode = t_range(0, 2);

	if (mode == 2 && size <= 4 * BLK)
		return lb + align_down(t_range(0, ls - size), PAGE);
	if (mode == 1 && size <= 64 * BLK)
		return lb + align_down(t_range(0, ls - size - BLK), BLK) +
		       gpa % BLK;
	return lb + align_down(t_range(0, ls - size - GIG), GIG) + gpa % GIG;
}

static void op_map(struct qt *q)
{
	struct m_area a = {.flags = rand_flags(), .alloc = t_chance(60)};
	bool populate = a.alloc && t_chance(25);
	int ret, want;

	rand_range(q, &a.start, &a.size);
	if (a.alloc && populate &&
	    rs_bytes(&q->m.present) + a.size > POPULATE_BUDGET(q))
		populate = false;
	if (!a.alloc)
		a.hpa = rand_linear_hpa(q, a.start, a.size);
	snprintf(q->op, sizeof(q->op), "map %s %#llx+%#llx flags %#x%s",
		 a.alloc ? "alloc" : "linear", (ull)a.start, (ull)a.size,
		 a.flags, populate ? " populate" : "");
	want = model_overlaps(&q->m, a.start, a.size) ? -EEXIST : 0;
	ret = a.alloc ? aspace_map_alloc(q->t.as, a.start, a.size, a.flags,
					 populate)
		      : aspace_map_linear(q->t.as, a.start, a.hpa, a.size,
					  a.flags);
	if (ret != want)
		QT_FAIL(q, "returned %d, want %d", ret, want);
	if (ret)
		return;
	model_add(&q->m, &a);
	if (populate) {
		const struct m_area *m = area_at(q, a.start);

		for (aspace_gpa_t p = a.start; p < a.start + a.size;)
			p = model_fault(q, m, p);
	}
}

static void op_unmap(struct qt *q)
{
	aspace_gpa_t gpa;
	uint64_t size;
	int ret;

	rand_range(q, &gpa, &size);
	snprintf(q->op, sizeof(q->op), "unmap %#llx+%#llx", (ull)gpa,
		 (ull)size);
	ret = aspace_unmap(q->t.as, gpa, size);
	if (ret)
		QT_FAIL(q, "returned %d", ret);
	model_remove(&q->m, gpa, size);
	big_prune(q);
}

static void op_protect(struct qt *q)
{
	unsigned perm = rand_flags() & ASPACE_PERM_MASK;
	aspace_gpa_t gpa;
	uint64_t size;
	int ret, want;

	rand_range(q, &gpa, &size);
	snprintf(q->op, sizeof(q->op), "protect %#llx+%#llx %#x", (ull)gpa,
		 (ull)size, perm);
	want = model_covered(&q->m, gpa, size) ? 0 : -EFAULT;
	ret = aspace_protect(q->t.as, gpa, size, perm);
	if (ret != want)
		QT_FAIL(q, "returned %d, want %d", ret, want);
	if (!ret) {
		model_protect(&q->m, gpa, size, perm);
		big_prune(q);
	}
}

static void op_fault(struct qt *q)
{
	unsigned access = rand_access();
	const struct m_area *a;
	aspace_gpa_t gpa;
	int ret, want;

	if (!q->m.n)
		return;
	a = &q->m.areas[t_rand() % q->m.n];
	gpa = a->start + align_down(t_rand() % a->size, PAGE);
	snprintf(q->op, sizeof(q->op), "fault %#llx %#x", (ull)gpa, access);
	want = access & ~a->flags ? -EFAULT : 0;
	ret = aspace_handle_fault(q->t.as, gpa, access);
	if (ret != want)
		QT_FAIL(q, "returned %d, want %d", ret, want);
	if (!ret && a->alloc && !model_present(&q->m, gpa))
		model_fault(q, a, gpa);
}

/* What populate must do to the model: each absent page, in order. */
static void model_populate(struct qt *q, aspace_gpa_t lo, aspace_gpa_t hi)
{
	for (aspace_gpa_t p = lo; p < hi;) {
		const struct m_area *a = area_at(q, p);
		const struct m_range *r;

		if (!a->alloc)
			p = a->start + a->size;
		else if ((r = rs_find(&q->m.present, p)))
			p = r->end;
		else
			p = model_fault(q, a, p);
	}
}

static bool model_allows(struct qt *q, aspace_gpa_t gpa, uint64_t size,
			 unsigned access)
{
	return model_access(q, gpa, size, access);
}

static void op_populate(struct qt *q)
{
	unsigned access = rand_access();
	struct aspace_stats before, after;
	uint64_t hal_before = 0;
	aspace_gpa_t gpa;
	uint64_t size;
	int ret, want;

	rand_range(q, &gpa, &size);
	if (q->m.n && t_chance(50)) {
		/* Often exactly an area, or a part of one. */
		const struct m_area *a = &q->m.areas[t_rand() % q->m.n];

		gpa = a->start;
		size = a->size;
		if (t_chance(50)) {
			gpa += align_down(t_rand() % size, PAGE);
			size = align_down(
				t_range(PAGE, a->start + a->size - gpa), PAGE);
		}
		if (t_chance(50))
			access &= a->flags & ASPACE_PERM_MASK;
		if (!access)
			access = ASPACE_READ;
	}
	if (rs_bytes(&q->m.present) + size + 2 * BLK > POPULATE_BUDGET(q))
		return;
	snprintf(q->op, sizeof(q->op), "populate %#llx+%#llx %#x", (ull)gpa,
		 (ull)size, access);
	want = model_allows(q, gpa, size, access) ? 0 : -EFAULT;
	if (want) {
		aspace_barrier(q->t.as);
		aspace_stats(q->t.as, &before);
		hal_before = test_hal_bytes(q->t.hal);
	}
	ret = aspace_populate(q->t.as, gpa, size, access);
	if (ret != want)
		QT_FAIL(q, "returned %d, want %d", ret, want);
	if (!ret) {
		model_populate(q, gpa, gpa + size);
		seen.pop_ok++;
		return;
	}
	seen.pop_fault++;
	/* Nothing changed: the counters here, the entries by check_query. */
	aspace_barrier(q->t.as);
	aspace_stats(q->t.as, &after);
	if (memcmp(&before, &after, sizeof(before)) ||
	    hal_before != test_hal_bytes(q->t.hal))
		QT_FAIL(q, "a failed populate changed the counters");
}

static void check_populate_bad(struct qt *q)
{
	struct {
		aspace_gpa_t gpa;
		uint64_t size;
		unsigned access;
	} bad[] = {
		{q->pg_lo, 0, ASPACE_READ},
		{q->pg_lo + 1, PAGE, ASPACE_READ},
		{q->pg_lo, PAGE + 1, ASPACE_READ},
		{q->pg_lo, PAGE, 0},
		{q->pg_lo, PAGE, ASPACE_READ | ASPACE_DEVICE},
		{q->win_hi - PAGE, 2 * PAGE, ASPACE_READ},
		{q->win_hi, PAGE, ASPACE_READ},
	};

	snprintf(q->op, sizeof(q->op), "bad populate");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = aspace_populate(q->t.as, bad[i].gpa, bad[i].size,
					  bad[i].access);

		if (ret != -EINVAL)
			QT_FAIL(q, "populate(%#llx, %#llx, %#x) = %d",
				(ull)bad[i].gpa, (ull)bad[i].size,
				bad[i].access, ret);
	}
}

static void random_steps(const struct t_fmt *fmt,
			 const struct aspace_platform *plat,
			 unsigned long steps)
{
	struct qt q;

	qt_create(&q, fmt, plat);
	check_query_bad(&q);
	check_populate_bad(&q);
	for (q.step = 1; q.step <= steps; q.step++) {
		aspace_gpa_t lo, hi;

		switch (t_range(0, 9)) {
		case 0 ... 2:
			op_map(&q);
			break;
		case 3:
			op_unmap(&q);
			break;
		case 4:
			op_protect(&q);
			break;
		case 5:
			op_fault(&q);
			break;
		default:
			op_populate(&q);
			break;
		}
		/* The playground, and a sub-range at any byte alignment. */
		check_query(&q, q.pg_lo, q.pg_hi);
		lo = t_range(q.pg_lo, q.pg_hi - 1);
		hi = t_range(lo + 1, MIN(q.pg_hi, lo + 4 * GIG));
		check_query(&q, lo, hi);
		check_access_some(&q, 16);
		if (q.step % 16 == 0) {
			snprintf(q.op, sizeof(q.op), "whole window");
			check_query(&q, q.win_lo, q.win_hi);
			check_dump(&q);
		}
	}
	qt_destroy(&q);
}

/* ---- populate running out of memory ---- */

static void enomem_round(const struct t_fmt *fmt,
			 const struct aspace_platform *plat)
{
	struct qt q;
	struct m_area a = {.alloc = true, .flags = ASPACE_READ | ASPACE_WRITE};
	aspace_gpa_t lo, hi, frontier, old[6];
	struct aspace_xlate oldx[6], x;
	uint64_t fail_at = t_range(1, 48);
	int ret, nold;

	qt_create(&q, fmt, plat);
	a.start = align_down(t_range(q.pg_lo, q.pg_hi - 16 * BLK), BLK) +
		  (t_chance(50) ? t_range(1, 8) * PAGE : 0);
	a.size = t_range(3, 10) * BLK + t_range(0, 7) * PAGE;
	snprintf(q.op, sizeof(q.op), "enomem: area %#llx+%#llx, fail at %llu",
		 (ull)a.start, (ull)a.size, (ull)fail_at);
	if (aspace_map_alloc(q.t.as, a.start, a.size, a.flags, false))
		QT_FAIL(&q, "map_alloc failed");
	model_add(&q.m, &a);
	/* Some pages faulted in first: populate must leave them be. */
	nold = (int)t_range(0, 6);
	for (int i = 0; i < nold; i++) {
		aspace_gpa_t p = a.start + align_down(t_rand() % a.size, PAGE);

		if (aspace_handle_fault(q.t.as, p, ASPACE_READ))
			QT_FAIL(&q, "fault %#llx", (ull)p);
		if (!model_present(&q.m, p))
			model_fault(&q, &q.m.areas[0], p);
		old[i] = p;
		if (aspace_translate(q.t.as, p, &oldx[i]))
			QT_FAIL(&q, "faulted page %#llx not mapped", (ull)p);
	}
	struct m_rangeset before;

	rs_init(&before);

	for (size_t i = 0; i < q.m.present.n; i++)
		rs_add(&before, q.m.present.r[i].start, q.m.present.r[i].end);
	lo = a.start + align_down(t_rand() % (a.size / 2), PAGE);
	hi = a.start + a.size - align_down(t_rand() % (a.size / 4), PAGE);
	test_hal_fail_at(q.t.hal, fail_at, true);
	ret = aspace_populate(q.t.as, lo, hi - lo, ASPACE_WRITE);
	test_hal_fail_at(q.t.hal, 0, false);
	if (ret != 0 && ret != -ENOMEM)
		QT_FAIL(&q, "populate under failing HAL returned %d", ret);
	if (ret)
		seen.pop_nomem++;
	else
		seen.pop_full++;
	/*
	 * Pages mapped before keep their translation; new ones are fresh
	 * zeroed frames, 2 MiB only where a fault may use one, and they form
	 * a prefix of the range's absent pages (all of it unless -ENOMEM).
	 */
	frontier = hi;
	for (aspace_gpa_t p = align_down(lo, BLK); p < align_up(hi, BLK);
	     p += PAGE) {
		bool was = p >= a.start && p < a.start + a.size &&
			   rs_find(&before, p);
		int r = aspace_translate(q.t.as, p, &x);

		if (was && (r || x.leaf_size != expected_leaf(&q, p)))
			QT_FAIL(&q, "page %#llx mapped before: %d leaf %#llx",
				(ull)p, r, (ull)x.leaf_size);
		if (was || r == -ENOENT || r == -EINVAL) {
			if (!was && p >= lo && p < hi && frontier == hi)
				frontier = p;
			continue;
		}
		if (r)
			QT_FAIL(&q, "translate(%#llx) = %d", (ull)p, r);
		aspace_gpa_t b = align_down(p, BLK);

		if (x.leaf_size == BLK && !(q.leaf2m && inside(&a, b, BLK) &&
					    !rs_meets(&before, b, b + BLK)))
			QT_FAIL(&q, "page %#llx: 2 MiB leaf not allowed",
				(ull)p);
		if (x.leaf_size != BLK && x.leaf_size != PAGE)
			QT_FAIL(&q, "page %#llx: leaf %#llx", (ull)p,
				(ull)x.leaf_size);
		/* Outside [lo, hi) only as part of a block that meets it. */
		if ((p < lo || p >= hi) &&
		    (x.leaf_size != BLK || b + BLK <= lo || b >= hi))
			QT_FAIL(&q, "page %#llx outside the range mapped",
				(ull)p);
		if (frontier < hi && p >= lo && p < hi)
			QT_FAIL(&q,
				"page %#llx mapped after absent %#llx: "
				"not a prefix",
				(ull)p, (ull)frontier);
		if (x.hpa % PAGE == 0) {
			const uint8_t *mem = test_hal_ptr(q.t.hal, x.hpa, PAGE);

			for (size_t i = 0; mem && i < PAGE; i++)
				if (mem[i])
					QT_FAIL(&q, "page %#llx not zeroed",
						(ull)p);
		}
		if (x.leaf_size == BLK) {
			model_set_present(&q.m, b, BLK);
			rs_add(&q.big, b, b + BLK);
		} else {
			model_set_present(&q.m, p, PAGE);
		}
	}
	if (ret == 0 && frontier != hi)
		QT_FAIL(&q, "populate returned 0, %#llx absent", (ull)frontier);
	for (int i = 0; i < nold; i++)
		if (aspace_translate(q.t.as, old[i], &x) ||
		    x.hpa != oldx[i].hpa || x.leaf_size != oldx[i].leaf_size)
			QT_FAIL(&q, "page %#llx faulted before moved",
				(ull)old[i]);
	check_query(&q, q.pg_lo, q.pg_hi);
	/* With memory back, populate finishes the job. */
	snprintf(q.op, sizeof(q.op), "populate again %#llx-%#llx", (ull)lo,
		 (ull)hi);
	ret = aspace_populate(q.t.as, lo, hi - lo, ASPACE_READ);
	if (ret)
		QT_FAIL(&q, "returned %d", ret);
	model_populate(&q, lo, hi);
	check_query(&q, q.pg_lo, q.pg_hi);
	rs_free(&before);
	qt_destroy(&q);
}

/* ---- queries and populate while vCPUs fault ---- */

struct racer {
	struct aspace *as;
	aspace_gpa_t lo;
	uint64_t size;
	uint64_t seed;
	unsigned faults;
	int err;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct aspace_vcpu *v = aspace_vcpu_attach(r->as);
	uint64_t x = r->seed;

	if (!v) {
		r->err = -errno;
		return NULL;
	}
	for (unsigned i = 0; i < r->faults && !r->err; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		r->err = aspace_vcpu_fault(
			v, r->lo + align_down((x >> 16) % r->size, PAGE),
			ASPACE_READ);
	}
	aspace_vcpu_detach(v);
	return NULL;
}

/*
 * Two vCPUs fault pages of an alloc area in while this thread queries it
 * and populates parts of it. Faults only ever add leaves, so every run
 * seen mapped must still translate alike at the end, and each query must
 * still tile its range; populate must take the vCPUs' leaves in its stride.
 * In the end everything is populated and the model's prediction holds.
 */
static void concurrent_round(const struct t_fmt *fmt)
{
	struct aspace_platform plat = {0};
	struct racer rc[2];
	pthread_t th[2];
	struct aspace_run *seen_runs;
	size_t nseen = 0, cap = 4096;
	struct m_area a = {.alloc = true, .flags = ASPACE_READ | ASPACE_WRITE};
	struct qt q;
	int ret;

	qt_create(&q, fmt, &plat);
	a.start = align_down(t_range(q.pg_lo, q.pg_hi - 16 * BLK), BLK) +
		  t_range(0, 3) * PAGE;
	a.size = t_range(4, 12) * BLK + t_range(0, 5) * PAGE;
	snprintf(q.op, sizeof(q.op), "concurrent: area %#llx+%#llx",
		 (ull)a.start, (ull)a.size);
	if (aspace_map_alloc(q.t.as, a.start, a.size, a.flags, false))
		QT_FAIL(&q, "map_alloc failed");
	model_add(&q.m, &a);
	seen_runs = malloc(cap * sizeof(*seen_runs));
	if (!seen_runs)
		t_fail("out of memory");
	for (int i = 0; i < 2; i++) {
		rc[i] = (struct racer){q.t.as,	 a.start, a.size,
				       t_rand(), 3000,	  0};
		if (pthread_create(&th[i], NULL, racer_main, &rc[i]))
			t_fail("pthread_create");
	}
	for (int round = 0; round < 40; round++) {
		struct aspace_query it;
		struct aspace_run r;
		aspace_gpa_t at = a.start, lo, hi;

		aspace_query_begin(q.t.as, a.start, a.size, &it);
		while (aspace_query_next(&it, &r)) {
			if (r.gpa != at || !r.size ||
			    r.size > a.start + a.size - at)
				QT_FAIL(&q, "run %#llx+%#llx after %#llx",
					(ull)r.gpa, (ull)r.size, (ull)at);
			at += r.size;
			if (r.mapped && nseen < cap)
				seen_runs[nseen++] = r;
		}
		if (at != a.start + a.size)
			QT_FAIL(&q, "query stopped at %#llx", (ull)at);
		lo = a.start + align_down(t_rand() % a.size, PAGE);
		hi = lo + t_range(1, 1024) * PAGE;
		hi = MIN(hi, a.start + a.size);
		if (round % 4 == 0 &&
		    (ret = aspace_populate(q.t.as, lo, hi - lo, ASPACE_WRITE)))
			QT_FAIL(&q, "populate %#llx-%#llx = %d", (ull)lo,
				(ull)hi, ret);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		if (rc[i].err)
			QT_FAIL(&q, "vCPU fault returned %d", rc[i].err);
	}
	for (size_t i = 0; i < nseen; i++) {
		const struct aspace_run *r = &seen_runs[i];
		aspace_gpa_t g = r->gpa + align_down(t_rand() % r->size, PAGE);
		struct aspace_xlate x;

		if (aspace_translate(q.t.as, g, &x) ||
		    x.hpa != r->hpa + (g - r->gpa) ||
		    x.leaf_size != r->leaf_size || x.flags != r->flags)
			QT_FAIL(&q,
				"run %#llx+%#llx seen mapped, %#llx now "
				"differs",
				(ull)r->gpa, (ull)r->size, (ull)g);
	}
	if (aspace_populate(q.t.as, a.start, a.size, ASPACE_READ))
		QT_FAIL(&q, "final populate failed");
	model_populate(&q, a.start, a.start + a.size);
	check_query(&q, q.pg_lo, q.pg_hi);
	free(seen_runs);
	qt_destroy(&q);
}

/* ---- populate and copy-on-write ---- */

static uint64_t page_tag(aspace_gpa_t p)
{
	return p * 0x9e3779b97f4a7c15ull ^ t_seed();
}

/*
 * Populate in a copy-on-write clone: for reads it leaves the shared leaves
 * alone; for writes every leaf meeting the range gets a private frame with
 * the same contents, and nothing else changes, on either side.
 */
static void cow_round(const struct t_fmt *fmt)
{
	struct aspace_platform plat = {0};
	struct m_area a = {.alloc = true, .flags = ASPACE_READ | ASPACE_WRITE};
	struct aspace *c = NULL;
	aspace_gpa_t lo, hi;
	struct qt q;
	int ret;

	qt_create(&q, fmt, &plat);
	a.start = align_down(t_range(q.pg_lo, q.pg_hi - 16 * BLK), BLK) +
		  t_range(0, 3) * PAGE;
	a.size = t_range(2, 6) * BLK + t_range(1, 9) * PAGE;
	snprintf(q.op, sizeof(q.op), "cow: area %#llx+%#llx", (ull)a.start,
		 (ull)a.size);
	if (aspace_map_alloc(q.t.as, a.start, a.size, a.flags, true))
		QT_FAIL(&q, "map_alloc failed");
	for (aspace_gpa_t p = a.start; p < a.start + a.size; p += PAGE) {
		uint64_t tag = page_tag(p);

		if (aspace_write(q.t.as, p + 8, &tag, sizeof(tag)))
			QT_FAIL(&q, "write %#llx", (ull)p);
	}
	ret = aspace_clone(q.t.as, &c);
	if (ret)
		QT_FAIL(&q, "clone = %d", ret);
	lo = a.start + align_down(t_rand() % a.size, PAGE);
	hi = lo + t_range(1, 600) * PAGE;
	hi = MIN(hi, a.start + a.size);
	for (int pass = 0; pass < 2; pass++) {
		unsigned access = pass ? ASPACE_WRITE : ASPACE_READ;

		snprintf(q.op, sizeof(q.op),
			 "cow: area %#llx+%#llx, populate %#llx-%#llx %#x",
			 (ull)a.start, (ull)a.size, (ull)lo, (ull)hi, access);
		ret = aspace_populate(c, lo, hi - lo, access);
		if (ret)
			QT_FAIL(&q, "returned %d", ret);
		for (aspace_gpa_t p = a.start; p < a.start + a.size;
		     p += PAGE) {
			struct aspace_xlate xs, xc;
			uint64_t tag = 0;
			bool priv;

			if (aspace_translate(q.t.as, p, &xs) ||
			    aspace_translate(c, p, &xc))
				QT_FAIL(&q, "page %#llx not mapped", (ull)p);
			/* Writes make private every leaf meeting the range. */
			priv = pass && align_down(p, xs.leaf_size) < hi &&
			       align_down(p, xs.leaf_size) + xs.leaf_size > lo;
			if (xc.leaf_size != xs.leaf_size ||
			    (xc.hpa == xs.hpa) == priv ||
			    (xc.flags == a.flags) != priv ||
			    xs.flags != ASPACE_READ)
				QT_FAIL(&q,
					"page %#llx: src hpa %#llx flags %#x"
					", clone hpa %#llx flags %#x, "
					"private %d",
					(ull)p, (ull)xs.hpa, xs.flags,
					(ull)xc.hpa, xc.flags, priv);
			if (aspace_read(c, p + 8, &tag, sizeof(tag)) ||
			    tag != page_tag(p))
				QT_FAIL(&q, "page %#llx lost its contents",
					(ull)p);
		}
	}
	aspace_destroy(c);
	aspace_clear(q.t.as);
	qt_destroy(&q);
}

/* ---- find_free_area ---- */

/* Brute force: every aligned start from the first candidate upwards. */
static int model_find_free(struct qt *q, aspace_gpa_t hint, uint64_t size,
			   aspace_gpa_t ls, aspace_gpa_t le, uint64_t align,
			   aspace_gpa_t *out)
{
	aspace_gpa_t lo = MAX(ls, q->win_lo), hi = MIN(le, q->win_hi);

	if (!size || size % PAGE || ls >= le ||
	    (align != PAGE && align != BLK && align != GIG))
		return -EINVAL;
	if (lo >= hi)
		return -ENOMEM;
	for (aspace_gpa_t c = align_up(MAX(hint, lo), align);
	     c >= MAX(hint, lo) && c < hi && size <= hi - c; c += align) {
		if (!model_overlaps(&q->m, c, size)) {
			*out = c;
			return 0;
		}
	}
	return -ENOMEM;
}

static aspace_gpa_t pick_edge(struct qt *q, aspace_gpa_t rlo, aspace_gpa_t rhi)
{
	if (q->m.n && t_chance(60)) {
		const struct m_area *a = &q->m.areas[t_rand() % q->m.n];

		return t_chance(50) ? a->start : a->start + a->size;
	}
	return align_down(t_range(rlo, rhi), PAGE);
}

static void find_free_round(struct qt *q)
{
	static const uint64_t units[] = {PAGE, BLK, GIG};
	uint64_t u = units[t_range(0, 2)];
	uint64_t span = MIN(64 * u, q->win_hi - q->win_lo);
	aspace_gpa_t rlo = align_down(t_range(q->win_lo, q->win_hi - span),
				      t_chance(70) ? u : PAGE);
	aspace_gpa_t rhi = rlo + span;

	if (rlo < q->win_lo)
		rlo = q->win_lo;
	aspace_clear(q->t.as);
	model_clear(&q->m);
	/* Lazy areas near unit boundaries, some touching each other. */
	for (int i = t_range(0, 8); i > 0; i--) {
		struct m_area a = {.alloc = true, .flags = ASPACE_READ};

		a.start = rlo + align_down(t_range(0, span), u);
		if (q->m.n && t_chance(30)) {
			const struct m_area *b = &q->m.areas[t_rand() % q->m.n];

			a.start = b->start + b->size;
		}
		a.start += (t_range(0, 2) - 1) * PAGE * (t_chance(50) ? 1 : 3);
		a.size = t_range(1, 4) * u + (t_range(0, 2) - 1) * PAGE;
		if (!a.size || a.start < q->win_lo || a.start >= q->win_hi ||
		    a.size > q->win_hi - a.start ||
		    model_overlaps(&q->m, a.start, a.size))
			continue;
		snprintf(q->op, sizeof(q->op), "map %#llx+%#llx", (ull)a.start,
			 (ull)a.size);
		if (aspace_map_alloc(q->t.as, a.start, a.size, a.flags, false))
			QT_FAIL(q, "map failed");
		model_add(&q->m, &a);
	}
	for (int k = 0; k < 40; k++) {
		uint64_t align = u, size;
		aspace_gpa_t hint, ls, le, got = 0, want = 0;
		int r, w;

		if (t_chance(30))
			align = u == PAGE ? BLK : u / 512;
		else if (t_chance(10) && u != GIG)
			align = u * 512;
		size = t_range(1, 3) * u + (t_range(0, 2) - 1) * PAGE;
		if (!size)
			size = PAGE;
		ls = t_chance(20) ? 0 : pick_edge(q, rlo, rhi);
		switch (t_range(0, 5)) {
		case 0:
			le = ~0ull;
			break;
		case 1: /* exactly one fit's worth past an aligned start */
			le = align_up(ls, align) + size;
			break;
		case 2:
			le = pick_edge(q, rlo, rhi) + size;
			break;
		default:
			le = pick_edge(q, rlo, rhi);
			break;
		}
		/* Mostly a real window; sometimes an empty one (-EINVAL). */
		if (le <= ls && t_chance(85))
			le = ls + t_range(1, 8) * u + (t_chance(30) ? PAGE : 0);
		hint = t_chance(30) ? 0 : pick_edge(q, rlo, rhi);
		if (t_chance(20))
			hint += t_range(1, 4) * PAGE;
		if (t_chance(3))
			align = t_chance(50) ? 2 * PAGE : 0;
		if (t_chance(3))
			size = t_chance(50) ? 0 : PAGE + 1;
		snprintf(q->op, sizeof(q->op),
			 "find_free(hint %#llx, size %#llx, [%#llx, %#llx), "
			 "align %#llx)",
			 (ull)hint, (ull)size, (ull)ls, (ull)le, (ull)align);
		w = model_find_free(q, hint, size, ls, le, align, &want);
		r = aspace_find_free_area(q->t.as, hint, size, ls, le, align,
					  &got);
		if (r != w || (!r && got != want))
			QT_FAIL(q, "returned %d at %#llx, model %d at %#llx", r,
				(ull)got, w, (ull)want);
		if (!r)
			seen.ff_ok++;
		else if (r == -ENOMEM)
			seen.ff_nomem++;
		else
			seen.ff_inval++;
		/* The answer must be mappable as such. */
		if (!r && t_chance(20)) {
			struct m_area a = {.alloc = true,
					   .start = got,
					   .size = size,
					   .flags = ASPACE_READ};

			if (aspace_map_alloc(q->t.as, got, size, a.flags,
					     false))
				QT_FAIL(q, "mapping the answer failed");
			model_add(&q->m, &a);
		}
	}
}

static void find_free_rounds(const struct t_fmt *fmt, unsigned rounds)
{
	struct aspace_platform plat = {0};
	struct qt q;

	qt_create(&q, fmt, &plat);
	for (unsigned i = 0; i < rounds; i++) {
		q.step = i;
		find_free_round(&q);
	}
	aspace_clear(q.t.as);
	model_clear(&q.m);
	qt_destroy(&q);
}

/* ---- main ---- */

static void platforms(const struct t_fmt *fmt, struct aspace_platform *p,
		      unsigned *n)
{
	memset(p, 0, 3 * sizeof(*p));
	*n = 2;
	if (t_fmt_riscv(fmt->fmt)) {
		p[1].svpbmt = t_chance(50);
		p[2].svpbmt = !p[1].svpbmt;
		*n = 3;
	}
	/* One run without big leaves: 1 GiB off, or both. */
	p[1].no_block_1g = true;
	p[1].no_block_2m = t_chance(50);
}

int main(int argc, char **argv)
{
	unsigned long steps = t_env_u64("ASPACE_STEPS", 120);
	uint64_t only = t_env_u64("ASPACE_FORMAT", ~0ull);
	char what[64];

	t_init("test_query", argc, argv);
	for (unsigned i = 0; i < t_nformats; i++) {
		struct aspace_platform plat[3];
		unsigned np;

		if (only != ~0ull && only != i)
			continue;
		platforms(&t_formats[i], plat, &np);
		find_free_rounds(&t_formats[i], 12);
		concurrent_round(&t_formats[i]);
		cow_round(&t_formats[i]);
		for (unsigned k = 0; k < np; k++) {
			random_steps(&t_formats[i], &plat[k], steps);
			for (int e = 0; e < 3; e++)
				enomem_round(&t_formats[i], &plat[k]);
		}
	}
	printf("test_query: find_free %lu found, %lu -ENOMEM, %lu -EINVAL; "
	       "populate %lu done, %lu -EFAULT, %lu -ENOMEM (HAL failing), "
	       "%lu complete (HAL failing); runs %lu mapped, %lu gaps; "
	       "check_access %lu true, %lu false\n",
	       seen.ff_ok, seen.ff_nomem, seen.ff_inval, seen.pop_ok,
	       seen.pop_fault, seen.pop_nomem, seen.pop_full, seen.runs_mapped,
	       seen.runs_gap, seen.access_true, seen.access_false);
	snprintf(what, sizeof(what), "%lu steps per format and platform",
		 steps);
	return t_finish("test_query", what);
}
