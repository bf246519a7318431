/* SPDX-License-Identifier: MIT */
/*
 * The generic table walker.
 *
 * Two kinds of walk:
 *  - pt_lookup / pt_install: one GPA, root to leaf, lock-free. They run on
 *    vCPU threads under RCU and only ever turn empty entries into tables
 *    or leaves with compare-and-swap (invariant I3 in internal.h).
 *  - the range walkers (map, populate, unmap, protect): the control path,
 *    under as->lock. Map and populate first run "dry" over the same code
 *    to count the frames they will need, so that every frame is reserved
 *    before the first entry changes and the commit pass cannot fail.
 */
#include <assert.h>
#include <string.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

/*
 * Install a leaf for gpa at level target, creating missing tables from the
 * cache (which the caller topped up: this never calls the allocator).
 * Returns 0 when our leaf went in; -EEXIST when a leaf already maps gpa
 * (at this level or above: another vCPU won, or a bigger block); -EAGAIN
 * on a frozen entry; -EBUSY when a table sits where a block was wanted.
 */
int pt_install(struct aspace *as, struct frame_cache *c, struct counters *cnt,
	       aspace_gpa_t gpa, unsigned target, pte_t leaf)
{
	const struct pt_format *f = &as->fmt;
	pte_t *table = as->root_va;
	unsigned level = f->levels - 1u;

	for (;; level--) {
		pte_t *p = &table[pt_index(f, gpa, level)];
		pte_t pte = pte_load(p);

		if (level == target) {
			if (pte == 0 && pte_cas(p, 0, leaf))
				return 0;
			pte = pte_load(p);
			if (pte == PTE_FROZEN)
				return -EAGAIN;
			return pte_is_table(f, pte, level) ? -EBUSY : -EEXIST;
		}
		if (pte == 0) {
			aspace_hpa_t hpa = cache_pop(c);
			pte_t new = pte_mk_table(f, hpa);

			frame_zero(as, hpa, ASPACE_PAGE_SIZE);
			if (pte_cas(p, 0, new)) {
				CNT_ADD(cnt, tables, 1);
				pte = new;
			} else {
				/* Lost the race: the frame goes back. */
				cache_push(as, c, hpa);
				pte = pte_load(p);
			}
		}
		if (pte == PTE_FROZEN)
			return -EAGAIN;
		if (!pte_is_table(f, pte, level))
			return -EEXIST;
		table = pt_table(as, pte);
	}
}

/* ---- control path: reservations and deferred invalidation ---- */

void flush_add(struct flush_batch *fb, aspace_gpa_t gpa, uint64_t size)
{
	if (fb->all)
		return;
	if (fb->n && fb->gpa[fb->n - 1] + fb->size[fb->n - 1] == gpa) {
		fb->size[fb->n - 1] += size;
		return;
	}
	if (fb->n == sizeof(fb->gpa) / sizeof(fb->gpa[0])) {
		/* Past the threshold, one global flush beats many. */
		fb->all = true;
		return;
	}
	fb->gpa[fb->n] = gpa;
	fb->size[fb->n] = size;
	fb->n++;
}

void flush_run(struct aspace *as, struct flush_batch *fb)
{
	if (as->hal.flush) {
		if (fb->all) {
			as->hal.flush(as->hal.ctx, 0, 0);
			CNT_ADD(&as->ctl, flushes, 1);
		} else {
			for (unsigned i = 0; i < fb->n; i++)
				as->hal.flush(as->hal.ctx, fb->gpa[i],
					      fb->size[i]);
			CNT_ADD(&as->ctl, flushes, fb->n);
		}
	}
	fb->n = 0;
	fb->all = false;
}

static aspace_hpa_t op_pop(struct frame_stack *s)
{
	assert(s->n > 0);
	return s->v[--s->n];
}

