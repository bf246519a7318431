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

#include "rcu.h"

/* Frames one fault may take: a table per level below the root, and a page. */
static unsigned fault_frames(const struct aspace *as)
{
	return as->fmt.levels;
}

static int fault_2m(struct aspace *as, struct frame_cache *c,
		    struct counters *cnt, const struct area *a,
		    aspace_gpa_t gpa)
{
	aspace_gpa_t blk = ALIGN_DOWN(gpa, ASPACE_BLOCK_2M);
	aspace_hpa_t hpa;
	int r;

	if (!pt_leaf_ok(&as->fmt, 1) || blk < a->start ||
	    blk + ASPACE_BLOCK_2M > a->end)
		return -EBUSY;
	if (cache_pop_2m(as, c, &hpa))
		return -EBUSY; /* no huge frame: 4 KiB will do */
	frame_zero(as, hpa, ASPACE_BLOCK_2M);
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
 * Resolve a fault the area allows. Caller holds the RCU read lock (vCPU)
 * or as->lock (control path), and topped the cache up.
 */
int fault_resolve(struct aspace *as, struct frame_cache *c,
		  struct counters *cnt, const struct area *a, aspace_gpa_t gpa)
{
	struct pt_lookup l;
	aspace_hpa_t hpa;
	int r;

	/*
	 * Linear areas are mapped eagerly: a fault there is a stale TLB entry
	 * or a walk that met a block being split. Likewise a present leaf.
	 */
	if (a->kind == AREA_LINEAR)
		return -EEXIST;
	r = pt_lookup(as, gpa, &l);
	if (r != -ENOENT)
		return r == 0 ? -EEXIST : r;
	/* A 2 MiB frame only where no table of 4 KiB leaves exists yet. */
	if (l.level >= 1) {
		r = fault_2m(as, c, cnt, a, gpa);
		if (r != -EBUSY)
			return r;
	}
	hpa = cache_pop(c);
	frame_zero(as, hpa, ASPACE_PAGE_SIZE);
	r = pt_install(as, c, cnt, ALIGN_DOWN(gpa, ASPACE_PAGE_SIZE), 0,
		       pte_mk_leaf(&as->fmt, hpa, 0, a->flags));
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

/* Count the outcome; spurious outcomes (-EEXIST, -EAGAIN) are fixed. */
static int fault_account(struct counters *cnt, int r)
{
	CNT_ADD(cnt, faults, 1);
	if (r == -EEXIST || r == -EAGAIN) {
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
	pthread_mutex_lock(&as->lock);
	/* A racing fault may still call the old one: keep it until destroy. */
	if (as->handler) {
		as->handler->next_old = as->old_handlers;
		as->old_handlers = as->handler;
	}
	__atomic_store_n(&as->handler, h, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&as->lock);
	return 0;
}

int aspace_vcpu_fault(struct aspace_vcpu *v, aspace_gpa_t gpa, unsigned access)
{
	struct aspace *as = v->as;
	const struct area *a;
	int r;

	if (!access_valid(access))
		return -EINVAL;
	if (gpa < as->base || gpa > as->last)
		return fault_account(&v->cnt, fault_real(as, gpa, access));
	/* Before the walk: the walk itself never calls the allocator. */
	if (cache_topup(as, &v->cache, fault_frames(as)))
		return -ENOMEM;
	rcu_lock(as);
	a = vcpu_area(v, gpa);
	if (!a || (access & ~a->flags))
		r = -EFAULT;
	else
		r = fault_resolve(as, &v->cache, &v->cnt, a, gpa);
	rcu_unlock(as);
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
	pthread_mutex_lock(&as->lock);
	if (gpa < as->base || gpa > as->last) {
		r = -EFAULT;
	} else if (cache_topup(as, &as->ctl_cache, fault_frames(as))) {
		r = -ENOMEM;
	} else {
		a = area_find(as->areas, gpa);
		if (!a || (access & ~a->flags))
			r = -EFAULT;
		else
			r = fault_resolve(as, &as->ctl_cache, &as->ctl, a, gpa);
	}
	pthread_mutex_unlock(&as->lock);
	if (r == -EFAULT)
		r = fault_real(as, gpa, access);
	if (r == -ENOMEM)
		return r;
	pthread_mutex_lock(&as->lock);
	r = fault_account(&as->ctl, r);
	pthread_mutex_unlock(&as->lock);
	return r;
}
