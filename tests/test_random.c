/* SPDX-License-Identifier: MIT */
/*
 * Random operation sequences checked against the shadow model and the
 * reference walker, for every format and several GPA widths and windows.
 *
 * After each step the whole table tree is decoded by the reference walker
 * and compared with the model (every leaf, every table, frame ownership,
 * stats), and single GPAs around every boundary are walked and translated.
 *
 * Half the faults, translations and host accesses go through a vCPU
 * handle attached on this thread (memb or QSBR), which must agree.
 *
 * Now and then the space is cloned (copy-on-write); operations then go to
 * either space until one of them is destroyed, and the checks also cover
 * what the two share: no frame is writable in one while mapped in the
 * other, and the HAL holds exactly what the two account for.
 *
 * ASPACE_SEED=n replays a run, ASPACE_STEPS=n sets the steps per format,
 * ASPACE_FORMAT=i runs only t_formats[i].
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "tcommon.h"

#define MAX_PROBES 4096
#define MAX_IOV 64
#define MAX_RW (3 * PAGE + 123)
#define POPULATE_CAP (512 * MIB)

/* An address space under test and its model; a clone makes a second. */
struct space {
	struct aspace *as;
	struct ref_walker w;
	struct model m;
	uint64_t root_bytes, root_table_pages;
	bool cow; /* cloned at some point: frames may be shared */
	struct aspace_vcpu *vcpu; /* on this thread, offline between calls */
};

struct rt {
	struct t_as t; /* the HAL and the configuration */
	struct space sp[2];
	unsigned cur; /* the space operations go to */
	struct t_fmt fmt;
	aspace_gpa_t win_lo, win_hi; /* window [lo, hi) */
	aspace_gpa_t pg_lo, pg_hi;   /* playground where areas go */
	unsigned width, oa_bits;
	unsigned long step;
	char op[200];
	bool want_barrier;     /* check the HAL accounting at the next check */
	uint64_t flush_offset; /* HAL flushes of spaces destroyed since */
	aspace_gpa_t probes[MAX_PROBES];
	size_t nprobes;
	uint64_t hal_flushes_seen;
};

#define S(rt) (&(rt)->sp[(rt)->cur])

