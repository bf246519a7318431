/* SPDX-License-Identifier: MIT */
/*
 * The fault path. On a vCPU it takes no lock: the area comes from the
 * RCU-published set (cached per vCPU), frames from the vCPU's own cache,
 * and entries go in with compare-and-swap (pt_install). Two vCPUs faulting
 * the same page both walk; one CAS wins, the loser gives its frame back to
 * its own cache and reports a spurious fault.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rcu.h"

/* Frames one fault may take: a table per level below the root, and a page. */
static unsigned fault_frames(const struct aspace *as)
{
	return as->fmt.levels;
}

/* A 2 MiB frame for a lazy fault; -EBUSY: 4 KiB it is. */
static int fault_2m(struct aspace *as, struct frame_cache *c,
		    struct counters *cnt, const struct area *a,
		    aspace_gpa_t gpa, unsigned access)
{
	aspace_gpa_t blk = ALIGN_DOWN(gpa, ASPACE_BLOCK_2M);
	aspace_hpa_t hpa;
	int r;

	if ((access & FAULT_NO_HUGE) || !pt_leaf_ok(&as->fmt, 1) ||
	    blk < a->start || blk + ASPACE_BLOCK_2M > a->end)
		return -EBUSY;
	if (cache_pop_2m(c, &hpa))
		return -ENOBUFS; /* the caller refills, outside the walk */
	data_zero(as, hpa, ASPACE_BLOCK_2M);
	r = pt_install(as, c, cnt, blk, 1,
		       pte_mk_leaf(&as->fmt, hpa, 1, a->flags));
	if (r == 0) {
		CNT_ADD(cnt, leaves[1], 1);
		CNT_ADD(cnt, data_bytes, ASPACE_BLOCK_2M);
		return 0;
	}
	cache_push_2m(as, c, hpa);
	return r;
}

/*
 * Write to a leaf shared copy-on-write. If no other mapping holds the
 * frame any more, make the leaf writable in place; otherwise copy the
 * frame (2 MiB frames are copied whole) and swap the copy in. The final
 * CAS happens under the frame's share lock, so a clone taking a new
 * reference, or the other side deciding it is now the only user, sees
 * either the old leaf and count or the new ones. Our reference is dropped
 * only after our leaf stopped pointing at the frame, so the count never
 * reaches zero here: the vCPU path never frees.
 */
#ifdef ASPACE_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
static void tsan_ignore_reads(bool on)
{
	if (on)
		AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
	else
		AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
}
#else
static void tsan_ignore_reads(bool on)
{
}
#endif

static bool clone_running(struct aspace *as)
{
	return __atomic_load_n(&as->cloning, __ATOMIC_ACQUIRE) != 0;
}

