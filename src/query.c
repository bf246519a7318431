/* SPDX-License-Identifier: MIT */
/*
 * Queries over an address space: finding free GPA ranges, checking access,
 * populating lazy areas up front, iterating the mapped runs of a range, and
 * a ptdump-style listing.
 *
 * All of these are control-path calls: they hold as->lock while they look
 * at areas and entries, so areas and tables stay put. vCPUs still change
 * entries meanwhile: faults turn empty entries into tables or leaves
 * (invariant I3), and a copy-on-write break on Arm freezes a leaf for a
 * moment (break-before-make). The walks here take each entry as they find
 * it, and wait out a frozen one.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <urcu/arch.h>

#include "internal.h"

static bool access_ok(unsigned access)
{
	return access && !(access & ~ASPACE_PERM_MASK);
}

/* Round x up to a power-of-two a; false when that would overflow. */
static bool align_up(uint64_t x, uint64_t a, uint64_t *out)
{
	uint64_t r = (x + a - 1) & ~(a - 1);

	if (r < x)
		return false;
	*out = r;
	return true;
}

/* ---- free ranges ---- */

static bool find_align_ok(uint64_t align)
{
	return align == ASPACE_PAGE_SIZE || align == ASPACE_BLOCK_2M ||
	       align == ASPACE_BLOCK_1G;
}

/*
 * First fit in [lo, hi) at or after from: step over each area that
 * overlaps the candidate to the aligned end of that area. An area that
 * ends exactly where the candidate starts does not overlap it.
 */
static int first_fit(const struct area_set *set, aspace_gpa_t from,
		     aspace_gpa_t lo, aspace_gpa_t hi, uint64_t size,
		     uint64_t align, aspace_gpa_t *out)
{
	aspace_gpa_t cand;

	if (!align_up(MAX(from, lo), align, &cand))
		return -ENOMEM;
	while (cand < hi && size <= hi - cand) {
		const struct area *a = area_next(set, cand);

		if (!a || a->start >= cand + size) {
			*out = cand;
			return 0;
		}
		if (!align_up(a->end, align, &cand))
			break;
	}
	return -ENOMEM;
}

int aspace_find_free_area(struct aspace *as, aspace_gpa_t hint, uint64_t size,
			  aspace_gpa_t limit_start, aspace_gpa_t limit_end,
			  uint64_t align, aspace_gpa_t *gpa)
{
	aspace_gpa_t lo, hi;
	int r;

	if (!as || !gpa || !size || !ALIGNED(size, ASPACE_PAGE_SIZE) ||
	    !find_align_ok(align) || limit_start >= limit_end)
		return -EINVAL;
	/* as->last < 2^59: last + 1 cannot overflow. */
	lo = MAX(limit_start, as->base);
	hi = MIN(limit_end, as->last + 1);
	if (lo >= hi)
		return -ENOMEM;
	as_lock(as);
	r = first_fit(as->areas, hint, lo, hi, size, align, gpa);
	as_unlock(as);
	return r;
}

/* ---- access checks ---- */

/* Every byte of [gpa, last] lies in areas that allow access. */
static bool covered_allowing(const struct area_set *set, aspace_gpa_t gpa,
			     aspace_gpa_t last, unsigned access)
{
	for (;;) {
		const struct area *a = area_find(set, gpa);

		if (!a || (access & ~a->flags))
			return false;
		if (a->end - 1 >= last)
			return true;
		gpa = a->end;
	}
}

bool aspace_check_access(struct aspace *as, aspace_gpa_t gpa, uint64_t size,
			 unsigned access)
{
	bool ok;

	if (!as || !access_ok(access) || !range_in_window(as, gpa, size))
		return false;
	as_lock(as);
	ok = covered_allowing(as->areas, gpa, gpa + size - 1, access);
	as_unlock(as);
	return ok;
}

/* ---- populate ---- */

/*
 * Resolve gpa of alloc area a exactly as a fault with access would: a lazy
 * page gets a frame (2 MiB where the block fits the area), a write to a
 * copy-on-write leaf gets a private one. Every page populate changes goes
 * through here. A vCPU that got there first is no error (-EEXIST,
 * -EAGAIN); -EBUSY (a clone write-protecting) cannot last, as the clone
 * holds as->lock: the caller's next lookup sees how things stand.
 */
static int populate_page(struct aspace *as, const struct area *a,
			 aspace_gpa_t gpa, unsigned access)
{
	int r = fault_resolve_locked(as, &as->ctl_cache, &as->ctl, a, gpa,
				     access);

	return r == -EEXIST || r == -EAGAIN || r == -EBUSY ? 0 : r;
}

/* A present leaf that an access still has to fault on. */
static bool leaf_needs_fault(const struct aspace *as, pte_t pte,
			     unsigned access)
{
	return (access & ASPACE_WRITE) && (pte & as->fmt.cow_bit);
}