#define RT_FAIL(rt, msg, ...)                                                  \
	t_fail("%s step %lu [%s] space %u: " msg, t_fmt_name(&(rt)->fmt),      \
	       (rt)->step, (rt)->op, (rt)->cur, ##__VA_ARGS__)

/*
 * The vCPU calls must give the same results as the control-path calls:
 * half the faults, translations and accesses go through the space's vCPU
 * handle (online only for the call, so grace periods never wait for it).
 */
static struct aspace_vcpu *vcpu_enter(struct rt *rt)
{
	struct aspace_vcpu *v = S(rt)->vcpu;

	if (!t_chance(50))
		return NULL;
	aspace_vcpu_online(v);
	return v;
}

static void vcpu_leave(struct aspace_vcpu *v)
{
	if (!v)
		return;
	aspace_vcpu_quiescent(v);
	aspace_vcpu_offline(v);
}

static int do_fault(struct rt *rt, aspace_gpa_t gpa, unsigned acc)
{
	struct aspace_vcpu *v = vcpu_enter(rt);
	int ret = v ? aspace_vcpu_fault(v, gpa, acc)
		    : aspace_handle_fault(S(rt)->as, gpa, acc);

	vcpu_leave(v);
	return ret;
}

static int do_translate(struct rt *rt, aspace_gpa_t gpa, struct aspace_xlate *x)
{
	struct aspace_vcpu *v = vcpu_enter(rt);
	int ret = v ? aspace_vcpu_translate(v, gpa, x)
		    : aspace_translate(S(rt)->as, gpa, x);

	vcpu_leave(v);
	return ret;
}

static int do_read(struct rt *rt, aspace_gpa_t gpa, void *buf, size_t len)
{
	struct aspace_vcpu *v = vcpu_enter(rt);
	int ret = v ? aspace_vcpu_read(v, gpa, buf, len)
		    : aspace_read(S(rt)->as, gpa, buf, len);

	vcpu_leave(v);
	return ret;
}

static int do_write(struct rt *rt, aspace_gpa_t gpa, const void *buf,
		    size_t len)
{
	struct aspace_vcpu *v = vcpu_enter(rt);
	int ret = v ? aspace_vcpu_write(v, gpa, buf, len)
		    : aspace_write(S(rt)->as, gpa, buf, len);

	vcpu_leave(v);
	return ret;
}

static void vcpu_attach(struct rt *rt, struct space *sp)
{
	sp->vcpu = aspace_vcpu_attach(sp->as);
	if (!sp->vcpu)
		RT_FAIL(rt, "aspace_vcpu_attach failed");
	aspace_vcpu_offline(sp->vcpu);
}

static void space_destroy(struct space *sp)
{
	/* Detaching needs the thread online (QSBR), as after attach. */
	aspace_vcpu_online(sp->vcpu);
	aspace_vcpu_detach(sp->vcpu);
	aspace_destroy(sp->as);
	sp->as = NULL;
	sp->vcpu = NULL;
	model_free(&sp->m);
}

static unsigned rand_flags(bool alloc)
{
	unsigned f = ASPACE_READ;

	if (t_chance(60))
		f |= ASPACE_WRITE;
	if (t_chance(35))
		f |= ASPACE_EXEC;
	if (t_chance(12))
		f |= ASPACE_UNCACHED;
	else if (!alloc && t_chance(12))
		f |= ASPACE_DEVICE;
	return f;
}

/* ---- probes ---- */

static void probe(struct rt *rt, aspace_gpa_t gpa)
{
	gpa &= ~(PAGE - 1);
	if (rt->nprobes < MAX_PROBES)
		rt->probes[rt->nprobes++] = gpa;
}

static void probe_range(struct rt *rt, aspace_gpa_t gpa, uint64_t size)
{
	aspace_gpa_t end = gpa + size;

	probe(rt, gpa - PAGE);
	probe(rt, gpa);
	probe(rt, end - PAGE);
	probe(rt, end);
	/* The first and last 2 MiB / 1 GiB boundaries inside. */
	for (uint64_t b = ASPACE_BLOCK_2M; b <= ASPACE_BLOCK_1G; b <<= 9) {
		aspace_gpa_t first = (gpa + b - 1) & ~(b - 1);
		aspace_gpa_t last = (end - 1) & ~(b - 1);

		if (first > gpa && first < end) {
			probe(rt, first - PAGE);
			probe(rt, first);
		}
		if (last > gpa && last != first) {
			probe(rt, last - PAGE);
			probe(rt, last);
		}
	}
	probe(rt, gpa + (t_rand() % size & ~(PAGE - 1)));
}

/* ---- choosing ranges ---- */

static uint64_t rand_size(void)
{
	switch (t_range(0, 19)) {
	case 0 ... 9:
		return t_range(1, 16) * PAGE;
	case 10 ... 15:
		return t_range(1, 4) * ASPACE_BLOCK_2M +
		       (t_chance(50) ? t_range(1, 3) * PAGE : 0) -
		       (t_chance(30) ? PAGE : 0);
	case 16 ... 17:
		return t_range(1, 48) * ASPACE_BLOCK_2M;
	default:
		return ASPACE_BLOCK_1G * t_range(1, 2) +
		       (t_chance(50) ? t_range(0, 3) * ASPACE_BLOCK_2M : 0) +
		       (t_chance(30) ? PAGE : 0);
	}
}

static aspace_gpa_t align_jitter(aspace_gpa_t gpa)
{
	static const uint64_t aligns[] = {PAGE, ASPACE_BLOCK_2M,
					  ASPACE_BLOCK_1G};
	uint64_t a = aligns[t_range(0, 2)];

	gpa &= ~(a - 1);
	if (t_chance(25))
		gpa += t_range(1, 3) * PAGE;
	else if (t_chance(15))
		gpa -= t_range(1, 3) * PAGE;
	return gpa;
}

/* A range in the playground, often next to or across an area edge. */
static void rand_range(struct rt *rt, aspace_gpa_t *gpa, uint64_t *size)
{
	uint64_t pg = rt->pg_hi - rt->pg_lo, s = rand_size();
	aspace_gpa_t g;

	if (s > pg)
		s = pg & ~(PAGE - 1);
	/* Without 2 MiB leaves, big areas are only slow to walk. */
	if (rt->t.cfg.platform.no_block_2m && s > 64 * MIB)
		s = 64 * MIB - (t_chance(50) ? PAGE : 0);
	if (S(rt)->m.n && t_chance(45)) {
		const struct m_area *a = &S(rt)->m.areas[t_rand() % S(rt)->m.n];
		aspace_gpa_t edge =
			t_chance(50) ? a->start : a->start + a->size;

		g = edge - (t_chance(50) ? 0 : (t_rand() % s & ~(PAGE - 1)));
		g = align_jitter(g);
	} else {
		g = rt->pg_lo + (t_rand() % (pg - s + 1));
		g = align_jitter(g);
	}
	if (g < rt->pg_lo || g > rt->pg_hi)
		g = rt->pg_lo;
	if (g + s > rt->pg_hi)
		g = rt->pg_hi - s;
	*gpa = g;
	*size = s;
}

/* ---- expectations ---- */

static bool ram_range(struct rt *rt, aspace_gpa_t gpa, uint64_t len,
		      bool *unbacked)
{
	aspace_gpa_t at = gpa, end = gpa + len;
	size_t i = model_lower(&S(rt)->m, at);
	bool ok = true;

	*unbacked = false;
	while (at < end) {
		const struct m_area *a = &S(rt)->m.areas[i];

		if (i >= S(rt)->m.n) {
			ok = false;
			break;
		}
		if (a->start > at) {
			/* A gap, then maybe more areas inside the range. */
			ok = false;
			at = a->start;
			continue;
		}
		if (!a->alloc && !a->backed)
			*unbacked = true;
		if (a->flags & ASPACE_DEVICE)
			ok = false;
		at = a->start + a->size;
		i++;
	}
	return ok;
}

/* What a host read of [gpa, gpa + len) must return (areas must be RAM). */
static void expected_bytes(struct rt *rt, aspace_gpa_t gpa, size_t len,
			   uint8_t *out)
{
	while (len) {
		aspace_gpa_t page = gpa & ~(PAGE - 1);
		size_t off = gpa - page, n = PAGE - off;
		long i = model_find(&S(rt)->m, gpa);
		const struct m_area *a;

		if (n > len)
			n = len;
		if (i < 0) {
			memset(out, 0, n);
		} else if ((a = &S(rt)->m.areas[i])->alloc) {
			const uint8_t *p = model_page(&S(rt)->m, page);

			if (p)
				memcpy(out, p + off, n);
			else
				memset(out, 0, n);
		} else {
			uint8_t *h = test_hal_ptr(rt->t.hal,
						  model_linear_hpa(a, gpa), n);

			if (h)
				memcpy(out, h, n);
			else
				memset(out, 0, n);
		}
		out += n;
		gpa += n;
		len -= n;
	}
}

/* The leaf a lazy fault at page must install, given the walk before it. */
static void predict_fault(struct rt *rt, const struct m_area *a,
			  aspace_gpa_t page, const struct ref_result *pre,
			  aspace_gpa_t *leaf, uint64_t *size)
{
	aspace_gpa_t slot = page & ~(ASPACE_BLOCK_2M - 1);

	if (!rt->t.cfg.platform.no_block_2m && slot >= a->start &&
	    slot + ASPACE_BLOCK_2M <= a->start + a->size &&
	    pre->status == REF_NOT_PRESENT && pre->level >= 1) {
		*leaf = slot;
		*size = ASPACE_BLOCK_2M;
	} else {
		*leaf = page;
		*size = PAGE;
	}
}

/* Lazy pages an access of [gpa, gpa + len) may fault in, with predictions. */
struct lazy {
	size_t n;
	aspace_gpa_t page[8], leaf[8];
	uint64_t size[8];
	/* present alloc pages, and where they were */
	size_t nw;
	aspace_gpa_t wpage[8];
	aspace_hpa_t whpa[8];
	uint64_t mark; /* HAL events before the access */
};

static void lazy_before(struct rt *rt, aspace_gpa_t gpa, uint64_t len,
			struct lazy *lz)
{
	lz->n = lz->nw = 0;
	lz->mark = test_hal_seq(rt->t.hal);
	for (aspace_gpa_t p = gpa & ~(PAGE - 1); p < gpa + len; p += PAGE) {
		long i = model_find(&S(rt)->m, p);
		struct ref_result pre;

		if (i < 0 || !S(rt)->m.areas[i].alloc)
			continue;
		if (model_present(&S(rt)->m, p)) {
			ref_walk(&S(rt)->w, p, &pre);
			lz->wpage[lz->nw] = p;
			lz->whpa[lz->nw++] = pre.hpa;
			continue;
		}
		if (lz->n == 8)
			RT_FAIL(rt, "test bug: too many lazy pages");
		ref_walk(&S(rt)->w, p, &pre);
		lz->page[lz->n] = p;
		predict_fault(rt, &S(rt)->m.areas[i], p, &pre, &lz->leaf[lz->n],
			      &lz->size[lz->n]);
		lz->n++;
	}
}

static bool flushed_since(struct rt *rt, uint64_t mark, aspace_gpa_t page)
{
	struct test_hal_event ev[256];
	long n = test_hal_events_since(rt->t.hal, mark, ev, 256);

	if (n < 0 || n == 256)
		return true; /* too much happened to follow */
	for (long k = 0; k < n; k++)
		if (ev[k].type == TEST_HAL_FLUSH &&
		    (!ev[k].size ||
		     (ev[k].addr <= page && page - ev[k].addr < ev[k].size)))
			return true;
	return false;
}

/*
 * A present alloc page keeps its frame, unless a write copied a frame
 * shared with a clone; the CPU may have cached the old one, so a flush
 * must cover it.
 */
static void watch_after(struct rt *rt, const struct lazy *lz)
{
	for (size_t k = 0; k < lz->nw; k++) {
		struct ref_result r;

		ref_walk(&S(rt)->w, lz->wpage[k], &r);
		if (r.status != REF_OK)
			RT_FAIL(rt, "alloc page %#llx lost its frame",
				(unsigned long long)lz->wpage[k]);
		if (r.hpa == lz->whpa[k])
			continue;
		if (!S(rt)->cow)
			RT_FAIL(rt,
				"alloc page %#llx moved from %#llx to %#llx",
				(unsigned long long)lz->wpage[k],
				(unsigned long long)lz->whpa[k],
				(unsigned long long)r.hpa);
		if (test_hal_ops(rt->t.hal)->flush &&
		    !flushed_since(rt, lz->mark, lz->wpage[k]))
			RT_FAIL(rt, "copy-on-write moved %#llx without a flush",
				(unsigned long long)lz->wpage[k]);
	}
}

/* What an access does to the lazy pages of its range. */
enum lazy_expect {
	LAZY_MAPPED, /* faults, and successful writes and iovs */
	LAZY_ABSENT, /* reads: zeros without faulting in */
	LAZY_MAYBE,  /* a failed iov: pages faulted so far stay mapped */
};

/*
 * After the access: each lazy page must now be mapped by its predicted
 * leaf, stay unmapped, or be either, as expect says. A page faulted in
 * reads as zeros, as the model has it. Teach the model.
 */
static void lazy_after(struct rt *rt, const struct lazy *lz,
		       enum lazy_expect expect)
{
	watch_after(rt, lz);
	for (size_t k = 0; k < lz->n; k++) {
		struct ref_result r;

		ref_walk(&S(rt)->w, lz->page[k], &r);
		if (r.status == REF_NOT_PRESENT && expect != LAZY_MAPPED)
			continue;
		if (expect == LAZY_ABSENT)
			RT_FAIL(rt,
				"lazy page %#llx faulted in by a read "
				"(status %d %s)",
				(unsigned long long)lz->page[k], r.status,
				r.why);
		if (r.status != REF_OK)
			RT_FAIL(rt,
				"lazy page %#llx not mapped after access "
				"(status %d %s)",
				(unsigned long long)lz->page[k], r.status,
				r.why);
		if (r.leaf_gpa != lz->leaf[k] || r.leaf_size != lz->size[k])
			RT_FAIL(rt,
				"lazy page %#llx mapped by leaf %#llx+%#llx, "
				"expected %#llx+%#llx",
				(unsigned long long)lz->page[k],
				(unsigned long long)r.leaf_gpa,
				(unsigned long long)r.leaf_size,
				(unsigned long long)lz->leaf[k],
				(unsigned long long)lz->size[k]);
		model_set_present(&S(rt)->m, r.leaf_gpa, r.leaf_size);
	}
}

/* ---- whole-tree check ---- */

struct frame {
	aspace_hpa_t hpa;
	uint64_t size;
	bool table, writable;
};

struct tree_check {
	struct rt *rt;
	struct m_rangeset seen_alloc, seen_linear;
	uint64_t nleaf[3], ntables, data_bytes;
	uint64_t cache_frames, flushes; /* from the space's stats */
	struct frame *frames;
	size_t nframes, cap;
	/* distinct HAL blocks of data frames */
	aspace_hpa_t last_block;
	struct frame *blocks;
	size_t nblocks, cap_blocks;
};

static void push_frame(struct frame **v, size_t *n, size_t *cap, struct frame f)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			abort();
	}
	(*v)[(*n)++] = f;
}

static void add_frame(struct tree_check *c, aspace_hpa_t hpa, uint64_t size,
		      bool table, bool writable)
{
	push_frame(&c->frames, &c->nframes, &c->cap,
		   (struct frame){hpa, size, table, writable});
}

static bool intersects_area(const struct model *m, aspace_gpa_t gpa,
			    uint64_t span)
{
	return model_overlaps(m, gpa, span);
}