/* A zeroed table frame from the reservation. */
static pte_t *op_new_table(struct pt_op *op, aspace_hpa_t *hpa)
{
	*hpa = op_pop(&op->tables);
	frame_zero(op->as, *hpa, ASPACE_PAGE_SIZE);
	CNT_ADD(&op->as->ctl, tables, 1);
	return pt_va(op->as, *hpa);
}

/*
 * The child table behind entry p, created if empty. In a dry run a missing
 * table is counted and NULL stands for it: an empty virtual table.
 */
static pte_t *op_child(struct pt_op *op, pte_t *p, unsigned level)
{
	const struct pt_format *f = &op->as->fmt;
	pte_t pte = p ? pte_load(p) : 0;
	aspace_hpa_t hpa;
	pte_t *child;

	if (pte == 0 && op->dry) {
		op->tables_needed++;
		return NULL;
	}
	if (pte == 0) {
		child = op_new_table(op, &hpa);
		/* A vCPU faulting in a neighbouring area may race us here. */
		if (pte_cas(p, 0, pte_mk_table(f, hpa)))
			return child;
		CNT_ADD(&op->as->ctl, tables, -1);
		op->tables.v[op->tables.n++] = hpa;
		pte = pte_load(p);
	}
	assert(pte_is_table(f, pte, level));
	return pt_table(op->as, pte);
}

/* ---- map_linear and populate ---- */

struct map_args {
	aspace_hpa_t hpa_lo; /* linear: host address of the range start */
	aspace_gpa_t lo;
	unsigned flags;
	bool alloc;
};

static bool map_block_ok(struct pt_op *op, const struct map_args *m,
			 aspace_gpa_t gpa, unsigned level)
{
	const struct pt_format *f = &op->as->fmt;

	if (!pt_leaf_ok(f, level))
		return false;
	if (m->alloc) /* data frames are 4 KiB or 2 MiB */
		return level == 1 && !op->no_2m_data;
	return ALIGNED(m->hpa_lo + (gpa - m->lo), PT_LEVEL_SIZE(level));
}

static void map_leaf(struct pt_op *op, const struct map_args *m, pte_t *p,
		     aspace_gpa_t gpa, unsigned level)
{
	struct aspace *as = op->as;
	uint64_t size = PT_LEVEL_SIZE(level);
	aspace_hpa_t hpa;

	if (op->dry) {
		if (m->alloc && level)
			op->data2m_needed++;
		else if (m->alloc)
			op->data4k_needed++;
		return;
	}
	assert(pte_load(p) == 0);
	if (m->alloc) {
		hpa = op_pop(level ? &op->data2m : &op->data4k);
		data_zero(as, hpa, size);
		CNT_ADD(&as->ctl, data_bytes, size);
	} else {
		hpa = m->hpa_lo + (gpa - m->lo);
	}
	/* Nobody else writes leaves of an unpublished range. */
	pte_store(p, pte_mk_leaf(&as->fmt, hpa, level, m->flags));
	CNT_ADD(&as->ctl, leaves[level], 1);
}

static void map_level(struct pt_op *op, const struct map_args *m, pte_t *table,
		      unsigned level, aspace_gpa_t lo, aspace_gpa_t hi)
{
	const struct pt_format *f = &op->as->fmt;
	uint64_t size = PT_LEVEL_SIZE(level);

	for (aspace_gpa_t gpa = lo; gpa < hi;) {
		aspace_gpa_t slot = ALIGN_DOWN(gpa, size);
		aspace_gpa_t next = MIN(slot + size, hi);
		pte_t *p = table ? &table[pt_index(f, gpa, level)] : NULL;
		pte_t pte = p ? pte_load(p) : 0;

		if (level == 0 ||
		    (pte == 0 && gpa == slot && next == slot + size &&
		     map_block_ok(op, m, gpa, level)))
			map_leaf(op, m, p, gpa, level);
		else
			map_level(op, m, op_child(op, p, level), level - 1, gpa,
				  next);
		gpa = next;
	}
}

