/* SPDX-License-Identifier: MIT */
/*
 * Address space life cycle and the control path: map, unmap, protect.
 *
 * Every control operation has the same shape: validate; reserve every frame
 * and every byte of memory it may need (a failure here changes nothing);
 * commit, which cannot fail; publish the new area set; and, when areas were
 * removed or changed, wait for a grace period before touching their
 * entries (invariant I4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rcu.h"

bool flags_valid(unsigned flags)
{
	if (flags & ~ASPACE_FLAGS_MASK)
		return false;
	if (!(flags & ASPACE_READ))
		return false;
	return !((flags & ASPACE_DEVICE) && (flags & ASPACE_UNCACHED));
}

static unsigned memtype(unsigned flags)
{
	return flags & (ASPACE_DEVICE | ASPACE_UNCACHED);
}

/* A 4 KiB-aligned, non-empty, non-wrapping range inside the window. */
static int check_range(const struct aspace *as, aspace_gpa_t gpa, uint64_t size)
{
	if (!ALIGNED(gpa | size, ASPACE_PAGE_SIZE) ||
	    !range_in_window(as, gpa, size))
		return -EINVAL;
	return 0;
}

static int format_init(struct pt_format *f, const struct aspace_config *cfg)
{
	int r;

	switch (cfg->format) {
	case ASPACE_FMT_EPT4:
	case ASPACE_FMT_EPT5:
		r = ept_format_init(f, cfg);
		break;
	case ASPACE_FMT_S2_4K:
		r = s2_format_init(f, cfg);
		break;
	case ASPACE_FMT_SV39X4:
	case ASPACE_FMT_SV48X4:
	case ASPACE_FMT_SV57X4:
		r = gstage_format_init(f, cfg);
		break;
	default:
		return -EINVAL;
	}
	/* Only Arm's IPA width is configurable. */
	if (!r && cfg->gpa_bits && cfg->gpa_bits != f->gpa_bits)
		return -EINVAL;
	if (!r)
		pt_decode_init(f);
	return r;
}

static int config_check(const struct aspace_config *cfg)
{
	if (!cfg || !cfg->size ||
	    !ALIGNED(cfg->base | cfg->size, ASPACE_PAGE_SIZE))
		return -EINVAL;
	if (cfg->base + cfg->size - 1 < cfg->base)
		return -EINVAL;
	/* No CPU has 1 GiB leaves without 2 MiB ones; splits rely on it. */
	if (cfg->platform.no_block_2m && !cfg->platform.no_block_1g)
		return -EINVAL;
	if (cfg->rcu != ASPACE_RCU_MEMB && cfg->rcu != ASPACE_RCU_QSBR)
		return -EINVAL;
	if ((unsigned)cfg->zero > ASPACE_ZERO_STREAM)
		return -EINVAL;
	if (cfg->hal && (!cfg->hal->alloc || !cfg->hal->free ||
			 (!cfg->hal->direct_map && !cfg->hal->phys_to_virt)))
		return -EINVAL;
	return 0;
}