static int check_table(void *arg, const struct ref_table *t)
{
	struct tree_check *c = arg;
	struct rt *rt = c->rt;
	aspace_hpa_t base;
	uint64_t bsize;

	if (t->level == S(rt)->w.levels - 1) {
		if (t->hpa != S(rt)->w.root)
			RT_FAIL(rt, "root moved");
		return 0;
	}
	c->ntables++;
	if (!intersects_area(&S(rt)->m, t->gpa, t->span))
		RT_FAIL(rt,
			"level-%u table at hpa %#llx for gpa %#llx+%#llx "
			"(%u valid entries) has no area in its span: not freed",
			t->level, (unsigned long long)t->hpa,
			(unsigned long long)t->gpa, (unsigned long long)t->span,
			t->present);
	bsize = test_hal_block_of(rt->t.hal, t->hpa, &base);
	if (!bsize || base + bsize < t->hpa + t->size)
		RT_FAIL(rt, "table at hpa %#llx is not an allocated frame",
			(unsigned long long)t->hpa);
	add_frame(c, t->hpa, t->size, true, false);
	return 0;
}

/*
 * After a clone, alloc frames are mapped read-only until the first write
 * copies them (or finds them no longer shared).
 */
static bool cow_readonly(struct rt *rt, const struct m_area *a, unsigned perm)
{
	return S(rt)->cow && a->alloc &&
	       perm == (a->flags & ASPACE_PERM_MASK & ~ASPACE_WRITE);
}

/* Check that leaf [g, g+s) is exactly what the areas it lies in expect. */
static void check_leaf_areas(struct rt *rt, const struct ref_result *r)
{
	aspace_gpa_t at = r->leaf_gpa, end = r->leaf_gpa + r->leaf_size;
	size_t i = model_lower(&S(rt)->m, at);
	bool alloc = false;
	char fb[32];

	for (; at < end; i++) {
		const struct m_area *a = &S(rt)->m.areas[i];

		if (i >= S(rt)->m.n || a->start > at)
			RT_FAIL(rt,
				"leaf gpa %#llx+%#llx maps gpa %#llx "
				"outside every area",
				(unsigned long long)r->leaf_gpa,
				(unsigned long long)r->leaf_size,
				(unsigned long long)at);
		if (at != r->leaf_gpa && a->alloc != alloc)
			RT_FAIL(rt, "leaf %#llx spans linear and alloc areas",
				(unsigned long long)r->leaf_gpa);
		alloc = a->alloc;
		if ((r->perm != (a->flags & ASPACE_PERM_MASK) &&
		     !cow_readonly(rt, a, r->perm)) ||
		    r->mt != t_expected_mt(&rt->t, a->flags))
			RT_FAIL(rt,
				"leaf gpa %#llx+%#llx: perm %#x mt %s, area "
				"%#llx has %s",
				(unsigned long long)r->leaf_gpa,
				(unsigned long long)r->leaf_size, r->perm,
				ref_memtype_name(r->mt),
				(unsigned long long)a->start,
				t_flags_str(a->flags, fb, sizeof(fb)));
		if (!a->alloc &&
		    r->leaf_hpa + (at - r->leaf_gpa) != model_linear_hpa(a, at))
			RT_FAIL(rt,
				"leaf gpa %#llx maps hpa %#llx, linear area "
				"wants %#llx",
				(unsigned long long)at,
				(unsigned long long)(r->leaf_hpa + at -
						     r->leaf_gpa),
				(unsigned long long)model_linear_hpa(a, at));
		at = a->start + a->size;
	}
}

static void check_data_frame(struct tree_check *c, const struct ref_result *r)
{
	struct rt *rt = c->rt;
	aspace_hpa_t base;
	uint64_t bsize;

	for (aspace_gpa_t p = r->leaf_gpa; p < r->leaf_gpa + r->leaf_size;
	     p += PAGE)
		if (!model_present(&S(rt)->m, p))
			RT_FAIL(rt, "alloc page %#llx mapped but never faulted",
				(unsigned long long)p);
	bsize = test_hal_block_of(rt->t.hal, r->leaf_hpa, &base);
	if (!bsize || base + bsize < r->leaf_hpa + r->leaf_size)
		RT_FAIL(rt,
			"alloc leaf gpa %#llx -> hpa %#llx: not inside an "
			"allocated frame",
			(unsigned long long)r->leaf_gpa,
			(unsigned long long)r->leaf_hpa);
	/* stats.data_frames_bytes: alloc memory mapped (aspace.h). */
	c->data_bytes += r->leaf_size;
	if (base != c->last_block) {
		/* Leaves of one frame are adjacent in GPA order. */
		c->last_block = base;
		push_frame(&c->blocks, &c->nblocks, &c->cap_blocks,
			   (struct frame){base, bsize, false, false});
	}
	add_frame(c, r->leaf_hpa, r->leaf_size, false, r->perm & ASPACE_WRITE);
	rs_add(&c->seen_alloc, r->leaf_gpa, r->leaf_gpa + r->leaf_size);
}

static int check_leaf(void *arg, const struct ref_result *r)
{
	struct tree_check *c = arg;
	struct rt *rt = c->rt;
	long i;

	if (r->status != REF_OK)
		RT_FAIL(rt, "invalid entry: %s", r->why);
	if (r->leaf_size > ASPACE_BLOCK_1G)
		RT_FAIL(rt, "leaf of %#llx bytes at gpa %#llx",
			(unsigned long long)r->leaf_size,
			(unsigned long long)r->leaf_gpa);
	c->nleaf[r->level]++;
	if (r->leaf_gpa < rt->win_lo || r->leaf_gpa + r->leaf_size > rt->win_hi)
		RT_FAIL(rt, "leaf %#llx+%#llx outside the window",
			(unsigned long long)r->leaf_gpa,
			(unsigned long long)r->leaf_size);
	check_leaf_areas(rt, r);
	i = model_find(&S(rt)->m, r->leaf_gpa);
	if (S(rt)->m.areas[i].alloc)
		check_data_frame(c, r);
	else
		rs_add(&c->seen_linear, r->leaf_gpa,
		       r->leaf_gpa + r->leaf_size);
	return 0;
}

static int frame_cmp(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;

	return x->hpa < y->hpa ? -1 : x->hpa > y->hpa;
}

static void check_frames_disjoint(struct rt *rt, struct tree_check *c)
{
	if (c->nframes)
		qsort(c->frames, c->nframes, sizeof(*c->frames), frame_cmp);
	for (size_t i = 1; i < c->nframes; i++) {
		const struct frame *p = &c->frames[i - 1], *f = &c->frames[i];

		if (p->hpa + p->size > f->hpa)
			RT_FAIL(rt,
				"host frames overlap: %s %#llx+%#llx and %s "
				"%#llx+%#llx",
				p->table ? "table" : "data",
				(unsigned long long)p->hpa,
				(unsigned long long)p->size,
				f->table ? "table" : "data",
				(unsigned long long)f->hpa,
				(unsigned long long)f->size);
	}
}

static void check_coverage(struct rt *rt, struct tree_check *c)
{
	struct m_rangeset lin = {0};

	for (size_t i = 0; i < S(rt)->m.n; i++)
		if (!S(rt)->m.areas[i].alloc)
			rs_add(&lin, S(rt)->m.areas[i].start,
			       S(rt)->m.areas[i].start +
				       S(rt)->m.areas[i].size);
	if (!rs_equal(&lin, &c->seen_linear))
		RT_FAIL(rt,
			"linear areas are not exactly covered by leaves "
			"(%zu model ranges, %zu mapped ranges)",
			lin.n, c->seen_linear.n);
	if (!rs_equal(&S(rt)->m.present, &c->seen_alloc)) {
		for (size_t i = 0; i < S(rt)->m.present.n; i++) {
			aspace_gpa_t s = S(rt)->m.present.r[i].start;

			if (!rs_contains(&c->seen_alloc, s))
				RT_FAIL(rt, "alloc page %#llx lost its frame",
					(unsigned long long)s);
		}
		RT_FAIL(rt, "alloc pages mapped differ from the model");
	}
	rs_free(&lin);
}

static unsigned nspaces(const struct rt *rt)
{
	return !!rt->sp[0].as + !!rt->sp[1].as;
}