void pt_map_linear(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
		   aspace_hpa_t hpa, unsigned flags)
{
	struct map_args m = {.hpa_lo = hpa, .lo = lo, .flags = flags};

	map_level(op, &m, op->as->root_va, op->as->fmt.levels - 1u, lo, hi);
}

void pt_populate(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
		 unsigned flags)
{
	struct map_args m = {.lo = lo, .flags = flags, .alloc = true};

	map_level(op, &m, op->as->root_va, op->as->fmt.levels - 1u, lo, hi);
}

/* ---- splitting, unmapping, protecting ---- */

/*
 * A shared (copy-on-write) 2 MiB frame cannot be split: the pieces would
 * need references of their own. Give this mapping a private copy first,
 * from the reservation. Returns the frame the block should map.
 */
static aspace_hpa_t block_private_copy(struct pt_op *op, aspace_hpa_t base,
				       bool *copied)
{
	struct aspace *as = op->as;
	aspace_hpa_t key = share_key(base, ASPACE_BLOCK_2M);
	pthread_mutex_t *lock = share_lock(as->fam, key);
	aspace_hpa_t copy;
	bool shared;

	pthread_mutex_lock(lock);
	shared = frame_shared(as->fam, key);
	pthread_mutex_unlock(lock);
	*copied = shared;
	if (!shared)
		return base;
	copy = op_pop(&op->data2m);
	memcpy(pt_va(as, copy), pt_va(as, base), ASPACE_BLOCK_2M);
	return copy;
}

/*
 * Replace the block at p by a table of smaller leaves with the same
 * translation. EPT and G-stage swap in one step: nothing changes for the
 * CPU, so no flush. Arm requires break-before-make when a block becomes a
 * table: freeze (walkers back off), flush, then install. A vCPU breaking
 * copy-on-write may replace the block meanwhile: hence CAS, and retry.
 */
static pte_t *split_block(struct pt_op *op, pte_t *p, unsigned level,
			  aspace_gpa_t slot, bool alloc_frame)
{
	struct aspace *as = op->as;
	const struct pt_format *f = &as->fmt;
	uint64_t size = PT_LEVEL_SIZE(level), csize = PT_LEVEL_SIZE(level - 1);
	aspace_hpa_t table, base, old;
	pte_t pte, *child;
	bool copied = false;

	child = op_new_table(op, &table);
	for (;;) {
		pte = pte_load(p);
		old = base = pte_addr(f, pte);
		if (alloc_frame && (pte & f->cow_bit))
			base = block_private_copy(op, old, &copied);
		pte_t keep = pte & ~(f->bits.oa_mask | f->size_bits[0] |
				     f->size_bits[1]);
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			child[i] = keep | pte_oa(f, base + i * csize) |
				   f->size_bits[level - 1 > 0];
		if (f->id != ASPACE_FMT_S2_4K) {
			if (pte_cas(p, pte, pte_mk_table(f, table)))
				break;
		} else if (pte_cas(p, pte, PTE_FROZEN)) {
			if (as->hal.flush) {
				as->hal.flush(as->hal.ctx, slot, size);
				CNT_ADD(&as->ctl, flushes, 1);
			}
			pte_store(p, pte_mk_table(f, table));
			break;
		}
		if (copied) /* lost to a copy-on-write break: try again */
			op->data2m.v[op->data2m.n++] = base;
	}
	if (copied) {
		/* Nothing may reach the shared frame before we let it go. */
		if (f->id != ASPACE_FMT_S2_4K && as->hal.flush) {
			as->hal.flush(as->hal.ctx, slot, size);
			CNT_ADD(&as->ctl, flushes, 1);
		}
		uint64_t osize = size;

		if (frame_drop(as->fam, &old, &osize))
			free_list_add(op, old, osize);
	}
	if (alloc_frame) /* a 2 MiB data frame now backs 512 leaves */
		huge_split(as->fam, base);
	CNT_ADD(&as->ctl, leaves[level], -1);
	CNT_ADD(&as->ctl, leaves[level - 1], PT_ENTRIES);
	CNT_ADD(&as->ctl, splits, 1);
	return child;
}

