/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "rcu.h"

/* Per-thread registration counts: one thread may serve several vCPUs. */
static __thread unsigned memb_refs, qsbr_refs;

bool as_memb_sys_membarrier(void)
{
	return urcu_memb_has_sys_membarrier;
}

int as_thread_register(enum aspace_rcu rcu)
{
	if (rcu == ASPACE_RCU_MEMB) {
		if (memb_refs++ == 0)
			urcu_memb_register_thread();
	} else {
		if (qsbr_refs++ == 0)
			urcu_qsbr_register_thread();
	}
	return 0;
}

void as_thread_unregister(enum aspace_rcu rcu)
{
	if (rcu == ASPACE_RCU_MEMB) {
		if (--memb_refs == 0)
			urcu_memb_unregister_thread();
	} else {
		if (--qsbr_refs == 0)
			urcu_qsbr_unregister_thread();
	}
}

static __thread unsigned lock_depth;
static __thread bool lock_went_offline;

void as_lock(struct aspace *as)
{
	if (lock_depth++ == 0 && qsbr_refs && urcu_qsbr_read_ongoing()) {
		urcu_qsbr_thread_offline();
		lock_went_offline = true;
	}
	pthread_mutex_lock(&as->lock);
}

void as_unlock(struct aspace *as)
{
	pthread_mutex_unlock(&as->lock);
	if (--lock_depth == 0 && lock_went_offline) {
		lock_went_offline = false;
		urcu_qsbr_thread_online();
	}
}

void as_backoff(struct aspace *as)
{
	bool offline = qsbr_refs && urcu_qsbr_read_ongoing();

	if (offline)
		urcu_qsbr_thread_offline();
	sched_yield();
	if (offline)
		urcu_qsbr_thread_online();
}

void as_tsan_acquire(struct aspace *as)
{
#ifdef ASPACE_TSAN
	__tsan_acquire(&as->fam->tsan_gp);
#else
	(void)as;
#endif
}

/* A vCPU of as attached (n = 1) or detached (n = -1). */
void as_readers_add(struct aspace *as, int n)
{
	__atomic_add_fetch(&as->fam->readers[as->rcu], (unsigned)n,
			   __ATOMIC_SEQ_CST);
}

/*
 * Wait until every reader that may see the old state is gone, then free
 * the area sets replaced since the last grace period. Called under
 * as->lock. The readers are the vCPUs of every space in the family (I5),
 * of either flavour; without any there is nobody to wait for: control-path
 * readers hold as->lock themselves.
 */
void as_grace_period(struct aspace *as)
{
	struct area_set *set = as->retired_sets;
	bool memb = __atomic_load_n(&as->fam->readers[ASPACE_RCU_MEMB],
				    __ATOMIC_SEQ_CST) != 0;
	bool qsbr = __atomic_load_n(&as->fam->readers[ASPACE_RCU_QSBR],
				    __ATOMIC_SEQ_CST) != 0;

	if (memb)
		urcu_memb_synchronize_rcu();
	if (qsbr)
		urcu_qsbr_synchronize_rcu();
	if (memb || qsbr)
		as_tsan_acquire(as);
	as->retired_sets = NULL;
	while (set) {
		struct area_set *next = set->retired_next;

		free(set);
		set = next;
	}
}
