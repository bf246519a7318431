/* SPDX-License-Identifier: MIT */
/*
 * Regression test (found by the stress test): under QSBR, a vCPU that
 * detaches while a control thread waits for a grace period (here in
 * aspace_unmap) must not deadlock. The vCPU runs "guest code" (no
 * quiescent state) until the unmap is waiting, then detaches: detach must
 * not block on a lock the waiting unmap holds while its thread still
 * counts as an online reader.
 */
#define _GNU_SOURCE
#include <aspace/aspace.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "regress.h"

static struct aspace *as;
static atomic_int attached;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *vcpu(void *arg)
{
	struct aspace_vcpu *v = aspace_vcpu_attach(as);

	(void)arg;
	atomic_store(&attached, 1);
	for (double t0 = now(); now() - t0 < 0.2;)
		; /* guest code: the unmap starts waiting meanwhile */
	aspace_vcpu_detach(v);
	return NULL;
}

static void *control(void *arg)
{
	(void)arg;
	if (aspace_unmap(as, 0, 2 << 20))
		fprintf(stderr, "unmap failed\n");
	return NULL;
}

int main(void)
{
	struct aspace_config cfg = {.format = ASPACE_FMT_EPT4,
				    .size = 1ull << 30,
				    .rcu = ASPACE_RCU_QSBR};
	pthread_t a, b;

	if (aspace_create(&cfg, &as) ||
	    aspace_map_alloc(as, 0, 2 << 20, ASPACE_READ, false))
		return 99;
	regress_watchdog("FAIL: aspace_vcpu_detach and aspace_unmap "
			 "deadlocked (QSBR)\n",
			 10);
	pthread_create(&a, NULL, vcpu, NULL);
	while (!atomic_load(&attached))
		;
	pthread_create(&b, NULL, control, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	aspace_destroy(as);
	return 0;
}