/* Per-space stats against the tree (after a barrier, frames too). */
static void check_stats(struct rt *rt, struct tree_check *c, bool barrier)
{
	struct aspace_stats st;

	aspace_stats(S(rt)->as, &st);
	c->cache_frames = st.cache_frames;
	c->flushes = st.flushes;
	if (st.mapped_4k != c->nleaf[0] || st.mapped_2m != c->nleaf[1] ||
	    st.mapped_1g != c->nleaf[2])
		RT_FAIL(rt,
			"stats mapped 4k/2m/1g %llu/%llu/%llu, tables hold "
			"%llu/%llu/%llu",
			(unsigned long long)st.mapped_4k,
			(unsigned long long)st.mapped_2m,
			(unsigned long long)st.mapped_1g,
			(unsigned long long)c->nleaf[0],
			(unsigned long long)c->nleaf[1],
			(unsigned long long)c->nleaf[2]);
	/* Frames of unlinked tables are held until the grace period. */
	if (!barrier)
		return;
	if (st.table_pages != S(rt)->root_table_pages + c->ntables)
		RT_FAIL(rt,
			"stats table_pages %llu, tree has %llu + root (%llu)",
			(unsigned long long)st.table_pages,
			(unsigned long long)c->ntables,
			(unsigned long long)S(rt)->root_table_pages);
	/* Alone, a space's mapped alloc bytes are its leaves'; with a clone
	 * or a shared mapping alive the counts of the two spaces overlap. */
	if (nspaces(rt) == 1 && st.data_frames_bytes != c->data_bytes)
		RT_FAIL(rt, "stats data_frames_bytes %#llx, leaves use %#llx",
			(unsigned long long)st.data_frames_bytes,
			(unsigned long long)c->data_bytes);
}

static void check_space(struct rt *rt, struct tree_check *c, bool barrier)
{
	struct ref_visitor v = {check_table, check_leaf, c};

	c->rt = rt;
	c->last_block = ~0ull;
	ref_visit(&S(rt)->w, 0, ~0ull, &v);
	check_coverage(rt, c);
	check_frames_disjoint(rt, c);
	check_stats(rt, c, barrier);
}

static void tree_check_free(struct tree_check *c)
{
	rs_free(&c->seen_alloc);
	rs_free(&c->seen_linear);
	free(c->frames);
	free(c->blocks);
	memset(c, 0, sizeof(*c));
}

/* A frame mapped writable in one space must not be mapped by the other. */
static void check_no_shared_writable(struct rt *rt, const struct tree_check *x,
				     const struct tree_check *y)
{
	for (size_t i = 0; i < x->nframes; i++) {
		const struct frame *f = &x->frames[i];

		if (!f->writable)
			continue;
		for (size_t k = 0; k < y->nframes; k++) {
			const struct frame *g = &y->frames[k];

			if (!g->table && g->hpa < f->hpa + f->size &&
			    f->hpa < g->hpa + g->size)
				RT_FAIL(rt,
					"frame %#llx+%#llx is writable in one "
					"space and mapped in the other",
					(unsigned long long)f->hpa,
					(unsigned long long)f->size);
		}
	}
}

/*
 * Every frame the HAL handed out is a root, a table, a cached frame or a
 * data frame one of the spaces maps (counted once when shared).
 */
static void check_hal_bytes(struct rt *rt, struct tree_check *tc)
{
	struct frame *all = NULL;
	size_t n = 0, cap = 0;
	uint64_t want = 0, hal = test_hal_bytes(rt->t.hal);

	for (unsigned i = 0; i < 2; i++) {
		if (!rt->sp[i].as)
			continue;
		want += rt->sp[i].root_bytes + tc[i].ntables * PAGE +
			tc[i].cache_frames * PAGE;
		for (size_t k = 0; k < tc[i].nblocks; k++)
			push_frame(&all, &n, &cap, tc[i].blocks[k]);
	}
	if (n)
		qsort(all, n, sizeof(*all), frame_cmp);
	for (size_t k = 0; k < n; k++)
		if (!k || all[k].hpa != all[k - 1].hpa)
			want += all[k].size;
	free(all);
	if (hal != want)
		RT_FAIL(rt,
			"HAL holds %#llx bytes, the spaces account for %#llx "
			"(roots, tables, cached frames, distinct data frames)",
			(unsigned long long)hal, (unsigned long long)want);
}

static void check_shared(struct rt *rt, struct tree_check *tc, bool barrier)
{
	struct test_hal_counts hc;
	uint64_t flushes = rt->flush_offset;

	if (nspaces(rt) == 2) {
		check_no_shared_writable(rt, &tc[0], &tc[1]);
		check_no_shared_writable(rt, &tc[1], &tc[0]);
	}
	test_hal_counts(rt->t.hal, &hc);
	for (unsigned i = 0; i < 2; i++)
		if (rt->sp[i].as)
			flushes += tc[i].flushes;
	if (test_hal_ops(rt->t.hal)->flush && flushes != hc.flushes)
		RT_FAIL(rt, "stats count %llu flushes, the HAL saw %llu",
			(unsigned long long)flushes,
			(unsigned long long)hc.flushes);
	if (barrier)
		check_hal_bytes(rt, tc);
}

/* ---- single-GPA checks ---- */

static bool compatible(const struct m_area *a, const struct m_area *b)
{
	if (a->start + a->size != b->start || a->alloc != b->alloc ||
	    a->flags != b->flags)
		return false;
	return a->alloc || a->hpa + a->size == b->hpa;
}

/* [s, s+n) must be a run of whole, compatible model areas holding area i. */
static bool area_bounds_ok(const struct model *m, size_t i, aspace_gpa_t s,
			   uint64_t n)
{
	size_t j = i;

	while (m->areas[j].start > s) {
		if (!j || !compatible(&m->areas[j - 1], &m->areas[j]))
			return false;
		j--;
	}
	if (m->areas[j].start != s)
		return false;
	for (j = i; m->areas[j].start + m->areas[j].size < s + n; j++)
		if (j + 1 >= m->n ||
		    !compatible(&m->areas[j], &m->areas[j + 1]))
			return false;
	return m->areas[j].start + m->areas[j].size == s + n;
}

static void check_translate(struct rt *rt, aspace_gpa_t gpa, long i,
			    const struct ref_result *r)
{
	struct aspace_xlate x;
	int ret = do_translate(rt, gpa, &x), want;
	char fa[32], fb[32];

	if (gpa < rt->win_lo || gpa >= rt->win_hi)
		want = -EINVAL;
	else
		want = r->status == REF_OK ? 0 : -ENOENT;
	if (ret != want)
		RT_FAIL(rt, "translate(%#llx) = %d, want %d",
			(unsigned long long)gpa, ret, want);
	if (ret)
		return;
	if (x.hpa != r->hpa || x.leaf_size != r->leaf_size)
		RT_FAIL(rt,
			"translate(%#llx): hpa %#llx leaf %#llx, tables say "
			"%#llx leaf %#llx",
			(unsigned long long)gpa, (unsigned long long)x.hpa,
			(unsigned long long)x.leaf_size,
			(unsigned long long)r->hpa,
			(unsigned long long)r->leaf_size);
	if (!t_xlate_flags_ok(&rt->t, S(rt)->m.areas[i].flags, x.flags) &&
	    !(cow_readonly(rt, &S(rt)->m.areas[i], r->perm) &&
	      t_xlate_flags_ok(&rt->t,
			       (S(rt)->m.areas[i].flags & ~ASPACE_PERM_MASK) |
				       r->perm,
			       x.flags)))
		RT_FAIL(rt, "translate(%#llx): flags %s, area has %s",
			(unsigned long long)gpa,
			t_flags_str(x.flags, fa, sizeof(fa)),
			t_flags_str(S(rt)->m.areas[i].flags, fb, sizeof(fb)));
	if (!area_bounds_ok(&S(rt)->m, i, x.area_start, x.area_size))
		RT_FAIL(rt,
			"translate(%#llx): area %#llx+%#llx, model area "
			"%#llx+%#llx",
			(unsigned long long)gpa,
			(unsigned long long)x.area_start,
			(unsigned long long)x.area_size,
			(unsigned long long)S(rt)->m.areas[i].start,
			(unsigned long long)S(rt)->m.areas[i].size);
}

static void check_content(struct rt *rt, aspace_gpa_t page,
			  const struct ref_result *r)
{
	const uint8_t *want = model_page(&S(rt)->m, page);
	const uint8_t *host = test_hal_ptr(rt->t.hal, r->hpa, PAGE);
	static const uint8_t zero[PAGE];

	if (!host)
		RT_FAIL(rt, "alloc page %#llx maps hpa %#llx outside the arena",
			(unsigned long long)page, (unsigned long long)r->hpa);
	if (memcmp(host, want ? want : zero, PAGE)) {
		size_t k = 0;

		while (host[k] == (want ? want[k] : 0))
			k++;
		RT_FAIL(rt, "alloc page %#llx byte %zu is %#x, want %#x%s",
			(unsigned long long)page, k, host[k],
			want ? want[k] : 0, want ? "" : " (never written)");
	}
}

static void check_probe(struct rt *rt, aspace_gpa_t gpa)
{
	struct ref_result r;
	long i = model_find(&S(rt)->m, gpa);
	bool want_present;

	ref_walk(&S(rt)->w, gpa, &r);
	if (gpa >> rt->width) {
		if (r.status != REF_OUT_OF_RANGE)
			RT_FAIL(rt,
				"walker: %#llx beyond %u bits not out of "
				"range",
				(unsigned long long)gpa, rt->width);
		check_translate(rt, gpa, i, &r);
		return;
	}
	if (r.status == REF_INVALID)
		RT_FAIL(rt, "gpa %#llx: %s", (unsigned long long)gpa, r.why);
	want_present = i >= 0 && (!S(rt)->m.areas[i].alloc ||
				  model_present(&S(rt)->m, gpa));
	if (want_present != (r.status == REF_OK))
		RT_FAIL(rt, "gpa %#llx: %s, model says %s",
			(unsigned long long)gpa,
			r.status == REF_OK ? "mapped" : "not mapped",
			want_present ? "mapped" : "not mapped");
	check_translate(rt, gpa, i, &r);
	if (want_present && S(rt)->m.areas[i].alloc)
		check_content(rt, gpa, &r);
}

