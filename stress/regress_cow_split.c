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
 * R+W, which its area does not allow. Nor may it wait for the split
 * inside its read section (the split waits for that section to end, for
 * sure under QSBR): aspace_vcpu_fault and aspace_vcpu_write, both flavours.
 */
#define _GNU_SOURCE
#include <aspace/aspace.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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

static bool by_write;
static atomic_bool attached, go;

/*
 * vCPU 2: attaches before the protect takes the lock (attach needs it),
 * then writes at B + 4 KiB: a fault, or a guest write (which faults).
 */
static void *vcpu_write(void *arg)
{
	struct aspace_vcpu *v = aspace_vcpu_attach(as);
	uint64_t x = 42;
	long r;

	(void)arg;
	atomic_store(&attached, true);
	if (!v)
		return (void *)-1l;
	while (!atomic_load(&go))
		usleep(1000);
	if (by_write)
		r = aspace_vcpu_write(v, B + 4096, &x, sizeof(x));
	else
		r = aspace_vcpu_fault(v, B + 4096, ASPACE_WRITE);
	aspace_vcpu_detach(v);
	return (void *)r;
}

static int run_case(bool write, enum aspace_rcu rcu)
{
	struct aspace_hal hal = *aspace_host_hal();
	struct aspace_config cfg = {.format = ASPACE_FMT_EPT4,
				    .size = 1ull << 30,
				    .hal = &hal,
				    .rcu = rcu};
	char how[64];
	struct aspace *copy;
	struct aspace_xlate x;
	pthread_t hold, prot, wr;
	void *pr, *wrr;
	uint64_t got = 0;
	int bad = 0;

	snprintf(how, sizeof(how), "%s, %s",
		 write ? "aspace_vcpu_write" : "aspace_vcpu_fault",
		 rcu == ASPACE_RCU_QSBR ? "QSBR" : "memb");
	hal.direct_map = false;
	hal.phys_to_virt = hal_phys_to_virt;
	atomic_store(&holding, false);
	atomic_store(&release, false);
	atomic_store(&attached, false);
	atomic_store(&go, false);
	by_write = write;
	if (aspace_create(&cfg, &as) ||
	    aspace_map_alloc(as, 0, 8 * MiB, ASPACE_READ | ASPACE_EXEC, true) ||
	    aspace_translate(as, B, &x) || x.leaf_size != 2 * MiB ||
	    aspace_clone(as, &copy))
		return 99;
	pthread_create(&wr, NULL, vcpu_write, NULL);
	while (!atomic_load(&attached))
		usleep(1000);
	pthread_create(&hold, NULL, vcpu_hold, NULL);
	while (!atomic_load(&holding))
		usleep(1000);
	pthread_create(&prot, NULL, protect, NULL);
	usleep(100 * 1000); /* the protect now waits for vCPU 1 */
	atomic_store(&go, true);
	usleep(100 * 1000); /* vCPU 2 meets the whole block meanwhile */
	atomic_store(&release, true);
	pthread_join(hold, NULL);
	pthread_join(prot, &pr);
	pthread_join(wr, &wrr);
	if (pr || wrr) {
		fprintf(stderr, "FAIL (%s): protect %ld, vCPU 2 %ld\n", how,
			(long)pr, (long)wrr);
		bad = 1;
	}
	/* Past the protected range the area is R+X, and so must be the leaf. */
	if (aspace_translate(as, B + MiB, &x) ||
	    (x.flags & (ASPACE_READ | ASPACE_WRITE | ASPACE_EXEC)) !=
		    (ASPACE_READ | ASPACE_EXEC)) {
		fprintf(stderr,
			"FAIL (%s): B + 1 MiB is mapped with flags %#x, its "
			"area allows R+X\n",
			how, x.flags);
		bad = 1;
	}
	if (write &&
	    (aspace_read(as, B + 4096, &got, sizeof(got)) || got != 42)) {
		fprintf(stderr, "FAIL (%s): read back %llu, wrote 42\n", how,
			(unsigned long long)got);
		bad = 1;
	}
	aspace_destroy(copy);
	aspace_destroy(as);
	return bad;
}

int main(void)
{
	int bad = 0;

	regress_watchdog("FAIL: regress_cow_split deadlocked\n", 30);
	for (int rcu = ASPACE_RCU_MEMB; rcu <= ASPACE_RCU_QSBR && !bad; rcu++)
		for (int write = 0; write <= 1 && !bad; write++)
			bad = run_case(write, (enum aspace_rcu)rcu);
	return bad;
}