int aspace_create(const struct aspace_config *cfg, struct aspace **out)
{
	struct aspace *as;
	int r = config_check(cfg);

	if (r)
		return r;
	if (posix_memalign((void **)&as, 64, sizeof(*as)))
		return -ENOMEM;
	memset(as, 0, sizeof(*as));
	r = format_init(&as->fmt, cfg);
	if (r)
		goto fail;
	as->fmt.id = cfg->format;
	r = -EINVAL;
	if ((cfg->base + cfg->size - 1) >> as->fmt.gpa_bits)
		goto fail;
	as->fmt.root_mask = (1ull << (as->fmt.gpa_bits -
				      PT_LEVEL_SHIFT(as->fmt.levels - 1u))) -
			    1;
	as->cfg = *cfg;
	as->hal = cfg->hal ? *cfg->hal : *aspace_host_hal();
	as->direct = as->hal.direct_map;
	as->dm_offset = as->hal.direct_map_offset;
	as->rcu = cfg->rcu;
	as->xlate = xlate_fn_for(as);
	as->stream_from = cfg->zero == ASPACE_ZERO_STREAM   ? ASPACE_PAGE_SIZE
			  : cfg->zero == ASPACE_ZERO_CACHED ? UINT64_MAX
							    : ASPACE_BLOCK_2M;
	as->base = cfg->base;
	as->last = cfg->base + cfg->size - 1;
	as->root_size = ASPACE_PAGE_SIZE << as->fmt.root_order;
	r = -ENOMEM;
	as->areas = area_set_new(16, 0);
	if (!as->areas)
		goto fail;
	if (as->hal.alloc(as->hal.ctx, as->root_size, &as->root_hpa))
		goto fail_set;
	as->fam = family_get(&as->hal);
	if (!as->fam)
		goto fail_root;
	as->root_va = pt_va(as, as->root_hpa);
	memset(as->root_va, 0, as->root_size);
	pthread_mutex_init(&as->lock, NULL);
	CDS_INIT_LIST_HEAD(&as->vcpus);
	cache_init(&as->ctl_cache, cfg->cache_batch ? cfg->cache_batch : 32);
	*out = as;
	return 0;
fail_root:
	as->hal.free(as->hal.ctx, as->root_hpa, as->root_size);
fail_set:
	free(as->areas);
fail:
	free(as);
	return r;
}

void aspace_destroy(struct aspace *as)
{
	if (!as)
		return;
	aspace_clear(as);
	as_lock(as);
	as_grace_period(as);
	cache_drain(as, &as->ctl_cache, 0);
	as->hal.free(as->hal.ctx, as->root_hpa, as->root_size);
	as_unlock(as);
	pthread_mutex_destroy(&as->lock);
	family_put(as->fam);
	free(as->areas);
	free(as->handler);
	while (as->old_handlers) {
		struct fault_handler *h = as->old_handlers;

		as->old_handlers = h->next_old;
		free(h);
	}
	free(as);
}