static void add_space_probes(struct rt *rt)
{
	const uint64_t top = 1ull << rt->width;

	for (size_t i = 0; i < S(rt)->m.n; i++)
		probe_range(rt, S(rt)->m.areas[i].start,
			    S(rt)->m.areas[i].size);
	probe(rt, rt->win_lo - PAGE);
	probe(rt, rt->win_hi);
	for (size_t i = 0, n = rt->nprobes; i < n; i++) {
		aspace_gpa_t g = rt->probes[i];

		/* GPAs the index math could wrap onto this one. */
		if (i < 16 && !(g >> rt->width))
			probe(rt, g + top);
	}
}

/* Every live space: its whole tree, then GPAs around the op and areas. */
static void check_all(struct rt *rt, bool barrier)
{
	static aspace_gpa_t op_probes[MAX_PROBES];
	struct tree_check tc[2];
	size_t nop = rt->nprobes;
	unsigned saved = rt->cur;

	memset(tc, 0, sizeof(tc));
	barrier |= rt->want_barrier;
	rt->want_barrier = false;
	memcpy(op_probes, rt->probes, nop * sizeof(*op_probes));
	for (unsigned i = 0; i < 2; i++)
		if (barrier && rt->sp[i].as)
			aspace_barrier(rt->sp[i].as);
	for (unsigned i = 0; i < 2; i++) {
		if (!rt->sp[i].as)
			continue;
		rt->cur = i;
		memcpy(rt->probes, op_probes, nop * sizeof(*op_probes));
		rt->nprobes = nop;
		add_space_probes(rt);
		check_space(rt, &tc[i], barrier);
		for (size_t k = 0; k < rt->nprobes; k++)
			check_probe(rt, rt->probes[k]);
	}
	rt->cur = saved;
	check_shared(rt, tc, barrier);
	tree_check_free(&tc[0]);
	tree_check_free(&tc[1]);
	rt->nprobes = 0;
}

/* ---- flush checks ---- */

/*
 * The CPU may cache what the changed leaves mapped: flushes must cover
 * them, and no frame may go back to the HAL before a flush.
 */
static void check_flushed(struct rt *rt, uint64_t mark,
			  const struct m_rangeset *need)
{
	struct test_hal_event ev[512];
	struct m_rangeset done = {0};
	bool all = false, any = false;
	long n;

	if (!test_hal_ops(rt->t.hal)->flush || !need->n)
		return;
	aspace_barrier(S(rt)->as);
	n = test_hal_events_since(rt->t.hal, mark, ev, 512);
	if (n < 0 || n == 512)
		return; /* too much happened to follow */
	for (long k = 0; k < n; k++) {
		if (ev[k].type == TEST_HAL_FLUSH) {
			any = true;
			if (!ev[k].size)
				all = true;
			else
				rs_add(&done, ev[k].addr,
				       ev[k].addr + ev[k].size);
		}
		if (ev[k].type == TEST_HAL_FREE && !any)
			RT_FAIL(rt, "frame %#llx freed before any flush",
				(unsigned long long)ev[k].addr);
	}
	for (size_t i = 0; i < need->n && !all; i++) {
		struct m_rangeset miss = {0};

		rs_add(&miss, need->r[i].start, need->r[i].end);
		for (size_t j = 0; j < done.n; j++)
			rs_remove(&miss, done.r[j].start, done.r[j].end);
		if (miss.n)
			RT_FAIL(rt, "no flush covers gpa %#llx+%#llx",
				(unsigned long long)miss.r[0].start,
				(unsigned long long)(miss.r[0].end -
						     miss.r[0].start));
		rs_free(&miss);
	}
	rs_free(&done);
}

struct changed_leaves {
	struct rt *rt;
	aspace_gpa_t lo, hi;
	bool unmap;
	unsigned new_flags;
	struct m_rangeset need; /* what must be flushed */
};

static int changed_leaf(void *arg, const struct ref_result *r)
{
	struct changed_leaves *c = arg;
	aspace_gpa_t s = r->leaf_gpa, e = r->leaf_gpa + r->leaf_size;

	if (r->status != REF_OK)
		return 0;
	if (!c->unmap && !(r->perm & ~c->new_flags))
		return 0;
	rs_add(&c->need, s < c->lo ? c->lo : s, e > c->hi ? c->hi : e);
	return 0;
}

/* Leaves in the range that unmap (or protect to new_flags) takes from. */
static void changed_leaves(struct rt *rt, aspace_gpa_t gpa, uint64_t size,
			   bool unmap, unsigned new_flags,
			   struct changed_leaves *c)
{
	struct ref_visitor v = {NULL, changed_leaf, c};

	memset(c, 0, sizeof(*c));
	c->rt = rt;
	c->lo = gpa;
	c->hi = gpa + size;
	c->unmap = unmap;
	c->new_flags = new_flags;
	ref_visit(&S(rt)->w, gpa, size, &v);
}

/* ---- operations ---- */

static void check_largest_leaves(struct rt *rt, aspace_gpa_t gpa,
				 uint64_t size);

static bool pick_backed_hpa(struct rt *rt, aspace_gpa_t gpa, uint64_t size,
			    aspace_hpa_t *hpa)
{
	aspace_hpa_t lb = test_hal_linear_base(rt->t.hal);
	uint64_t ls = test_hal_linear_size(rt->t.hal);

	if (size > ls)
		return false;
	for (int tries = 0; tries < 8; tries++) {
		uint64_t align = t_chance(50)	? ASPACE_BLOCK_1G
				 : t_chance(50) ? ASPACE_BLOCK_2M
						: PAGE;
		uint64_t off = t_rand() % (ls - size + 1);
		bool clash = false;

		/* 4 KiB leaves only for small areas: walking them is slow. */
		if (align == PAGE && size > 64 * MIB)
			align = ASPACE_BLOCK_2M;
		/* Same offset in the block as the GPA: large leaves fit... */
		off = (off & ~(align - 1)) | (gpa & (align - 1) & ~(PAGE - 1));
		if (off + size > ls && off >= align)
			off -= align;
		if (off + size > ls)
			continue;
		/* ...or, for small areas, deliberately not. */
		if (align == PAGE)
			off = (t_rand() % (ls - size + 1)) & ~(PAGE - 1);
		for (size_t i = 0; i < S(rt)->m.n && !clash; i++) {
			const struct m_area *a = &S(rt)->m.areas[i];

			clash = !a->alloc && a->backed &&
				a->hpa < lb + off + size &&
				lb + off < a->hpa + a->size;
		}
		if (!clash) {
			*hpa = lb + off;
			return true;
		}
	}
	return false;
}

static void op_map_linear(struct rt *rt)
{
	struct m_area a = {.alloc = false};
	int ret, want;
	char fb[32];

	rand_range(rt, &a.start, &a.size);
	a.flags = rand_flags(false);
	a.backed = t_chance(85) && pick_backed_hpa(rt, a.start, a.size, &a.hpa);
	if (!a.backed) {
		/* Host memory nobody touches, high in the HPA space. */
		uint64_t top = 1ull << rt->oa_bits;

		a.hpa = top - 4 * GIB - (t_rand() % (8 * GIB) & ~(GIB - 1));
		a.hpa += a.start & (GIB - 1);
		while (a.hpa + a.size > top)
			a.hpa -= GIB;
	}
	snprintf(rt->op, sizeof(rt->op), "map_linear %#llx+%#llx hpa %#llx %s",
		 (unsigned long long)a.start, (unsigned long long)a.size,
		 (unsigned long long)a.hpa,
		 t_flags_str(a.flags, fb, sizeof(fb)));
	want = model_overlaps(&S(rt)->m, a.start, a.size) ? -EEXIST : 0;
	ret = aspace_map_linear(S(rt)->as, a.start, a.hpa, a.size, a.flags);
	if (ret != want)
		RT_FAIL(rt, "returned %d, want %d", ret, want);
	probe_range(rt, a.start, a.size);
	if (ret)
		return;
	model_add(&S(rt)->m, &a);
	check_largest_leaves(rt, a.start, a.size);
}

struct largest {
	struct rt *rt;
	aspace_gpa_t gpa;
	uint64_t size;
};

