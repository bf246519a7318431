/* SPDX-License-Identifier: MIT */
/*
 * Regression test (found by the ASan stress run): a vCPU breaking
 * copy-on-write on a block that a protect is about to split must not make
 * the whole block writable.
 *
 * A 2 MiB block B of an R+X area is shared copy-on-write with a clone. A
 * protect makes [B - 1 MiB, B + 1 MiB) R+W: it publishes the new areas,
 * then waits for a grace period before it splits B and edits the entries.
 * vCPU 1 holds that grace period open (our HAL, one without a direct map,
 * keeps it inside phys_to_virt). Meanwhile vCPU 2 writes at B + 4 KiB: it
 * sees the new R+W area and, in the tables, B itself, still whole. It must
 * back off (the block reaches past its area) rather than copy B and map
 * all of it R+W; else, once the protect splits B, B's second MiB keeps
 * R+W, which its area does not allow.
 */
#define _GNU_SOURCE
#include <aspace/aspace.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "regress.h"

#define MiB (1ull << 20)
#define B (4 * MiB) /* the block; its area is [0, 8 MiB) */

static struct aspace *as;
static atomic_bool holding, release;
static __thread bool holder;

/* vCPU 1 stays in its read section here until released. */
static void *hal_phys_to_virt(void *ctx, aspace_hpa_t hpa)
{
	(void)ctx;
	if (holder && !atomic_load(&release)) {
		atomic_store(&holding, true);
		while (!atomic_load(&release))
			usleep(1000);
	}
	return (void *)(uintptr_t)hpa; /* the host HAL's HPAs are addresses */
}

static void *vcpu_hold(void *arg)
{
	struct aspace_vcpu *v = aspace_vcpu_attach(as);
	struct aspace_xlate x;

	(void)arg;
	holder = true;
	if (v) {
		aspace_vcpu_translate(v, 0, &x); /* walks: phys_to_virt */
		aspace_vcpu_detach(v);
	}
	return NULL;
}

static void *protect(void *arg)
{
	(void)arg;
	return (void *)(long)aspace_protect(as, B - MiB, 2 * MiB,
					    ASPACE_READ | ASPACE_WRITE);
}

int main(void)
{
	struct aspace_hal hal = *aspace_host_hal();
	struct aspace_config cfg = {.format = ASPACE_FMT_EPT4,
				    .size = 1ull << 30,
				    .hal = &hal,
				    .rcu = ASPACE_RCU_MEMB};
	struct aspace *copy;
	struct aspace_vcpu *v2;
	struct aspace_xlate x;
	pthread_t hold, prot;
	void *pr;
	int fault, bad = 0;

	hal.direct_map = false;
	hal.phys_to_virt = hal_phys_to_virt;
	if (aspace_create(&cfg, &as) ||
	    aspace_map_alloc(as, 0, 8 * MiB, ASPACE_READ | ASPACE_EXEC, true) ||
	    aspace_translate(as, B, &x) || x.leaf_size != 2 * MiB ||
	    aspace_clone(as, &copy))
		return 99;
	regress_watchdog("FAIL: regress_cow_split deadlocked\n", 20);

	v2 = aspace_vcpu_attach(as); /* before the protect holds the lock */
	if (!v2)
		return 99;
	pthread_create(&hold, NULL, vcpu_hold, NULL);
	while (!atomic_load(&holding))
		usleep(1000);
	pthread_create(&prot, NULL, protect, NULL);
	usleep(100 * 1000); /* the protect now waits for vCPU 1 */
	fault = aspace_vcpu_fault(v2, B + 4096, ASPACE_WRITE);
	atomic_store(&release, true);
	pthread_join(hold, NULL);
	pthread_join(prot, &pr);
	aspace_vcpu_detach(v2);
	if (pr) {
		fprintf(stderr, "FAIL: protect returned %ld\n", (long)pr);
		bad = 1;
	}
	/* Past the protected range the area is R+X, and so must be the leaf. */
	if (aspace_translate(as, B + MiB, &x) ||
	    (x.flags & (ASPACE_READ | ASPACE_WRITE | ASPACE_EXEC)) !=
		    (ASPACE_READ | ASPACE_EXEC)) {
		fprintf(stderr,
			"FAIL: B + 1 MiB is mapped with flags %#x, its area "
			"allows R+X (fault returned %d)\n",
			x.flags, fault);
		bad = 1;
	}
	aspace_destroy(copy);
	aspace_destroy(as);
	return bad;
}