/* Drop a data frame's mapping; free it after the grace period if last. */
static void release_data(struct pt_op *op, aspace_hpa_t hpa, uint64_t size)
{
	CNT_ADD(&op->as->ctl, data_bytes, -size);
	if (frame_drop(op->as->fam, &hpa, &size))
		free_list_add(op, hpa, size);
}

/*
 * Free a table that no area reaches any more, with whatever it still
 * holds: leaves of areas removed by this operation (op->old tells whether
 * their frames were allocated) and child tables. Its parent entry is
 * already cleared. No fault can reach it (I2, I4); as KVM does, every
 * child is frozen anyway, so that a walker that still held the table
 * would back off rather than fill it.
 */
static void free_table(struct pt_op *op, pte_t *table, aspace_hpa_t hpa,
		       unsigned level, aspace_gpa_t span)
{
	struct aspace *as = op->as;
	const struct pt_format *f = &as->fmt;
	uint64_t size = PT_LEVEL_SIZE(level);

	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		pte_t pte = pte_xchg(&table[i], PTE_FROZEN);
		aspace_gpa_t gpa = span + i * size;

		if (!pte_present(f, pte))
			continue;
		if (pte_is_table(f, pte, level)) {
			free_table(op, pt_table(as, pte), pte_addr(f, pte),
				   level - 1, gpa);
			continue;
		}
		const struct area *a = area_find(op->old, gpa);

		CNT_ADD(&as->ctl, leaves[level], -1);
		if (a && a->kind != AREA_LINEAR)
			release_data(op, pte_addr(f, pte), size);
	}
	CNT_ADD(&as->ctl, tables, -1);
	free_list_add(op, hpa, ASPACE_PAGE_SIZE);
}

/*
 * An edit of every leaf in a range (unmap, protect): blocks straddling the
 * range are split first, so that the edit applies to whole leaves. The
 * control path: one call per leaf is fine here.
 */
struct range_edit {
	void (*leaf)(struct pt_op *op, pte_t *p, pte_t pte, unsigned level,
		     aspace_gpa_t slot, const struct range_edit *e);
	bool unlink; /* free tables that no area reaches any more (I2) */
	bool data;   /* the leaves map frames of alloc or shared areas */
	unsigned flags;
};

static void edit_level(struct pt_op *op, pte_t *table, unsigned level,
		       aspace_gpa_t lo, aspace_gpa_t hi,
		       const struct range_edit *e)
{
	struct aspace *as = op->as;
	const struct pt_format *f = &as->fmt;
	uint64_t size = PT_LEVEL_SIZE(level);

	for (aspace_gpa_t gpa = lo; gpa < hi;) {
		aspace_gpa_t slot = ALIGN_DOWN(gpa, size);
		aspace_gpa_t next = MIN(slot + size, hi);
		pte_t *p = &table[pt_index(f, gpa, level)];
		pte_t pte = pte_load(p);
		pte_t *child;

		gpa = next;
		if (!pte_present(f, pte))
			continue;
		if (!pte_is_table(f, pte, level)) {
			if (slot >= lo && slot + size <= hi) {
				e->leaf(op, p, pte, level, slot, e);
				continue;
			}
			child = split_block(op, p, level, slot,
					    e->data && level == 1);
			pte = pte_load(p);
		} else {
			child = pt_table(as, pte);
		}
		edit_level(op, child, level - 1, MAX(lo, slot), next, e);
		if (!e->unlink || area_intersects(op->set, slot, slot + size))
			continue;
		/* No area reaches this table any more (I2): unlink it. */
		pte_xchg(p, 0);
		flush_add(&op->flush, slot, size);
		free_table(op, child, pte_addr(f, pte), level - 1, slot);
	}
}