int aspace_hw_root(const struct aspace *as, struct aspace_hw_root *out)
{
	if (!as || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->root = as->root_hpa;
	out->root_size = as->root_size;
	out->levels = as->fmt.levels;
	switch (as->fmt.id) {
	case ASPACE_FMT_EPT4:
	case ASPACE_FMT_EPT5:
		ept_hw_root(&as->fmt, &as->cfg, as->root_hpa, out);
		break;
	case ASPACE_FMT_S2_4K:
		s2_hw_root(&as->fmt, &as->cfg, as->root_hpa, out);
		break;
	default:
		gstage_hw_root(&as->fmt, &as->cfg, as->root_hpa, out);
		break;
	}
	return 0;
}

/* ---- area set edits ---- */

static void publish(struct aspace *as, struct area_set *set)
{
	struct area_set *old = as->areas;

	if (set == old)
		return;
	__atomic_store_n(&as->areas, set, __ATOMIC_RELEASE);
	/* Readers may still walk the old array until a grace period. */
	old->retired_next = as->retired_sets;
	as->retired_sets = old;
}

/*
 * The set with the areas overlapping [lo, hi) replaced by add[0..nadd)
 * (sorted). gen changes when an area leaves. NULL when out of memory.
 */
static struct area_set *set_replace(struct aspace *as, aspace_gpa_t lo,
				    aspace_gpa_t hi, struct area **add,
				    size_t nadd, bool removes)
{
	const struct area_set *old = as->areas;
	struct area_set *set;
	size_t i = 0, j;

	set = area_set_new(MAX(old->n + nadd, old->cap), as->area_gen + 1);
	if (!set)
		return NULL;
	while (i < old->n && old->v[i]->end <= lo)
		area_set_push(set, old->v[i++]);
	while (i < old->n && old->v[i]->start < hi)
		i++;
	for (j = 0; j < nadd; j++)
		area_set_push(set, add[j]);
	while (i < old->n)
		area_set_push(set, old->v[i++]);
	if (removes)
		as->area_gen = set->gen;
	else
		set->gen = old->gen;
	return set;
}

/*
 * The set that will hold a new area. An area that sorts last goes in place
 * (returns the current set: readers see the new count only after the slot
 * is written); otherwise a new, larger array. NULL when out of memory.
 */
static struct area_set *set_prepare_insert(struct aspace *as, struct area *a)
{
	struct area_set *set = as->areas;
	size_t n = set->n;

	if (n < set->cap && (n == 0 || set->v[n - 1]->start < a->start))
		return set;
	set = set_replace(as, a->start, a->start, &a, 1, false);
	if (set && set->cap < 2 * set->n) {
		struct area_set *big = area_set_new(2 * set->n, set->gen);

		for (size_t i = 0; big && i < set->n; i++)
			area_set_push(big, set->v[i]);
		free(set);
		set = big;
	}
	return set;
}

static void set_commit_insert(struct aspace *as, struct area_set *set,
			      struct area *a)
{
	if (set == as->areas)
		area_set_push(set, a);
	else
		publish(as, set);
}

/* ---- map ---- */

static void op_finish(struct pt_op *op)
{
	stack_release(op->as, &op->tables, ASPACE_PAGE_SIZE);
	stack_release(op->as, &op->data4k, ASPACE_PAGE_SIZE);
	stack_release(op->as, &op->data2m, ASPACE_BLOCK_2M);
}

static int map_reserve(struct pt_op *op, aspace_gpa_t gpa, uint64_t size,
		       aspace_hpa_t hpa, unsigned flags, bool alloc)
{
	struct aspace *as = op->as;
	int r;

	op->dry = true;
	op->tables_needed = op->data4k_needed = op->data2m_needed = 0;
	if (alloc)
		pt_populate(op, gpa, gpa + size, flags);
	else
		pt_map_linear(op, gpa, gpa + size, hpa, flags);
	op->dry = false;
	r = stack_reserve(as, &op->data2m, op->data2m_needed, ASPACE_BLOCK_2M);
	if (r && !op->no_2m_data) {
		/* No huge frames to be had: populate with 4 KiB ones. */
		op->no_2m_data = true;
		return map_reserve(op, gpa, size, hpa, flags, alloc);
	}
	if (!r)
		r = stack_reserve(as, &op->data4k, op->data4k_needed,
				  ASPACE_PAGE_SIZE);
	if (!r)
		r = stack_reserve(as, &op->tables, op->tables_needed,
				  ASPACE_PAGE_SIZE);
	return r;
}

static int map_area(struct aspace *as, aspace_gpa_t gpa, uint64_t size,
		    aspace_hpa_t hpa, unsigned flags, enum area_kind kind,
		    bool populate)
{
	struct pt_op op = {.as = as};
	struct area_set *set;
	struct area *a;
	int r = check_range(as, gpa, size);

	if (r)
		return r;
	if (!flags_valid(flags))
		return -EINVAL;
	if (kind == AREA_LINEAR &&
	    (!ALIGNED(hpa, ASPACE_PAGE_SIZE) || hpa + size - 1 < hpa ||
	     hpa + size - 1 >= as->fmt.hpa_limit))
		return -EINVAL;
	a = area_new(gpa, gpa + size, hpa, flags, kind);
	if (!a)
		return -ENOMEM;
	as_lock(as);
	op.set = op.old = as->areas;
	r = -EEXIST;
	if (area_intersects(as->areas, gpa, gpa + size))
		goto out;
	if (kind == AREA_LINEAR || populate) {
		r = map_reserve(&op, gpa, size, hpa, flags, kind == AREA_ALLOC);
		if (r)
			goto out;
	}
	/* The last fallible step: after it, nothing can fail. */
	r = -ENOMEM;
	set = set_prepare_insert(as, a);
	if (!set)
		goto out;
	/*
	 * Entries first, then the area: until it is published no fault can
	 * install anything in the range, so the commit finds every slot it
	 * counted as empty still empty (neighbours' faults may add tables,
	 * which only means fewer frames are needed).
	 */
	if (kind == AREA_LINEAR)
		pt_map_linear(&op, gpa, gpa + size, hpa, flags);
	else if (populate)
		pt_populate(&op, gpa, gpa + size, flags);
	set_commit_insert(as, set, a);
	a = NULL;
	r = 0;
out:
	op_finish(&op);
	as_unlock(as);
	free(a);
	return r;
}

int aspace_map_linear(struct aspace *as, aspace_gpa_t gpa, aspace_hpa_t hpa,
		      uint64_t size, unsigned flags)
{
	return map_area(as, gpa, size, hpa, flags, AREA_LINEAR, false);
}

int aspace_map_alloc(struct aspace *as, aspace_gpa_t gpa, uint64_t size,
		     unsigned flags, bool populate)
{
	return map_area(as, gpa, size, 0, flags, AREA_ALLOC, populate);
}

/* ---- unmap and protect ---- */

/* The part of a left of lo, or right of hi: a new area for what remains. */
static struct area *area_piece(const struct area *a, aspace_gpa_t start,
			       aspace_gpa_t end, unsigned flags)
{
	return area_new(start, end, a->hpa + (start - a->start), flags,
			a->kind);
}

struct edit {
	struct area *add[3];
	size_t nadd;
	const struct area *first, *last; /* old areas overlapping */
};

static void edit_free(struct edit *e)
{
	for (size_t i = 0; i < e->nadd; i++)
		free(e->add[i]);
}

/*
 * What replaces the areas overlapping [lo, hi): their parts outside it,
 * and, for protect (keep), their parts inside with new permissions. For
 * protect, one area is cut at most twice; several areas keep one piece
 * each inside, so only the edge areas need new structs outside.
 */
static int edit_prepare(struct aspace *as, struct edit *e, aspace_gpa_t lo,
			aspace_gpa_t hi)
{
	const struct area_set *set = as->areas;
	const struct area *a = area_next(set, lo);

	memset(e, 0, sizeof(*e));
	if (!a || a->start >= hi)
		return 0;
	e->first = a;
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i]->start < hi && set->v[i]->end > lo)
			e->last = set->v[i];
	if (e->first->start < lo) {
		e->add[e->nadd] = area_piece(e->first, e->first->start, lo,
					     e->first->flags);
		if (!e->add[e->nadd++])
			goto nomem;
	}
	if (e->last->end > hi) {
		e->add[e->nadd] =
			area_piece(e->last, hi, e->last->end, e->last->flags);
		if (!e->add[e->nadd++])
			goto nomem;
	}
	return 0;