/*
 * [lo, hi) inside alloc area a: step over whole leaves that are ready,
 * resolve the rest; after each resolve the same GPA is looked up again and
 * its new leaf stepped over whole.
 */
static int populate_in_area(struct aspace *as, const struct area *a,
			    aspace_gpa_t lo, aspace_gpa_t hi, unsigned access)
{
	aspace_gpa_t gpa = lo;

	while (gpa < hi) {
		struct pt_lookup l;
		int r = pt_lookup(as, gpa, &l);

		if (r == 0 && !leaf_needs_fault(as, l.pte, access)) {
			uint64_t size = PT_LEVEL_SIZE(l.level);

			gpa = ALIGN_DOWN(gpa, size) + size;
			continue;
		}
		if (r == -EAGAIN) { /* a vCPU's break-before-make */
			caa_cpu_relax();
			continue;
		}
		r = populate_page(as, a, gpa, access);
		if (r)
			return r;
	}
	return 0;
}

int aspace_populate(struct aspace *as, aspace_gpa_t gpa, uint64_t size,
		    unsigned access)
{
	aspace_gpa_t hi = gpa + size;
	int r = 0;

	if (!as || !access_ok(access) ||
	    !ALIGNED(gpa | size, ASPACE_PAGE_SIZE) ||
	    !range_in_window(as, gpa, size))
		return -EINVAL;
	as_lock(as);
	if (!covered_allowing(as->areas, gpa, hi - 1, access)) {
		r = -EFAULT;
		goto out;
	}
	/* Linear areas are mapped eagerly: only alloc areas have holes. */
	for (aspace_gpa_t at = gpa; at < hi && !r;) {
		const struct area *a = area_find(as->areas, at);
		aspace_gpa_t stop = MIN(a->end, hi);

		if (a->kind == AREA_ALLOC)
			r = populate_in_area(as, a, at, stop, access);
		at = stop;
	}
out:
	as_unlock(as);
	return r;
}

/* ---- range query ---- */

/*
 * Builds one run from the pieces the walk offers in GPA order: a leaf (or
 * the part of it inside the range) or an empty stretch. The first piece
 * starts the run; a piece that cannot extend it stops the walk.
 */
struct run_builder {
	struct aspace *as;
	const struct area *area; /* last area looked up, for memory types */
	struct aspace_run *run;
	aspace_gpa_t run_end;
	bool started;
};

static bool run_offer(struct run_builder *b, aspace_gpa_t lo, aspace_gpa_t hi,
		      const struct aspace_run *piece)
{
	struct aspace_run *run = b->run;

	if (!b->started) {
		*run = *piece;
		b->run_end = hi;
		b->started = true;
		return true;
	}
	if (piece->mapped != run->mapped)
		return false;
	if (piece->mapped &&
	    (piece->leaf_size != run->leaf_size || piece->flags != run->flags ||
	     piece->hpa != run->hpa + (lo - run->gpa)))
		return false;
	b->run_end = hi;
	return true;
}

static const struct area *builder_area(struct run_builder *b, aspace_gpa_t gpa)
{
	const struct area *a = b->area;

	if (a && gpa >= a->start && gpa < a->end)
		return a;
	a = area_find(b->as->areas, gpa);
	if (a)
		b->area = a;
	return a;
}

/* The entry pte at level covers [lo, hi) of the range; offer it. */
static bool offer_entry(struct run_builder *b, aspace_gpa_t lo, aspace_gpa_t hi,
			pte_t pte, unsigned level)
{
	const struct pt_format *f = &b->as->fmt;
	uint64_t size = PT_LEVEL_SIZE(level);
	struct aspace_run piece = {.gpa = lo};
	const struct area *a = NULL;

	if (pte_present(f, pte))
		a = builder_area(b, lo);
	/* A leaf outside every area is reported as translate does: absent. */
	if (a) {
		piece.mapped = true;
		piece.hpa = pte_addr(f, pte) + (lo & (size - 1));
		piece.leaf_size = size;
		piece.flags = leaf_flags(f, f->bits, pte, a);
	}
	return run_offer(b, lo, hi, &piece);
}

/*
 * Offer [lo, hi) of the table at level entry by entry, descending into
 * child tables; an empty entry is one piece however much it spans.
 * False once the run is complete.
 */
static bool scan_table(struct run_builder *b, pte_t *table, unsigned level,
		       aspace_gpa_t lo, aspace_gpa_t hi)
{
	struct aspace *as = b->as;
	const struct pt_format *f = &as->fmt;
	uint64_t size = PT_LEVEL_SIZE(level);

	for (aspace_gpa_t gpa = lo; gpa < hi;) {
		aspace_gpa_t next = MIN(ALIGN_DOWN(gpa, size) + size, hi);
		pte_t *p = &table[pt_index(f, gpa, level)];
		pte_t pte = pte_load(p);

		while (caa_unlikely(pte == PTE_FROZEN)) {
			caa_cpu_relax(); /* a vCPU's break-before-make */
			pte = pte_load(p);
		}
		if (pte_present(f, pte) && pte_is_table(f, pte, level)) {
			if (!scan_table(b, pt_table(as, pte), level - 1, gpa,
					next))
				return false;
		} else if (!offer_entry(b, gpa, next, pte, level)) {
			return false;
		}
		gpa = next;
	}
	return true;
}