static void unmap_leaf(struct pt_op *op, pte_t *p, pte_t pte, unsigned level,
		       aspace_gpa_t slot, const struct range_edit *e)
{
	uint64_t size = PT_LEVEL_SIZE(level);

	pte_xchg(p, 0);
	flush_add(&op->flush, slot, size);
	CNT_ADD(&op->as->ctl, leaves[level], -1);
	if (e->data)
		release_data(op, pte_addr(&op->as->fmt, pte), size);
}

void pt_unmap(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
	      bool free_data)
{
	struct range_edit e = {
		.leaf = unmap_leaf, .unlink = true, .data = free_data};

	edit_level(op, op->as->root_va, op->as->fmt.levels - 1u, lo, hi, &e);
}

/*
 * New permissions for one leaf. A shared copy-on-write leaf stays
 * read-only whatever the area allows: its first write breaks the sharing.
 * CAS: a vCPU may break copy-on-write on it meanwhile.
 */
static void protect_leaf(struct pt_op *op, pte_t *p, pte_t pte, unsigned level,
			 aspace_gpa_t slot, const struct range_edit *e)
{
	const struct pt_format *f = &op->as->fmt;
	pte_t new;

	do {
		pte = pte_load(p);
		unsigned fl =
			pte & f->cow_bit ? e->flags & ~ASPACE_WRITE : e->flags;

		new = (pte & ~f->attr_mask) |
		      (f->leaf_attr[level > 0][fl] & f->attr_mask);
		if (new == pte)
			return;
	} while (!pte_cas(p, pte, new));
	flush_add(&op->flush, slot, PT_LEVEL_SIZE(level));
}

void pt_protect(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
		unsigned flags, bool alloc)
{
	struct range_edit e = {
		.leaf = protect_leaf, .data = alloc, .flags = flags};

	edit_level(op, op->as->root_va, op->as->fmt.levels - 1u, lo, hi, &e);
}

/* ---- clone: copy leaves, sharing alloc frames copy-on-write ---- */

struct clone_op {
	struct pt_op *src, *dst;
	const struct area *a;
	int err;
};

/*
 * Share an alloc leaf: one more reference, and read-only on both sides
 * (copy-on-write). A leaf of a shared area: one more reference only.
 */
static pte_t clone_share_leaf(struct clone_op *c, pte_t *p, unsigned level,
			      aspace_gpa_t slot)
{
	struct aspace *as = c->src->as;
	const struct pt_format *f = &as->fmt;
	pte_t pte, wp;
	aspace_hpa_t hpa;
	pthread_mutex_t *lock;
	struct hpa_map *m;
	uint32_t refs;

	for (;;) {
		while ((pte = pte_load(p)) == PTE_FROZEN) /* Arm CoW break */
			caa_cpu_relax();
		hpa = share_key(pte_addr(f, pte), PT_LEVEL_SIZE(level));
		lock = share_lock(as->fam, hpa);
		m = share_map(as->fam, hpa);
		pthread_mutex_lock(lock);
		if (pte_load(p) == pte)
			break;
		pthread_mutex_unlock(lock); /* a CoW break moved it: again */
	}
	if (hpa_map_reserve(m, 1)) {
		pthread_mutex_unlock(lock);
		c->err = -ENOMEM;
		return 0;
	}
	refs = hpa_map_get(m, hpa);
	hpa_map_set(m, hpa, refs <= 1 ? 2 : refs + 1);
	if (c->a->kind == AREA_SHARED) { /* shared as it is, writes too */
		pthread_mutex_unlock(lock);
		return pte;
	}
	wp = (pte & ~f->attr_mask) | f->cow_bit |
	     (f->leaf_attr[level > 0][c->a->flags & ~ASPACE_WRITE] &
	      f->attr_mask);
	if (wp != pte)
		pte_store(p, wp); /* vCPUs change leaves only under lock */
	pthread_mutex_unlock(lock);
	if (wp != pte)
		flush_add(&c->src->flush, slot, PT_LEVEL_SIZE(level));
	return wp;
}