nomem:
	edit_free(e);
	return -ENOMEM;
}

/* Free the areas that left the set; called after the grace period. */
static void areas_free_removed(const struct area_set *old,
			       const struct area_set *set, aspace_gpa_t lo,
			       aspace_gpa_t hi)
{
	for (size_t i = 0; i < old->n; i++) {
		struct area *a = old->v[i];

		if (a->start < hi && a->end > lo &&
		    area_find(set, a->start) != a)
			free(a);
	}
}

/*
 * What splitting the blocks that straddle lo and hi needs: a table per
 * level below each such block, room to track split 2 MiB frames, and a
 * private copy of a 2 MiB frame shared copy-on-write (only clone makes
 * those, and it holds as->lock). Nothing when no block straddles an edge:
 * then an unmap of whole areas (clear, destroy) never calls the HAL.
 */
static int op_reserve_splits(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi)
{
	struct aspace *as = op->as;
	aspace_gpa_t edge[2] = {lo, hi};
	size_t copies = 0, tables = 0;
	struct pt_lookup l;

	for (int i = 0; i < 2; i++) {
		const struct area *a = area_find(as->areas, edge[i]);

		if (edge[i] > as->last || !a || a->start == edge[i])
			continue;
		if (pt_lookup(as, edge[i], &l) == 0) {
			if (ALIGNED(edge[i], PT_LEVEL_SIZE(l.level)))
				continue;
			tables += l.level;
			copies += l.level == 1 && (l.pte & as->fmt.cow_bit);
		} else if (a->kind != AREA_LINEAR &&
			   !ALIGNED(edge[i], ASPACE_BLOCK_2M)) {
			/* A vCPU may fault a 2 MiB block in across the edge
			 * until the cut area is published. */
			tables++;
		}
	}
	if (!tables)
		return 0;
	if (huge_reserve(as->fam, 2) ||
	    stack_reserve(as, &op->data2m, copies, ASPACE_BLOCK_2M))
		return -ENOMEM;
	return stack_reserve(as, &op->tables, tables, ASPACE_PAGE_SIZE);
}

