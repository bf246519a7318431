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

/* A read-side section of the flavour rcu (a constant where it can be). */
static inline __attribute__((always_inline)) void
rcu_lock_flavour(enum aspace_rcu rcu)
{
	if (rcu == ASPACE_RCU_MEMB)
		urcu_memb_read_lock();
	else
		urcu_qsbr_read_lock();
}

static inline __attribute__((always_inline)) void
rcu_unlock_flavour(struct aspace *as, enum aspace_rcu rcu)
{
#ifdef ASPACE_TSAN
	/* Everything this reader did happens before the grace period ends. */
	__tsan_release(&as->fam->tsan_gp);
#else
	(void)as;
#endif
	if (rcu == ASPACE_RCU_MEMB)
		urcu_memb_read_unlock();
	else
		urcu_qsbr_read_unlock();
}

static inline void rcu_lock(const struct aspace *as)
{
	rcu_lock_flavour(as->rcu);
}

static inline void rcu_unlock(struct aspace *as)
{
	rcu_unlock_flavour(as, as->rcu);
}

#endif