/* A table for the destination: reserved, or fresh from the HAL. */
static pte_t *clone_child(struct clone_op *c, pte_t *p, unsigned level)
{
	struct pt_op *op = c->dst;

	if (pte_load(p) == 0 && op->tables.n == 0 &&
	    stack_reserve(op->as, &op->tables, 8, ASPACE_PAGE_SIZE)) {
		c->err = -ENOMEM;
		return NULL;
	}
	return op_child(op, p, level);
}

static void clone_level(struct clone_op *c, pte_t *st, pte_t *dt,
			unsigned level, aspace_gpa_t lo, aspace_gpa_t hi)
{
	struct aspace *src = c->src->as, *dst = c->dst->as;
	const struct pt_format *f = &src->fmt;
	uint64_t size = PT_LEVEL_SIZE(level);

	for (aspace_gpa_t gpa = lo; gpa < hi && !c->err;) {
		aspace_gpa_t slot = ALIGN_DOWN(gpa, size);
		aspace_gpa_t next = MIN(slot + size, hi);
		unsigned i = pt_index(f, gpa, level);
		pte_t pte = pte_load(&st[i]);
		pte_t *dchild;

		gpa = next;
		if (!pte_present(f, pte) && pte != PTE_FROZEN)
			continue;
		if (pte != PTE_FROZEN && pte_is_table(f, pte, level)) {
			dchild = clone_child(c, &dt[i], level);
			if (dchild)
				clone_level(c, pt_table(src, pte), dchild,
					    level - 1, MAX(lo, slot), next);
			continue;
		}
		/* A leaf: an area never starts or ends inside a leaf. */
		if (c->a->kind != AREA_LINEAR) {
			pte = clone_share_leaf(c, &st[i], level, slot);
			if (c->err)
				return;
			CNT_ADD(&dst->ctl, data_bytes, size);
		}
		pte_store(&dt[i], pte);
		CNT_ADD(&dst->ctl, leaves[level], 1);
	}
}

/* Copy [lo, hi) of area a (of src) into dst's tables at the same GPAs. */
int pt_clone_range(struct pt_op *src, struct pt_op *dst, const struct area *a,
		   aspace_gpa_t lo, aspace_gpa_t hi)
{
	struct clone_op c = {.src = src, .dst = dst, .a = a};
	unsigned top = src->as->fmt.levels - 1u;

	clone_level(&c, src->as->root_va, dst->as->root_va, top, lo, hi);
	return c.err;
}

/*
 * After a failed clone: leaves it write-protected that no other mapping
 * shares any more become writable again, as they were.
 */
static void unshare_level(struct aspace *as, pte_t *t, unsigned level,
			  aspace_gpa_t lo, aspace_gpa_t hi, unsigned flags)
{
	const struct pt_format *f = &as->fmt;
	uint64_t size = PT_LEVEL_SIZE(level);

	for (aspace_gpa_t gpa = lo; gpa < hi;) {
		aspace_gpa_t slot = ALIGN_DOWN(gpa, size);
		aspace_gpa_t next = MIN(slot + size, hi);
		pte_t *p = &t[pt_index(f, gpa, level)];
		pte_t pte = pte_load(p);

		gpa = next;
		if (!pte_present(f, pte))
			continue;
		if (pte_is_table(f, pte, level)) {
			unshare_level(as, pt_table(as, pte), level - 1,
				      MAX(lo, slot), next, flags);
			continue;
		}
		if (!(pte & f->cow_bit))
			continue;
		aspace_hpa_t key = share_key(pte_addr(f, pte), size);
		pthread_mutex_t *lock = share_lock(as->fam, key);

		pthread_mutex_lock(lock);
		if (!frame_shared(as->fam, key))
			pte_cas(p, pte,
				(pte & ~(f->attr_mask | f->cow_bit)) |
					(f->leaf_attr[level > 0][flags] &
					 f->attr_mask));
		pthread_mutex_unlock(lock);
	}
}

void pt_unshare_area(struct aspace *as, const struct area *a)
{
	unshare_level(as, as->root_va, as->fmt.levels - 1u, a->start, a->end,
		      a->flags);
}