int aspace_unmap(struct aspace *as, aspace_gpa_t gpa, uint64_t size)
{
	struct pt_op op = {.as = as};
	aspace_gpa_t hi = gpa + size;
	struct area_set *set;
	struct edit e;
	int r = check_range(as, gpa, size);

	if (r)
		return r;
	as_lock(as);
	r = edit_prepare(as, &e, gpa, hi);
	if (r || !e.first)
		goto out;
	r = op_reserve_splits(&op, gpa, hi);
	if (r)
		goto out_edit;
	r = -ENOMEM;
	set = set_replace(as, gpa, hi, e.add, e.nadd, true);
	if (!set)
		goto out_edit;
	op.old = as->areas;
	op.set = set;
	__atomic_store_n(&as->areas, set, __ATOMIC_RELEASE);
	as_grace_period(as); /* I4: no fault still sees the removed areas */
	for (size_t i = 0; i < op.old->n; i++) {
		const struct area *a = op.old->v[i];

		if (a->start < hi && a->end > gpa)
			pt_unmap(&op, MAX(a->start, gpa), MIN(a->end, hi),
				 a->kind != AREA_LINEAR);
	}
	free_list_commit(&op); /* I5: flush, grace period, free */
	areas_free_removed(op.old, set, gpa, hi);
	free((void *)op.old);
	r = 0;
	goto out;
out_edit:
	edit_free(&e);
out:
	op_finish(&op);
	as_unlock(as);
	return r;
}

/* The whole of [lo, hi) lies in areas, without gaps. */
static bool range_covered(const struct area_set *set, aspace_gpa_t lo,
			  aspace_gpa_t hi)
{
	while (lo < hi) {
		const struct area *a = area_find(set, lo);

		if (!a)
			return false;
		lo = a->end;
	}
	return true;
}

/*
 * The set in which the areas overlapping [lo, hi) (edit e) are cut at lo
 * and hi, and their parts inside get new permissions (perm, unless ~0u)
 * and, with share, become shared areas. NULL when out of memory; then
 * nothing is consumed, e included.
 */
static struct area_set *set_rewrite(struct aspace *as, aspace_gpa_t lo,
				    aspace_gpa_t hi, const struct edit *e,
				    unsigned perm, bool share)
{
	const struct area_set *old = as->areas;
	size_t n = 0, cap = 0;
	struct area **add = NULL;
	struct area_set *set = NULL;

	for (size_t i = 0; i < old->n; i++)
		cap += old->v[i]->start < hi && old->v[i]->end > lo;
	add = malloc((cap + 2) * sizeof(*add));
	if (!add)
		return NULL;
	if (e->first->start < lo)
		add[n++] = e->add[0];
	for (size_t i = 0; i < old->n; i++) {
		const struct area *a = old->v[i];
		unsigned flags =
			perm == ~0u ? a->flags : perm | memtype(a->flags);
		struct area *piece;

		if (a->start >= hi || a->end <= lo)
			continue;
		piece = area_piece(a, MAX(a->start, lo), MIN(a->end, hi),
				   flags);
		if (!piece)
			goto out;
		if (share && piece->kind == AREA_ALLOC)
			piece->kind = AREA_SHARED;
		add[n++] = piece;
	}
	if (e->last->end > hi)
		add[n++] = e->add[e->nadd - 1];
	set = set_replace(as, lo, hi, add, n, true);
out:
	if (!set) /* free only the inside pieces: e keeps its own */
		for (size_t i = 0; i < n; i++)
			if (add[i]->start >= lo && add[i]->end <= hi)
				free(add[i]);
	free(add);
	return set;
}

