/* SPDX-License-Identifier: MIT */
/*
 * Regression test (found by the ASan stress run): a frame one space frees
 * may still be read by a vCPU of another space of the same family.
 *
 * A 2 MiB frame F is shared copy-on-write by a space and its clone. Two
 * vCPUs of the space write-fault it at once. vCPU 2 reads the share count
 * (2: copy needed) and then, inside its read section, maps F to copy it;
 * our HAL (one without a direct map) holds it in phys_to_virt. vCPU 1
 * copies, installs its copy and leaves F to the clone alone. The clone,
 * which has no vCPU, now unmaps F: its last mapping, so F goes back to the
 * HAL. When vCPU 2 goes on, it copies F.
 *
 * F must not be freed before vCPU 2's read section ends: the clone's grace
 * period has to wait for the vCPUs of every space in the family, not only
 * its own (it used to skip the wait, having none).
 */
#define _GNU_SOURCE
#include <aspace/aspace.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "regress.h"

#define MiB (1ull << 20)

static struct aspace_hal host;
static struct aspace *as, *copy;
static aspace_hpa_t frame_f;
static atomic_bool victim_waiting, victim_go, f_freed, victim_done;
static __thread bool victim;

/* vCPU 2 maps F here to copy it: hold it inside its read section. */
static void *hal_phys_to_virt(void *ctx, aspace_hpa_t hpa)
{
	(void)ctx;
	if (victim && hpa == frame_f && !atomic_load(&victim_go)) {
		atomic_store(&victim_waiting, true);
		while (!atomic_load(&victim_go))
			usleep(1000);
	}
	return (void *)(uintptr_t)hpa; /* the host HAL's HPAs are addresses */
}

static void hal_free(void *ctx, aspace_hpa_t hpa, uint64_t size)
{
	if (hpa == frame_f)
		atomic_store(&f_freed, true);
	host.free(ctx, hpa, size);
}

static void *vcpu_write_fault(void *arg)
{
	struct aspace_vcpu *v = aspace_vcpu_attach(as);
	long r;

	victim = arg != NULL;
	r = v ? aspace_vcpu_fault(v, 0, ASPACE_WRITE) : -1;
	if (v)
		aspace_vcpu_detach(v);
	if (victim)
		atomic_store(&victim_done, true);
	return (void *)r;
}

static void *clone_unmap(void *arg)
{
	(void)arg;
	return (void *)(long)aspace_unmap(copy, 0, 2 * MiB);
}

int main(void)
{
	struct aspace_hal hal;
	struct aspace_config cfg = {
		.format = ASPACE_FMT_EPT4, .size = 1ull << 30, .hal = &hal};
	struct aspace_xlate x;
	pthread_t v1, v2, u;
	void *r1, *r2, *ru;
	bool early;

	host = *aspace_host_hal();
	hal = host;
	hal.direct_map = false;
	hal.phys_to_virt = hal_phys_to_virt;
	hal.free = hal_free;
	if (aspace_create(&cfg, &as) ||
	    aspace_map_alloc(as, 0, 2 * MiB, ASPACE_READ | ASPACE_WRITE,
			     true) ||
	    aspace_translate(as, 0, &x) || x.leaf_size != 2 * MiB ||
	    aspace_clone(as, &copy))
		return 99;
	frame_f = x.hpa;
	regress_watchdog("FAIL: regress_cow_free deadlocked\n", 20);

	pthread_create(&v2, NULL, vcpu_write_fault, (void *)1);
	while (!atomic_load(&victim_waiting))
		usleep(1000);
	pthread_create(&v1, NULL, vcpu_write_fault, NULL);
	pthread_join(v1, &r1);
	pthread_create(&u, NULL, clone_unmap, NULL);
	usleep(300 * 1000); /* a freeing unmap would be done by now */
	early = atomic_load(&f_freed) && !atomic_load(&victim_done);
	atomic_store(&victim_go, true);
	pthread_join(v2, &r2);
	pthread_join(u, &ru);
	if (early)
		fprintf(stderr, "FAIL: the clone freed the shared frame while "
				"a vCPU of the original could still read it\n");
	if (r1 || ru || (r2 && (long)r2 != -EEXIST && (long)r2 != -EAGAIN)) {
		fprintf(stderr, "FAIL: fault %ld, fault %ld, unmap %ld\n",
			(long)r1, (long)r2, (long)ru);
		early = true;
	}
	if (!atomic_load(&f_freed)) {
		fprintf(stderr, "FAIL: the shared frame was never freed\n");
		early = true;
	}
	aspace_destroy(copy);
	aspace_destroy(as);
	return early ? 1 : 0;
}