static int cow_break(struct aspace *as, struct frame_cache *c,
		     struct counters *cnt, const struct area *a,
		     aspace_gpa_t gpa, const struct pt_lookup *l)
{
	const struct pt_format *f = &as->fmt;
	uint64_t size = PT_LEVEL_SIZE(l->level);
	aspace_gpa_t slot = ALIGN_DOWN(gpa, size);
	aspace_hpa_t old = pte_addr(f, l->pte), copy;
	aspace_hpa_t key = share_key(old, size);
	pthread_mutex_t *lock = share_lock(as->fam, key);
	struct hpa_map *m = share_map(as->fam, key);
	pte_t wr = (l->pte & ~(f->attr_mask | f->cow_bit)) |
		   (f->leaf_attr[l->level > 0][a->flags] & f->attr_mask);
	uint32_t refs;
	int r = -EAGAIN;

	/*
	 * A block reaching past the area is being split by the control path,
	 * which published the new areas first (I4): its other pages may have
	 * other permissions, so wr would be wrong for them. Back off outside
	 * the read section (-EBUSY, as for a clone): the split comes once the
	 * grace period, which waits for that section, has ended.
	 */
	if (slot < a->start || slot + size > a->end)
		return -EBUSY;
	/*
	 * Every decision is taken under the share lock with the clone flag
	 * checked there: a clone write-protects a leaf under the same lock,
	 * after raising the flag, so a leaf that went RO -> RW -> RO (the same
	 * value again) under a slow copy is never taken for unchanged.
	 */
	pthread_mutex_lock(lock);
	if (clone_running(as)) {
		pthread_mutex_unlock(lock);
		return -EBUSY;
	}
	refs = hpa_map_get(m, key);
	if (refs <= 1 && pte_cas(l->ptep, l->pte, wr)) {
		CNT_ADD(cnt, cow_reuses, 1);
		r = 0;
	}
	pthread_mutex_unlock(lock);
	if (refs <= 1)
		return r;
	if (l->level == 0)
		copy = cache_pop(c);
	else if (cache_pop_2m(c, &copy))
		return -ENOBUFS;
	/*
	 * This copy may race with a sibling vCPU that found the frame no
	 * longer shared and writes it in place: the leaf then changed, the
	 * CAS below fails and the copy is discarded (no clone can start and
	 * finish meanwhile: it waits for our read section). A benign race.
	 */
	tsan_ignore_reads(true);
	memcpy(pt_va(as, copy), pt_va(as, old), size);
	tsan_ignore_reads(false);
	pthread_mutex_lock(lock);
	refs = hpa_map_get(m, key);
	if (clone_running(as)) {
		r = -EBUSY;
	} else if (refs <= 1) {
		/* The other side let go meanwhile: keep the frame after all. */
		r = pte_cas(l->ptep, l->pte, wr) ? 0 : -EAGAIN;
	} else {
		wr = (wr & ~f->bits.oa_mask) | pte_oa(f, copy);
		if (f->id == ASPACE_FMT_S2_4K) { /* break-before-make */
			if (pte_cas(l->ptep, l->pte, PTE_FROZEN)) {
				if (as->hal.flush)
					as->hal.flush(as->hal.ctx, slot, size);
				pte_store(l->ptep, wr);
				r = 0;
			}
		} else if (pte_cas(l->ptep, l->pte, wr)) {
			r = 0;
		}
		if (r == 0) {
			hpa_map_set(m, key, refs == 2 ? 0 : refs - 1);
			CNT_ADD(cnt, cow_breaks, 1);
			pthread_mutex_unlock(lock);
			/* Stale read-only translations of the old frame go. */
			if (f->id != ASPACE_FMT_S2_4K && as->hal.flush)
				as->hal.flush(as->hal.ctx, slot, size);
			if (as->hal.flush)
				CNT_ADD(cnt, flushes, 1);
			return 0;
		}
	}
	pthread_mutex_unlock(lock);
	if (l->level == 0)
		cache_push(as, c, copy);
	else
		cache_push_2m(as, c, copy);
	return r;
}

/*
 * pt_install's last step, where the lookup found the empty entry in a leaf
 * table already: the common case needs no second walk. The table stays
 * linked while the caller's read section (or as->lock) lasts (I4).
 */
static int leaf_install(pte_t *p, pte_t leaf)
{
	if (pte_cas(p, 0, leaf))
		return 0;
	return pte_load(p) == PTE_FROZEN ? -EAGAIN : -EEXIST;
}

/*
 * Resolve a fault the area allows. Caller holds the RCU read lock (vCPU)
 * or as->lock (control path), and topped the cache up.
 */
int fault_resolve_access(struct aspace *as, struct frame_cache *c,
			 struct counters *cnt, const struct area *a,
			 aspace_gpa_t gpa, unsigned access)
{
	struct pt_lookup l;
	aspace_hpa_t hpa;
	pte_t leaf;
	int r;

	r = pt_lookup(as, gpa, &l);
	if (r == 0 && (l.pte & as->fmt.cow_bit) && (access & ASPACE_WRITE))
		return cow_break(as, c, cnt, a, gpa, &l);
	/*
	 * Linear areas are mapped eagerly: a fault there is a stale TLB entry
	 * or a walk that met a block being split. Likewise a present leaf.
	 */
	if (r != -ENOENT || a->kind == AREA_LINEAR)
		return r == 0 || r == -ENOENT ? -EEXIST : r;
	/* A 2 MiB frame only where no table of 4 KiB leaves exists yet. */
	if (l.level >= 1) {
		r = fault_2m(as, c, cnt, a, gpa, access);
		if (r != -EBUSY)
			return r;
	}
	hpa = cache_pop(c);
	data_zero(as, hpa, ASPACE_PAGE_SIZE);
	leaf = pte_mk_leaf(&as->fmt, hpa, 0, a->flags);
	if (l.level == 0)
		r = leaf_install(l.ptep, leaf);
	else
		r = pt_install(as, c, cnt, ALIGN_DOWN(gpa, ASPACE_PAGE_SIZE), 0,
			       leaf);
	if (r == 0) {
		CNT_ADD(cnt, leaves[0], 1);
		CNT_ADD(cnt, data_bytes, ASPACE_PAGE_SIZE);
		return 0;
	}
	cache_push(as, c, hpa);
	return r;
}

static bool access_valid(unsigned access)
{
	return access && !(access & ~ASPACE_PERM_MASK);
}

/*
 * After -ENOBUFS, outside the read section: a 2 MiB frame into the cache,
 * or, if the HAL has none, FAULT_NO_HUGE for the next try (a lazy fault
 * then takes 4 KiB; a copy-on-write block that needs one gets -ENOMEM).
 */