int aspace_protect(struct aspace *as, aspace_gpa_t gpa, uint64_t size,
		   unsigned flags)
{
	struct pt_op op = {.as = as};
	aspace_gpa_t hi = gpa + size;
	const struct area_set *old;
	struct area_set *set;
	struct edit e;
	int r = check_range(as, gpa, size);

	if (r)
		return r;
	if (!flags_valid(flags) || memtype(flags))
		return -EINVAL;
	as_lock(as);
	r = -EFAULT;
	if (!range_covered(as->areas, gpa, hi))
		goto out;
	r = edit_prepare(as, &e, gpa, hi);
	if (r)
		goto out;
	r = op_reserve_splits(&op, gpa, hi);
	old = as->areas;
	set = r ? NULL : set_rewrite(as, gpa, hi, &e, flags, false);
	if (!set) {
		edit_free(&e);
		r = -ENOMEM;
		goto out;
	}
	op.old = old;
	op.set = set;
	__atomic_store_n(&as->areas, set, __ATOMIC_RELEASE);
	as_grace_period(as); /* I4 */
	for (size_t i = 0; i < old->n; i++) {
		const struct area *a = old->v[i];

		if (a->start < hi && a->end > gpa)
			pt_protect(&op, MAX(a->start, gpa), MIN(a->end, hi),
				   flags | memtype(a->flags),
				   a->kind != AREA_LINEAR);
	}
	flush_run(as, &op.flush);
	areas_free_removed(old, set, gpa, hi);
	free((void *)old);
	r = 0;
out:
	op_finish(&op);
	as_unlock(as);
	return r;
}

/* ---- shared mappings ---- */

/*
 * Make the alloc memory of [lo, hi) present and private: lazy pages are
 * faulted in, copy-on-write sharing with clones is broken, so that the
 * frames can be shared with writes seen on both sides.
 */
static int share_prepare(struct aspace *as, aspace_gpa_t lo, aspace_gpa_t hi)
{
	while (lo < hi) {
		const struct area *a = area_find(as->areas, lo);
		struct pt_lookup l;
		int r = pt_lookup(as, lo, &l);

		if (a->kind != AREA_LINEAR &&
		    (r == -ENOENT || (r == 0 && (l.pte & as->fmt.cow_bit)))) {
			r = fault_resolve_locked(as, &as->ctl_cache, &as->ctl,
						 a, lo, ASPACE_WRITE);
			if (r == -ENOMEM)
				return r;
			continue;
		}
		lo = ALIGN_DOWN(lo, PT_LEVEL_SIZE(l.level)) +
		     PT_LEVEL_SIZE(l.level);
	}
	return 0;
}

static bool share_compatible(const struct aspace *a, const struct aspace *b)
{
	return a != b && a->fam == b->fam && a->fmt.id == b->fmt.id &&
	       a->fmt.gpa_bits == b->fmt.gpa_bits &&
	       !memcmp(&a->cfg.platform, &b->cfg.platform,
		       sizeof(a->cfg.platform));
}

/* dst's areas for src's memory in [lo, hi); NULL when out of memory. */
static struct area_set *share_dst_set(struct aspace *dst,
				      const struct area_set *src,
				      aspace_gpa_t lo, aspace_gpa_t hi)
{
	struct area **add = malloc((src->n + 1) * sizeof(*add));
	struct area_set *set = NULL;
	size_t n = 0;

	if (!add)
		return NULL;
	for (size_t i = 0; i < src->n; i++) {
		const struct area *a = src->v[i];

		if (a->start >= hi || a->end <= lo)
			continue;
		add[n] = area_piece(a, MAX(a->start, lo), MIN(a->end, hi),
				    a->flags);
		if (!add[n++])
			goto out;
	}
	set = set_replace(dst, lo, hi, add, n, false);
out:
	if (!set)
		while (n--)
			free(add[n]);
	free(add);
	return set;
}

