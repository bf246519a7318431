/* SPDX-License-Identifier: MIT */
/*
 * Regression test (found by the stress test): under QSBR, aspace_clone
 * must not deadlock with a vCPU writing a page the clone has already
 * write-protected. The clone waits for a grace period after the flush;
 * a vCPU whose aspace_vcpu_write meets the clone in progress must let that
 * grace period end (report a quiescent state, or go offline) while it
 * waits. The flush hook only picks the moment: it lets the vCPU write
 * while the clone is in progress.
 */
#define _GNU_SOURCE
#include <aspace/aspace.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "regress.h"

static struct aspace *as;
static atomic_int armed, go;

static void flush(void *ctx, aspace_gpa_t gpa, uint64_t size)
{
	(void)ctx, (void)gpa, (void)size;
	if (atomic_exchange(&armed, 0)) {
		atomic_store(&go, 1);
		usleep(100 * 1000); /* the vCPU writes now */
	}
}

static void *vcpu(void *arg)
{
	struct aspace_vcpu *v = aspace_vcpu_attach(as);
	uint64_t x = 42;

	(void)arg;
	while (!atomic_load(&go))
		; /* guest code */
	if (aspace_vcpu_write(v, 0, &x, sizeof(x)))
		fprintf(stderr, "vcpu write failed\n");
	aspace_vcpu_quiescent(v);
	aspace_vcpu_offline(v);
	aspace_vcpu_detach(v);
	return NULL;
}

int main(void)
{
	struct aspace_hal hal = *aspace_host_hal();
	struct aspace_config cfg = {.format = ASPACE_FMT_EPT4,
				    .size = 1ull << 30,
				    .hal = &hal,
				    .rcu = ASPACE_RCU_QSBR};
	struct aspace *clone;
	pthread_t t;

	hal.flush = flush;
	if (aspace_create(&cfg, &as) ||
	    aspace_map_alloc(as, 0, 0x4000, ASPACE_READ | ASPACE_WRITE, true))
		return 99;
	regress_watchdog("FAIL: aspace_clone and aspace_vcpu_write "
			 "deadlocked (QSBR)\n",
			 10);
	pthread_create(&t, NULL, vcpu, NULL);
	usleep(10000);
	atomic_store(&armed, 1);
	if (aspace_clone(as, &clone))
		return 99;
	pthread_join(t, NULL);
	aspace_destroy(clone);
	aspace_destroy(as);
	return 0;
}