int fault_refill_2m(struct aspace *as, struct frame_cache *c, unsigned *access)
{
	if (!cache_refill_2m(as, c))
		return 0;
	if (*access & FAULT_NO_HUGE)
		return -ENOMEM;
	*access |= FAULT_NO_HUGE;
	return 0;
}

int fault_resolve_locked(struct aspace *as, struct frame_cache *c,
			 struct counters *cnt, const struct area *a,
			 aspace_gpa_t gpa, unsigned access)
{
	int r;

	if (cache_topup(as, c, fault_frames(as)))
		return -ENOMEM;
	while ((r = fault_resolve_access(as, c, cnt, a, gpa, access)) ==
	       -ENOBUFS) {
		r = fault_refill_2m(as, c, &access);
		if (r)
			return r;
	}
	return r;
}

/* Count the outcome; spurious outcomes (-EEXIST, -EAGAIN) are fixed. */
static int fault_account(struct counters *cnt, int r)
{
	CNT_ADD(cnt, faults, 1);
	if (r == -EEXIST || r == -EAGAIN || r == -EBUSY) {
		CNT_ADD(cnt, spurious, 1);
		return 0;
	}
	if (r == 0)
		CNT_ADD(cnt, fixed, 1);
	else if (r == -EFAULT)
		CNT_ADD(cnt, real, 1);
	return r;
}

/* A real fault: the hook, if any, decides. Called with no lock held. */
static int fault_real(struct aspace *as, aspace_gpa_t gpa, unsigned access)
{
	struct fault_handler *h =
		__atomic_load_n(&as->handler, __ATOMIC_ACQUIRE);

	return h ? h->fn(h->ctx, gpa, access) : -EFAULT;
}

int aspace_set_fault_handler(struct aspace *as, aspace_fault_fn fn, void *ctx)
{
	struct fault_handler *h = NULL;

	if (fn) {
		h = malloc(sizeof(*h));
		if (!h)
			return -ENOMEM;
		h->fn = fn;
		h->ctx = ctx;
	}
	as_lock(as);
	/* A racing fault may still call the old one: keep it until destroy. */
	if (as->handler) {
		as->handler->next_old = as->old_handlers;
		as->old_handlers = as->handler;
	}
	__atomic_store_n(&as->handler, h, __ATOMIC_RELEASE);
	as_unlock(as);
	return 0;
}

int aspace_vcpu_fault(struct aspace_vcpu *v, aspace_gpa_t gpa, unsigned access)
{
	struct aspace *as = v->as;
	const struct area *a;
	int r;

	if (!access_valid(access))
		return -EINVAL;
	if (!gpa_in_window(as, gpa))
		return fault_account(&v->cnt, fault_real(as, gpa, access));
	for (unsigned how = access;;) {
		/* Before the walk: the walk itself never calls the HAL. */
		if (cache_topup(as, &v->cache, fault_frames(as)))
			return -ENOMEM;
		rcu_lock(as);
		a = vcpu_area(v, gpa);
		if (!a || (access & ~a->flags))
			r = -EFAULT;
		else
			r = fault_resolve_access(as, &v->cache, &v->cnt, a, gpa,
						 how);
		rcu_unlock(as);
		if (r != -ENOBUFS)
			break;
		r = fault_refill_2m(as, &v->cache, &how);
		if (r)
			return r;
	}
	if (v->cache.n4k > 2 * v->cache.batch + fault_frames(as))
		cache_drain(as, &v->cache, v->cache.batch);
	if (r == -EFAULT)
		r = fault_real(as, gpa, access);
	return fault_account(&v->cnt, r);
}

int aspace_handle_fault(struct aspace *as, aspace_gpa_t gpa, unsigned access)
{
	const struct area *a;
	int r;

	if (!access_valid(access))
		return -EINVAL;
	as_lock(as);
	if (!gpa_in_window(as, gpa)) {
		r = -EFAULT;
	} else if (cache_topup(as, &as->ctl_cache, fault_frames(as))) {
		r = -ENOMEM;
	} else {
		a = area_find(as->areas, gpa);
		if (!a || (access & ~a->flags))
			r = -EFAULT;
		else
			r = fault_resolve_locked(as, &as->ctl_cache, &as->ctl,
						 a, gpa, access);
	}
	as_unlock(as);
	if (r == -EFAULT)
		r = fault_real(as, gpa, access);
	if (r == -ENOMEM)
		return r;
	as_lock(as);
	r = fault_account(&as->ctl, r);
	as_unlock(as);
	return r;
}