int aspace_share_from(struct aspace *dst, struct aspace *src, aspace_gpa_t gpa,
		      uint64_t size)
{
	struct pt_op sop = {.as = src}, dop = {.as = dst};
	struct aspace *first = dst < src ? dst : src;
	struct aspace *second = first == dst ? src : dst;
	aspace_gpa_t hi = gpa + size;
	struct area_set *sset = NULL, *dset = NULL;
	const struct area_set *old;
	struct edit e = {0};
	int r;

	if (!dst || !src || !share_compatible(dst, src))
		return -EINVAL;
	r = check_range(src, gpa, size);
	if (!r)
		r = check_range(dst, gpa, size);
	if (r)
		return r;
	as_lock(first);
	as_lock(second);
	r = -EFAULT;
	if (!range_covered(src->areas, gpa, hi))
		goto out;
	r = -EEXIST;
	if (area_intersects(dst->areas, gpa, hi))
		goto out;
	r = share_prepare(src, gpa, hi);
	if (!r)
		r = op_reserve_splits(&sop, gpa, hi);
	if (r)
		goto out;
	/*
	 * The areas get cut at gpa and hi: so must the blocks there, as a
	 * leaf never straddles two areas (a protect to the same flags).
	 */
	sop.old = sop.set = src->areas;
	for (size_t i = 0; i < src->areas->n; i++) {
		const struct area *a = src->areas->v[i];

		if (a->start < hi && a->end > gpa)
			pt_protect(&sop, MAX(a->start, gpa), MIN(a->end, hi),
				   a->flags, a->kind != AREA_LINEAR);
	}
	free_list_commit(&sop);
	r = edit_prepare(src, &e, gpa, hi);
	if (r)
		goto out;
	r = -ENOMEM;
	dset = share_dst_set(dst, src->areas, gpa, hi);
	sset = dset ? set_rewrite(src, gpa, hi, &e, ~0u, true) : NULL;
	if (!sset) {
		edit_free(&e);
		goto out;
	}
	/* Each leaf: one more reference, the same entry in dst. */
	r = 0;
	for (size_t i = 0; !r && i < sset->n; i++) {
		const struct area *a = sset->v[i];

		if (a->start < hi && a->end > gpa)
			r = pt_clone_range(&sop, &dop, a, MAX(a->start, gpa),
					   MIN(a->end, hi));
	}
	if (r) {
		/* Give back what dst got; nothing was published. */
		dop.old = sset;
		dop.set = dst->areas;
		pt_unmap(&dop, gpa, hi, true);
		free_list_commit(&dop);
		areas_free_removed(sset, src->areas, gpa, hi);
		free(sset);
		for (size_t i = 0; i < dset->n; i++)
			if (dset->v[i]->start >= gpa && dset->v[i]->end <= hi)
				free(dset->v[i]);
		free(dset);
		goto out;
	}
	old = src->areas;
	__atomic_store_n(&src->areas, sset, __ATOMIC_RELEASE);
	as_grace_period(src);
	areas_free_removed(old, sset, gpa, hi);
	free((void *)old);
	publish(dst, dset);
out:
	op_finish(&sop);
	op_finish(&dop);
	as_unlock(second);
	as_unlock(first);
	return r;
}

int aspace_unshare(struct aspace *dst, aspace_gpa_t gpa, uint64_t size)
{
	return aspace_unmap(dst, gpa, size);
}

void aspace_clear(struct aspace *as)
{
	aspace_unmap(as, as->base, as->last - as->base + 1);
	/* Every frame back to the HAL: the control path's cache too. */
	as_lock(as);
	cache_drain(as, &as->ctl_cache, 0);
	as_unlock(as);
}

void aspace_barrier(struct aspace *as)
{
	/* Frees complete inside the operation that released the frames. */
	as_lock(as);
	as_grace_period(as);
	as_unlock(as);
}

/* ---- vCPUs ---- */

struct aspace_vcpu *aspace_vcpu_attach(struct aspace *as)
{
	struct aspace_vcpu *v;