static int largest_leaf(void *arg, const struct ref_result *r)
{
	struct largest *l = arg;
	const struct aspace_platform *pf = &l->rt->t.cfg.platform;

	for (uint64_t s = ASPACE_BLOCK_2M; s <= ASPACE_BLOCK_1G; s <<= 9) {
		aspace_gpa_t g = r->leaf_gpa & ~(s - 1);
		aspace_hpa_t h = r->leaf_hpa - (r->leaf_gpa - g);

		if (s <= r->leaf_size || (h & (s - 1)) || g < l->gpa ||
		    g + s > l->gpa + l->size)
			continue;
		if ((s == ASPACE_BLOCK_2M && pf->no_block_2m) ||
		    (s == ASPACE_BLOCK_1G && pf->no_block_1g))
			continue;
		/* A 2-level S2 walk has no level that maps 1 GiB. */
		if (s == ASPACE_BLOCK_1G && S(l->rt)->w.levels < 3)
			continue;
		RT_FAIL(l->rt,
			"leaf gpa %#llx size %#llx could be a %#llx block at "
			"%#llx",
			(unsigned long long)r->leaf_gpa,
			(unsigned long long)r->leaf_size, (unsigned long long)s,
			(unsigned long long)g);
	}
	return 0;
}

static void check_largest_leaves(struct rt *rt, aspace_gpa_t gpa, uint64_t size)
{
	struct largest l = {rt, gpa, size};
	struct ref_visitor v = {NULL, largest_leaf, &l};

	ref_visit(&S(rt)->w, gpa, size, &v);
}

static void op_map_alloc(struct rt *rt)
{
	struct m_area a = {.alloc = true};
	bool populate = t_chance(30);
	int ret, want;
	char fb[32];

	rand_range(rt, &a.start, &a.size);
	if (populate && a.size > 64 * MIB)
		a.size = (t_range(1, 32) * ASPACE_BLOCK_2M) -
			 PAGE * t_range(0, 1);
	if (populate && test_hal_bytes(rt->t.hal) + a.size > POPULATE_CAP)
		populate = false;
	a.flags = rand_flags(true);
	snprintf(rt->op, sizeof(rt->op), "map_alloc %#llx+%#llx %s%s",
		 (unsigned long long)a.start, (unsigned long long)a.size,
		 t_flags_str(a.flags, fb, sizeof(fb)),
		 populate ? " populate" : "");
	want = model_overlaps(&S(rt)->m, a.start, a.size) ? -EEXIST : 0;
	ret = aspace_map_alloc(S(rt)->as, a.start, a.size, a.flags, populate);
	if (ret != want)
		RT_FAIL(rt, "returned %d, want %d", ret, want);
	probe_range(rt, a.start, a.size);
	if (ret)
		return;
	model_add(&S(rt)->m, &a);
	if (populate)
		model_set_present(&S(rt)->m, a.start, a.size);
}

static void op_unmap(struct rt *rt)
{
	aspace_gpa_t gpa;
	uint64_t size, mark;
	struct changed_leaves c;
	int ret;

	rand_range(rt, &gpa, &size);
	snprintf(rt->op, sizeof(rt->op), "unmap %#llx+%#llx",
		 (unsigned long long)gpa, (unsigned long long)size);
	changed_leaves(rt, gpa, size, true, 0, &c);
	aspace_barrier(S(rt)->as); /* earlier deferred frees */
	mark = test_hal_seq(rt->t.hal);
	ret = aspace_unmap(S(rt)->as, gpa, size);
	if (ret)
		RT_FAIL(rt, "returned %d", ret);
	model_remove(&S(rt)->m, gpa, size);
	probe_range(rt, gpa, size);
	check_flushed(rt, mark, &c.need);
	rs_free(&c.need);
}

/* Permissions only; now and then a memory-type bit, which is -EINVAL. */
static unsigned rand_protect_flags(void)
{
	unsigned f = rand_flags(false) & ASPACE_PERM_MASK;

	if (t_chance(8))
		f |= t_chance(50) ? ASPACE_DEVICE : ASPACE_UNCACHED;
	return f;
}

static void op_protect(struct rt *rt)
{
	aspace_gpa_t gpa;
	uint64_t size, mark;
	unsigned flags = rand_protect_flags();
	bool covered, mt_bit = flags & ~ASPACE_PERM_MASK;
	struct changed_leaves c;
	int ret;
	char fb[32];

	if (S(rt)->m.n && t_chance(70)) {
		/* Inside an area, or across neighbours. */
		const struct m_area *a = &S(rt)->m.areas[t_rand() % S(rt)->m.n];

		gpa = a->start + (t_rand() % a->size & ~(PAGE - 1));
		size = (t_rand() % (a->start + a->size - gpa) & ~(PAGE - 1)) +
		       PAGE;
		if (t_chance(20))
			size = a->start + a->size - gpa;
		if (t_chance(20) && size > 2 * PAGE)
			size = t_range(1, 2) * PAGE;
	} else {
		rand_range(rt, &gpa, &size);
	}
	covered = model_covered(&S(rt)->m, gpa, size);
	snprintf(rt->op, sizeof(rt->op), "protect %#llx+%#llx %s",
		 (unsigned long long)gpa, (unsigned long long)size,
		 t_flags_str(flags, fb, sizeof(fb)));
	changed_leaves(rt, gpa, size, false, flags, &c);
	aspace_barrier(S(rt)->as); /* earlier deferred frees */
	mark = test_hal_seq(rt->t.hal);
	ret = aspace_protect(S(rt)->as, gpa, size, flags);
	probe_range(rt, gpa, size);
	if (!covered && mt_bit) {
		if (ret != -EFAULT && ret != -EINVAL)
			RT_FAIL(rt, "returned %d, want -EFAULT or -EINVAL",
				ret);
	} else if (ret != (!covered ? -EFAULT : mt_bit ? -EINVAL : 0)) {
		RT_FAIL(rt, "returned %d, want %d", ret,
			!covered ? -EFAULT
			: mt_bit ? -EINVAL
				 : 0);
	}
	if (!ret) {
		model_protect(&S(rt)->m, gpa, size, flags);
		check_flushed(rt, mark, &c.need);
	}
	rs_free(&c.need);
}

static aspace_gpa_t rand_page_near_areas(struct rt *rt)
{
	if (S(rt)->m.n && t_chance(80)) {
		const struct m_area *a = &S(rt)->m.areas[t_rand() % S(rt)->m.n];

		if (t_chance(10))
			return a->start + a->size;
		return a->start + (t_rand() % a->size & ~(PAGE - 1));
	}
	return rt->pg_lo + (t_rand() % (rt->pg_hi - rt->pg_lo) & ~(PAGE - 1));
}

static void op_fault(struct rt *rt)
{
	static const unsigned access[] = {ASPACE_READ, ASPACE_WRITE,
					  ASPACE_EXEC};
	aspace_gpa_t gpa = rand_page_near_areas(rt);
	unsigned acc = access[t_range(0, 2)];
	long i = model_find(&S(rt)->m, gpa);
	struct lazy lz;
	int ret, want;

	snprintf(rt->op, sizeof(rt->op), "fault %#llx %s",
		 (unsigned long long)gpa,
		 acc == ASPACE_READ    ? "read"
		 : acc == ASPACE_WRITE ? "write"
				       : "exec");
	want = i >= 0 && (S(rt)->m.areas[i].flags & acc) ? 0 : -EFAULT;
	lazy_before(rt, gpa, 1, &lz);
	ret = do_fault(rt, gpa, acc);
	if (ret != want)
		RT_FAIL(rt, "returned %d, want %d", ret, want);
	probe(rt, gpa);
	probe(rt, gpa & ~(ASPACE_BLOCK_2M - 1));
	if (ret)
		return;
	lazy_after(rt, &lz, LAZY_MAPPED);
	if (acc == ASPACE_WRITE && S(rt)->m.areas[i].alloc) {
		struct ref_result r;

		/* The write must be able to go ahead now. */
		ref_walk(&S(rt)->w, gpa, &r);
		if (!(r.perm & ASPACE_WRITE))
			RT_FAIL(rt, "still read-only after a write fault");
	}
}

/* An access range that avoids host memory the test does not own. */
static bool rand_rw_range(struct rt *rt, aspace_gpa_t *gpa, size_t *len,
			  bool *ram)
{
	bool unbacked;

	for (int tries = 0; tries < 8; tries++) {
		*gpa = rand_page_near_areas(rt) + t_range(0, PAGE - 1);
		if (t_chance(20))
			*gpa -= PAGE;
		*len = t_chance(20) ? t_range(1, 16) : t_range(1, MAX_RW);
		if (*gpa < rt->win_lo || *gpa > rt->win_hi - *len)
			continue;
		*ram = ram_range(rt, *gpa, *len, &unbacked);
		if (!unbacked)
			return true;
	}
	return false;
}

static void note_written(struct rt *rt, aspace_gpa_t gpa, const uint8_t *buf,
			 size_t len)
{
	while (len) {
		aspace_gpa_t page = gpa & ~(PAGE - 1);
		size_t off = gpa - page, n = PAGE - off;
		long i = model_find(&S(rt)->m, gpa);

		if (n > len)
			n = len;
		if (S(rt)->m.areas[i].alloc)
			memcpy(model_page_mut(&S(rt)->m, page) + off, buf, n);
		probe(rt, page);
		gpa += n;
		buf += n;
		len -= n;
	}
}