int aspace_query_begin(struct aspace *as, aspace_gpa_t gpa, uint64_t size,
		       struct aspace_query *q)
{
	if (!q)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->as = as;
	if (!as || !range_in_window(as, gpa, size))
		return -EINVAL;
	q->next = gpa;
	q->end = gpa + size; /* <= 2^59: no overflow */
	return 0;
}

bool aspace_query_next(struct aspace_query *q, struct aspace_run *run)
{
	struct aspace *as = q->as;
	struct run_builder b = {.as = as, .run = run};

	if (!as || q->next >= q->end)
		return false;
	as_lock(as);
	scan_table(&b, as->root_va, as->fmt.levels - 1u, q->next, q->end);
	as_unlock(as);
	/* The range is not empty, so the walk offered at least one piece. */
	run->size = b.run_end - run->gpa;
	q->next = b.run_end;
	return true;
}

/* ---- dump ---- */

/* A size in the largest binary unit that states it exactly: "2M", "12K". */
static const char *size_str(uint64_t size, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned u = 0;

	while (size && u + 1 < sizeof(units) - 1 && !(size & 1023)) {
		size >>= 10;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 "%c", size, units[u]);
	return buf;
}

static const char *perm_str(unsigned flags)
{
	static const char *const s[] = {"---", "R--", "-W-", "RW-",
					"--X", "R-X", "-WX", "RWX"};

	return s[flags & ASPACE_PERM_MASK];
}

static const char *memtype_str(unsigned flags)
{
	if (flags & ASPACE_DEVICE)
		return "DEV";
	if (flags & ASPACE_UNCACHED)
		return "NC";
	return "WB";
}

static void dump_header(struct aspace *as, FILE *f)
{
	char rs[16], ws[16];

	fprintf(f,
		"aspace %s: window 0x%016" PRIx64 "-0x%016" PRIx64
		" (%s), root 0x%" PRIx64 " (%s), %u levels%s\n",
		aspace_format_name(as->fmt.id), as->base, as->last + 1,
		size_str(as->last - as->base + 1, ws, sizeof(ws)), as->root_hpa,
		size_str(as->root_size, rs, sizeof(rs)), as->fmt.levels,
		as->fmt.bits.mt_encoded
			? ""
			: ", memory types from areas (PMAs decide)");
}

/* The area at or after gpa, copied under the lock. */
static bool area_copy_next(struct aspace *as, aspace_gpa_t gpa,
			   struct area *out)
{
	const struct area *a;

	as_lock(as);
	a = area_next(as->areas, gpa);
	if (a)
		*out = *a;
	as_unlock(as);
	return a != NULL;
}

/* Areas one at a time, so that no lock is held while f is written. */
static void dump_areas(struct aspace *as, FILE *f)
{
	aspace_gpa_t gpa = as->base;
	struct area a;
	char ss[16];

	fprintf(f, "areas:\n");
	while (gpa <= as->last && area_copy_next(as, gpa, &a)) {
		fprintf(f,
			"  0x%016" PRIx64 "-0x%016" PRIx64 " %8s %-6s %s %s\n",
			a.start, a.end,
			size_str(a.end - a.start, ss, sizeof(ss)),
			a.kind == AREA_LINEAR ? "linear" : "alloc",
			perm_str(a.flags), memtype_str(a.flags));
		gpa = a.end;
	}
}

static void dump_runs(struct aspace *as, FILE *f)
{
	struct aspace_query q;
	struct aspace_run run;
	char ss[16], ls[16];

	fprintf(f, "mappings:\n");
	aspace_query_begin(as, as->base, as->last - as->base + 1, &q);
	while (aspace_query_next(&q, &run)) {
		if (!run.mapped)
			continue;
		fprintf(f,
			"  0x%016" PRIx64 "-0x%016" PRIx64
			" %8s -> 0x%016" PRIx64 " %4s %s %s\n",
			run.gpa, run.gpa + run.size,
			size_str(run.size, ss, sizeof(ss)), run.hpa,
			size_str(run.leaf_size, ls, sizeof(ls)),
			perm_str(run.flags), memtype_str(run.flags));
	}
}

void aspace_dump(struct aspace *as, FILE *f)
{
	if (!as || !f)
		return;
	dump_header(as, f);
	dump_areas(as, f);
	dump_runs(as, f);
}
