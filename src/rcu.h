/* SPDX-License-Identifier: MIT */
/*
 * RCU flavours, chosen per address space. Both flavours' read-side fast
 * paths are inlined (_LGPL_SOURCE) and chosen by one predictable branch.
 */
#ifndef ASPACE_RCU_H
#define ASPACE_RCU_H

#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>
#include <urcu/map/clear.h>
#include <urcu/urcu-qsbr.h>
#include <urcu/map/clear.h>

#include "internal.h"

#ifdef ASPACE_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif

static inline void rcu_lock(const struct aspace *as)
{
	if (as->rcu == ASPACE_RCU_MEMB)
		urcu_memb_read_lock();
	else
		urcu_qsbr_read_lock();
}

static inline void rcu_unlock(struct aspace *as)
{
#ifdef ASPACE_TSAN
	/* Everything this reader did happens before the grace period ends. */
	__tsan_release(&as->fam->tsan_gp);
#endif
	if (as->rcu == ASPACE_RCU_MEMB)
		urcu_memb_read_unlock();
	else
		urcu_qsbr_read_unlock();
}

#endif