	if (posix_memalign((void **)&v, 64, sizeof(*v))) {
		errno = ENOMEM;
		return NULL;
	}
	memset(v, 0, sizeof(*v));
	v->as = as;
	v->last_gen = UINT64_MAX; /* no area cached */
	cache_init(&v->cache, as->cfg.cache_batch ? as->cfg.cache_batch : 32);
	as_thread_register(as->rcu);
	as_lock(as);
	cds_list_add(&v->node, &as->vcpus);
	as->nvcpus++;
	as_readers_add(as, 1);
	as_unlock(as);
	return v;
}

static void counters_add(struct counters *to, const struct counters *from)
{
	const uint64_t *s = (const uint64_t *)from;
	uint64_t *d = (uint64_t *)to;

	for (size_t i = 0; i < sizeof(*from) / sizeof(uint64_t); i++)
		d[i] += __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

void aspace_vcpu_detach(struct aspace_vcpu *v)
{
	struct aspace *as = v->as;

	as_lock(as);
	cds_list_del(&v->node);
	as->nvcpus--;
	as_readers_add(as, -1);
	counters_add(&as->retired, &v->cnt);
	as_unlock(as);
	cache_drain(as, &v->cache, 0);
	as_thread_unregister(as->rcu);
	free(v);
}

void aspace_vcpu_quiescent(struct aspace_vcpu *v)
{
	if (v->as->rcu == ASPACE_RCU_QSBR)
		urcu_qsbr_quiescent_state();
}

void aspace_vcpu_offline(struct aspace_vcpu *v)
{
	if (v->as->rcu == ASPACE_RCU_QSBR)
		urcu_qsbr_thread_offline();
}

void aspace_vcpu_online(struct aspace_vcpu *v)
{
	if (v->as->rcu == ASPACE_RCU_QSBR)
		urcu_qsbr_thread_online();
}

/* ---- statistics and accessors ---- */

void aspace_stats(struct aspace *as, struct aspace_stats *st)
{
	struct counters sum = {0};
	struct cds_list_head *pos;

	memset(st, 0, sizeof(*st));
	as_lock(as);
	counters_add(&sum, &as->ctl);
	counters_add(&sum, &as->retired);
	st->cache_frames = as->ctl_cache.n4k + as->ctl_cache.n2m;
	cds_list_for_each (pos, &as->vcpus) {
		struct aspace_vcpu *v =
			caa_container_of(pos, struct aspace_vcpu, node);

		counters_add(&sum, &v->cnt);
		st->cache_frames +=
			__atomic_load_n(&v->cache.n4k, __ATOMIC_RELAXED) +
			__atomic_load_n(&v->cache.n2m, __ATOMIC_RELAXED);
	}
	as_unlock(as);
	st->mapped_4k = sum.leaves[0];
	st->mapped_2m = sum.leaves[1];
	st->mapped_1g = sum.leaves[2];
	st->table_pages = sum.tables + (as->root_size >> 12);
	st->data_frames_bytes = sum.data_bytes;
	st->faults = sum.faults;
	st->faults_fixed = sum.fixed;
	st->faults_spurious = sum.spurious;
	st->faults_real = sum.real;
	st->splits = sum.splits;
	st->cow_breaks = sum.cow_breaks;
	st->cow_reuses = sum.cow_reuses;
	st->flushes = sum.flushes;
}

aspace_gpa_t aspace_base(const struct aspace *as)
{
	return as->base;
}

uint64_t aspace_size(const struct aspace *as)
{
	return as->last - as->base + 1;
}

enum aspace_format aspace_format(const struct aspace *as)
{
	return as->fmt.id;
}

const char *aspace_format_name(enum aspace_format fmt)
{
	static const char *const names[] = {
		[ASPACE_FMT_EPT4] = "ept4",	[ASPACE_FMT_EPT5] = "ept5",
		[ASPACE_FMT_S2_4K] = "s2-4k",	[ASPACE_FMT_SV39X4] = "sv39x4",
		[ASPACE_FMT_SV48X4] = "sv48x4", [ASPACE_FMT_SV57X4] = "sv57x4",
	};

	if ((unsigned)fmt >= sizeof(names) / sizeof(names[0]) || !names[fmt])
		return "unknown";
	return names[fmt];
}