static void op_write(struct rt *rt)
{
	static uint8_t buf[MAX_RW], before[MAX_RW], after[MAX_RW];
	aspace_gpa_t gpa;
	size_t len;
	bool ram;
	struct lazy lz;
	int ret;

	if (!rand_rw_range(rt, &gpa, &len, &ram))
		return;
	for (size_t k = 0; k < len; k++)
		buf[k] = t_rand();

	snprintf(rt->op, sizeof(rt->op), "write %#llx+%zu",
		 (unsigned long long)gpa, len);
	lazy_before(rt, gpa, len, &lz);
	if (!ram)
		expected_bytes(rt, gpa, len, before);
	ret = do_write(rt, gpa, buf, len);
	if (ret != (ram ? 0 : -EFAULT))
		RT_FAIL(rt, "returned %d, want %d", ret, ram ? 0 : -EFAULT);
	probe_range(rt, gpa & ~(PAGE - 1),
		    ((gpa + len + PAGE - 1) & ~(PAGE - 1)) -
			    (gpa & ~(PAGE - 1)));
	if (ret) {
		expected_bytes(rt, gpa, len, after);
		if (memcmp(before, after, len))
			RT_FAIL(rt, "failed write changed host memory");
		return;
	}
	lazy_after(rt, &lz, LAZY_MAPPED);
	note_written(rt, gpa, buf, len);
	expected_bytes(rt, gpa, len, after);
	if (memcmp(buf, after, len))
		RT_FAIL(rt, "linear host memory differs from what was written");
}

static void op_read(struct rt *rt)
{
	static uint8_t buf[MAX_RW], want[MAX_RW];
	aspace_gpa_t gpa;
	size_t len, k;
	bool ram;
	struct lazy lz;
	int ret;

	if (!rand_rw_range(rt, &gpa, &len, &ram))
		return;
	snprintf(rt->op, sizeof(rt->op), "read %#llx+%zu",
		 (unsigned long long)gpa, len);
	lazy_before(rt, gpa, len, &lz);
	expected_bytes(rt, gpa, len, want);
	memset(buf, 0x5a, len);
	ret = do_read(rt, gpa, buf, len);
	if (ret != (ram ? 0 : -EFAULT))
		RT_FAIL(rt, "returned %d, want %d", ret, ram ? 0 : -EFAULT);
	probe_range(rt, gpa & ~(PAGE - 1),
		    ((gpa + len + PAGE - 1) & ~(PAGE - 1)) -
			    (gpa & ~(PAGE - 1)));
	if (ret)
		return;
	lazy_after(rt, &lz, LAZY_ABSENT);
	for (k = 0; k < len && buf[k] == want[k]; k++)
		;
	if (k < len)
		RT_FAIL(rt, "byte at gpa %#llx read %#x, want %#x",
			(unsigned long long)(gpa + k), buf[k], want[k]);
}

/* Each segment must be the host view of exactly its GPAs. */
static void check_iov(struct rt *rt, aspace_gpa_t gpa, size_t len,
		      const struct iovec *iov, int n)
{
	aspace_gpa_t at = gpa;
	int leaves = 0;
	aspace_gpa_t leaf_end = 0;

	for (int k = 0; k < n; k++) {
		uint8_t *p = iov[k].iov_base;
		size_t left = iov[k].iov_len;

		if (!left)
			RT_FAIL(rt, "iov[%d] is empty", k);
		while (left) {
			struct ref_result r;
			size_t chunk = PAGE - (at & (PAGE - 1));

			if (chunk > left)
				chunk = left;
			ref_walk(&S(rt)->w, at, &r);
			if (r.status != REF_OK)
				RT_FAIL(rt, "iov covers unmapped gpa %#llx",
					(unsigned long long)at);
			if (p != test_hal_ptr(rt->t.hal, r.hpa, chunk))
				RT_FAIL(rt,
					"iov[%d] at gpa %#llx points to "
					"%p, tables map hpa %#llx (%p)",
					k, (unsigned long long)at, (void *)p,
					(unsigned long long)r.hpa,
					test_hal_ptr(rt->t.hal, r.hpa, chunk));
			if (r.leaf_gpa + r.leaf_size != leaf_end) {
				leaves++;
				leaf_end = r.leaf_gpa + r.leaf_size;
			}
			p += chunk;
			at += chunk;
			left -= chunk;
		}
	}
	if (at != gpa + len)
		RT_FAIL(rt, "iov covers %#llx bytes, asked %#zx",
			(unsigned long long)(at - gpa), len);
	if (n > leaves)
		RT_FAIL(rt, "iov has %d segments for %d leaves", n, leaves);
}

static void op_iov(struct rt *rt)
{
	struct iovec iov[MAX_IOV];
	aspace_gpa_t gpa;
	size_t len;
	bool ram;
	struct lazy lz;
	int ret, want;

	if (!rand_rw_range(rt, &gpa, &len, &ram))
		return;
	snprintf(rt->op, sizeof(rt->op), "guest_iov %#llx+%zu n=1",
		 (unsigned long long)gpa, len);
	lazy_before(rt, gpa, len, &lz);
	/*
	 * An iov faults lazy pages in first; -ENOSPC (n=1 is often too
	 * small) keeps those faulted so far, -EFAULT faults nothing.
	 */
	ret = aspace_guest_iov(S(rt)->as, gpa, len, iov, 1);
	want = ram ? 1 : -EFAULT;
	if (ret != want && !(ram && ret == -ENOSPC))
		RT_FAIL(rt, "returned %d, want %d or -ENOSPC", ret, want);
	probe_range(rt, gpa & ~(PAGE - 1),
		    ((gpa + len + PAGE - 1) & ~(PAGE - 1)) -
			    (gpa & ~(PAGE - 1)));
	if (ret < 0) {
		/* check_all finds any other fault-in, or non-zero data. */
		lazy_after(rt, &lz, ram ? LAZY_MAYBE : LAZY_ABSENT);
		check_all(rt, false);
		if (!ram)
			return;
		snprintf(rt->op, sizeof(rt->op), "guest_iov %#llx+%zu n=%d",
			 (unsigned long long)gpa, len, MAX_IOV);
		ret = aspace_guest_iov(S(rt)->as, gpa, len, iov, MAX_IOV);
		if (ret <= 1)
			RT_FAIL(rt, "returned %d after -ENOSPC for n=1", ret);
		probe_range(rt, gpa & ~(PAGE - 1),
			    ((gpa + len + PAGE - 1) & ~(PAGE - 1)) -
				    (gpa & ~(PAGE - 1)));
	}
	lazy_after(rt, &lz, LAZY_MAPPED);
	check_iov(rt, gpa, len, iov, ret);
}

static void op_clear(struct rt *rt)
{
	struct aspace_stats st;

	snprintf(rt->op, sizeof(rt->op), "clear");
	aspace_clear(S(rt)->as);
	model_clear(&S(rt)->m);
	aspace_barrier(S(rt)->as);
	aspace_stats(S(rt)->as, &st);
	if (st.table_pages != S(rt)->root_table_pages || st.data_frames_bytes ||
	    st.mapped_4k || st.mapped_2m || st.mapped_1g)
		RT_FAIL(rt, "after clear: %llu table pages, data %#llx",
			(unsigned long long)st.table_pages,
			(unsigned long long)st.data_frames_bytes);
	/* The HAL then holds the roots and cached frames (and a clone's). */
	rt->want_barrier = true;
}

/*
 * Copy-on-write clone of the current space; operations then go to either.
 * Both map every alloc frame read-only until a write copies it.
 */
static void op_clone(struct rt *rt)
{
	unsigned other = !rt->cur;
	struct space *src = S(rt), *dst = &rt->sp[other];
	struct aspace_hw_root hw;
	char err[200];
	int ret;

	snprintf(rt->op, sizeof(rt->op), "clone");
	ret = aspace_clone(src->as, &dst->as);
	if (ret)
		RT_FAIL(rt, "returned %d", ret);
	if (aspace_hw_root(dst->as, &hw) ||
	    ref_init(&dst->w, rt->fmt.fmt, &hw, &rt->t.cfg.platform,
		     test_hal_read64, rt->t.hal, err, sizeof(err)))
		RT_FAIL(rt, "the clone's root: %s", err);
	if (hw.root == src->w.root)
		RT_FAIL(rt, "the clone shares the root table");
	vcpu_attach(rt, dst);
	model_init(&dst->m);
	model_copy(&dst->m, &src->m);
	dst->root_bytes = src->root_bytes;
	dst->root_table_pages = src->root_table_pages;
	src->cow = dst->cow = true;
	rt->want_barrier = true;
	if (t_chance(50))
		rt->cur = other;
}

/* Destroy one of two spaces: what the other still maps must survive. */
static void op_drop(struct rt *rt)
{
	unsigned victim = t_chance(50);
	struct space *v = &rt->sp[victim];
	struct aspace_stats st;

	snprintf(rt->op, sizeof(rt->op), "destroy space %u", victim);
	rt->cur = !victim;
	space_destroy(v);
	/* Its flushes left with it. */
	aspace_stats(S(rt)->as, &st);
	rt->flush_offset = 0;
	{
		struct test_hal_counts hc;

		test_hal_counts(rt->t.hal, &hc);
		rt->flush_offset = hc.flushes - st.flushes;
	}
	rt->want_barrier = true;
}

/* A GPA outside the window must never reach an entry. */
static void op_outside(struct rt *rt)
{
	aspace_gpa_t g = rand_page_near_areas(rt);
	aspace_gpa_t alias = g + (1ull << rt->width);
	int ret;

	if (t_chance(50) && rt->win_hi < (1ull << rt->width))
		alias = rt->win_hi + (g - rt->win_lo) % PAGE;
	else if (t_chance(50) && rt->win_lo)
		alias = rt->win_lo - PAGE;
	snprintf(rt->op, sizeof(rt->op), "fault outside window %#llx",
		 (unsigned long long)alias);
	ret = do_fault(rt, alias, ASPACE_READ);
	if (ret != -EFAULT && ret != -EINVAL)
		RT_FAIL(rt, "returned %d for a GPA outside the window", ret);
	probe(rt, alias);
}

static void step(struct rt *rt)
{
	unsigned r = t_range(0, 99);

	if (nspaces(rt) == 2 && t_chance(30))
		rt->cur = !rt->cur;
	if (nspaces(rt) == 1 ? t_chance(2) : t_chance(1)) {
		if (nspaces(rt) == 1)
			op_clone(rt);
		else
			op_drop(rt);
		return;
	}

	if (r < 14)
		op_map_linear(rt);
	else if (r < 30)
		op_map_alloc(rt);
	else if (r < 42)
		op_unmap(rt);
	else if (r < 52)
		op_protect(rt);
	else if (r < 72)
		op_fault(rt);
	else if (r < 82)
		op_write(rt);
	else if (r < 90)
		op_read(rt);
	else if (r < 96)
		op_iov(rt);
	else if (r < 98)
		op_outside(rt);
	else if (t_chance(40))
		op_clear(rt);
	else
		op_unmap(rt);
}

/* ---- setup ---- */

static void choose_window(struct rt *rt)
{
	uint64_t top = 1ull << rt->width, pg;

	rt->win_lo = 0;
	rt->win_hi = top;
	if (t_chance(50)) {
		/* A window with a non-zero base, maybe not 1 GiB aligned. */
		uint64_t max = top / 2;

		rt->win_lo = t_range(1, max / GIB) * GIB;
		if (t_chance(30))
			rt->win_lo -= t_range(1, 511) * ASPACE_BLOCK_2M;
		rt->win_hi =
			t_chance(50) ? top : rt->win_lo + t_range(2, 16) * GIB;
		if (rt->win_hi > top)
			rt->win_hi = top;
	}
	pg = rt->win_hi - rt->win_lo;
	if (pg > 6 * GIB)
		pg = 6 * GIB;
	/* The playground: bottom, top, or middle of the window. */
	switch (t_range(0, 2)) {
	case 0:
		rt->pg_lo = rt->win_lo;
		break;
	case 1:
		rt->pg_lo = rt->win_hi - pg;
		break;
	default:
		rt->pg_lo = rt->win_lo +
			    ((t_rand() % (rt->win_hi - rt->win_lo - pg + 1)) &
			     ~(GIB - 1));
		if (rt->pg_lo < rt->win_lo)
			rt->pg_lo = rt->win_lo;
	}
	rt->pg_hi = rt->pg_lo + pg;
}

static void setup(struct rt *rt, const struct t_fmt *f)
{
	struct t_as_opts o = {.fmt = *f};
	static const uint8_t hpa_bits[] = {0, 0, 40, 44, 46};

	memset(rt, 0, sizeof(*rt));
	rt->fmt = *f;
	rt->width = t_fmt_width(f->fmt, f->gpa_bits);
	choose_window(rt);
	o.base = rt->win_lo;
	o.size = rt->win_hi - rt->win_lo;
	o.platform.no_block_1g = t_chance(20);
	/* The library rejects 1 GiB leaves without 2 MiB ones. */
	o.platform.no_block_2m = t_chance(10);
	o.platform.no_block_1g =
		o.platform.no_block_1g || o.platform.no_block_2m;
	o.platform.svpbmt = t_fmt_riscv(f->fmt) && t_chance(50);
	o.platform.vmid = t_range(0, 255);
	o.platform.hpa_bits = hpa_bits[t_range(0, 4)];
	/* Arm: the PA size VTCR_EL2.PS encodes (40, 44 or 48 for these)
	 * must cover the IPA range, else aspace_create says -EINVAL. */
	if (f->fmt == ASPACE_FMT_S2_4K && o.platform.hpa_bits &&
	    (o.platform.hpa_bits <= 40	 ? 40u
	     : o.platform.hpa_bits <= 44 ? 44u
					 : 48u) < f->gpa_bits)
		o.platform.hpa_bits = 0;
	o.hal.direct_map = t_chance(50);
	o.hal.no_flush = t_chance(10);
	o.rcu = t_chance(50) ? ASPACE_RCU_QSBR : ASPACE_RCU_MEMB;
	o.cache_batch = t_chance(50) ? 0 : t_range(1, 8);
	o.zero =
		(enum aspace_zero)t_range(ASPACE_ZERO_AUTO, ASPACE_ZERO_STREAM);
	if (f->fmt == ASPACE_FMT_S2_4K)
		rt->oa_bits = o.platform.hpa_bits ? o.platform.hpa_bits : 48;
	else if (f->fmt == ASPACE_FMT_EPT4 || f->fmt == ASPACE_FMT_EPT5)
		rt->oa_bits = o.platform.hpa_bits ? o.platform.hpa_bits : 52;
	else
		rt->oa_bits = o.platform.hpa_bits ? o.platform.hpa_bits : 56;
	t_as_create(&rt->t, &o);
	S(rt)->as = rt->t.as;
	S(rt)->w = rt->t.w;
	S(rt)->root_bytes = rt->t.root_bytes;
	S(rt)->root_table_pages = rt->t.root_table_pages;
	vcpu_attach(rt, S(rt));
	model_init(&S(rt)->m);
	printf("  %-8s window %#llx..%#llx playground %#llx..%#llx%s%s%s "
	       "hpa_bits %u, %s HAL%s, %s, zero %s\n",
	       t_fmt_name(f), (unsigned long long)rt->win_lo,
	       (unsigned long long)rt->win_hi, (unsigned long long)rt->pg_lo,
	       (unsigned long long)rt->pg_hi,
	       o.platform.no_block_1g ? ", no 1G" : "",
	       o.platform.no_block_2m ? ", no 2M" : "",
	       o.platform.svpbmt ? ", svpbmt" : "", o.platform.hpa_bits,
	       o.hal.direct_map ? "direct-map" : "phys_to_virt",
	       o.hal.no_flush ? " without flush" : "",
	       o.rcu == ASPACE_RCU_QSBR ? "QSBR" : "memb",
	       (const char *[]){"auto", "cached", "stream"}[o.zero]);
}

static bool verbose;

static void run_format(const struct t_fmt *f, unsigned long steps)
{
	struct rt *rt = calloc(1, sizeof(*rt));
	clock_t t0 = clock();

	if (!rt)
		abort();
	setup(rt, f);
	check_all(rt, true);
	for (rt->step = 1; rt->step <= steps; rt->step++) {
		rt->op[0] = 0;
		step(rt);
		if (verbose)
			printf("    %lu: %s\n", rt->step, rt->op);
		check_all(rt, rt->step % 16 == 0);
	}
	snprintf(rt->op, sizeof(rt->op), "final clear");
	op_clear(rt);
	check_all(rt, true);
	for (unsigned i = 0; i < 2; i++) {
		if (rt->sp[i].as)
			space_destroy(&rt->sp[i]);
	}
	if (test_hal_delete(rt->t.hal))
		RT_FAIL(rt, "frames left in the HAL after destroy");
	if (verbose)
		printf("    done in %.2f s\n",
		       (double)(clock() - t0) / CLOCKS_PER_SEC);
	free(rt);
}

int main(int argc, char **argv)
{
	unsigned long steps = t_env_u64("ASPACE_STEPS", 400);
	uint64_t only = t_env_u64("ASPACE_FORMAT", ~0ull);
	char what[64];

	t_init("test_random", argc, argv);
	verbose = t_env_u64("ASPACE_VERBOSE", 0);
	for (unsigned i = 0; i < t_nformats; i++)
		if (only == ~0ull || only == i)
			run_format(&t_formats[i], steps);
	snprintf(what, sizeof(what), "%lu steps x %u formats", steps,
		 only == ~0ull ? t_nformats : 1);
	return t_finish("test_random", what);
}
