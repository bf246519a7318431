/* SPDX-License-Identifier: MIT */
/*
 * The lazy-fault race: several vCPUs released at once fault the same lazy
 * page. All must succeed and see the same frame; the losers of the race
 * must give back what they allocated. After the vCPUs detach (their caches
 * drain) and a barrier (deferred frees finish), the HAL holds exactly one
 * data frame more than before, plus any tables the library reports, and
 * unmapping the area brings the HAL back to where it was before the map.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RACERS 16

struct racer {
	int rc, xrc;
	struct aspace_xlate xl;
};

struct race {
	struct aspace *as;
	pthread_barrier_t bar;
	atomic_uint ready;
	atomic_bool go, quit;
	uint64_t gpa;
	unsigned access;
	unsigned threads;
	struct racer r[MAX_RACERS];
};

struct racer_arg {
	struct race *race;
	unsigned i;
};

static void wait_for_go(struct race *rc)
{
	for (unsigned spins = 0; !atomic_load(&rc->go); spins++)
		if (spins % 1024 == 1023)
			sched_yield();
}

static void race_once(struct race *rc, struct racer *me)
{
	struct aspace_vcpu *v = aspace_vcpu_attach(rc->as);

	if (!v) {
		me->rc = me->xrc = -errno;
		atomic_fetch_add(&rc->ready, 1);
		return;
	}
	atomic_fetch_add(&rc->ready, 1);
	wait_for_go(rc);
	me->rc = aspace_vcpu_fault(v, rc->gpa, rc->access);
	me->xrc = aspace_vcpu_translate(v, rc->gpa, &me->xl);
	aspace_vcpu_quiescent(v);
	aspace_vcpu_detach(v);
}

static void *racer_thread(void *arg)
{
	struct racer_arg *a = arg;
	struct race *rc = a->race;

	for (;;) {
		pthread_barrier_wait(&rc->bar);
		if (atomic_load(&rc->quit))
			return NULL;
		race_once(rc, &rc->r[a->i]);
		pthread_barrier_wait(&rc->bar);
	}
}

static void settle(struct aspace *as, struct hal_counts *hc,
		   struct aspace_stats *st)
{
	aspace_barrier(as);
	hal_counts(hc);
	if (st)
		aspace_stats(as, st);
}

/* Equal but for frames that moved into or out of the frame caches. */
static bool same_counts(const struct hal_counts *a,
			const struct aspace_stats *sa,
			const struct hal_counts *b,
			const struct aspace_stats *sb)
{
	return a->bytes - sa->cache_frames * PAGE ==
		       b->bytes - sb->cache_frames * PAGE &&
	       a->frames - sa->cache_frames == b->frames - sb->cache_frames;
}

static bool check_racers(const struct race *rc, uint64_t leaf)
{
	const struct racer *r0 = &rc->r[0];

	for (unsigned i = 0; i < rc->threads; i++) {
		const struct racer *r = &rc->r[i];

		if (r->rc || r->xrc || r->xl.hpa != r0->xl.hpa ||
		    r->xl.leaf_size != leaf) {
			stress_violation(
				"lazy race gpa=%#" PRIx64 " access %#x: vcpu "
				"%u fault rc=%d translate rc=%d hpa=%#" PRIx64
				" leaf=%#" PRIx64 "; vcpu 0 hpa=%#" PRIx64
				"; expected rc 0, one frame, leaf %#" PRIx64,
				rc->gpa, rc->access, i, r->rc, r->xrc,
				r->xl.hpa, r->xl.leaf_size, r0->xl.hpa, leaf);
			return false;
		}
	}
	if (hal_frame_state(r0->xl.hpa) < __builtin_ctzll(leaf) - 12 + 1) {
		stress_violation("lazy race gpa=%#" PRIx64 ": hpa %#" PRIx64
				 " is not in a live frame of %#" PRIx64,
				 rc->gpa, r0->xl.hpa, leaf);
		return false;
	}
	return true;
}

/* One data frame of the leaf's size more, plus the tables reported. */
static bool check_frames(const struct race *rc, uint64_t leaf,
			 const struct hal_counts *b,
			 const struct aspace_stats *sb,
			 const struct hal_counts *a,
			 const struct aspace_stats *sa)
{
	int order = __builtin_ctzll(leaf) - 12;
	uint64_t tables = sa->table_pages - sb->table_pages;
	uint64_t want_bytes = leaf + tables * PAGE;
	uint64_t want_frames = 1 + (leaf == PAGE ? tables : 0);

	if (a->bytes - b->bytes == want_bytes &&
	    a->by_order[order] - b->by_order[order] == want_frames &&
	    sa->data_frames_bytes - sb->data_frames_bytes == leaf &&
	    sa->cache_frames == sb->cache_frames)
		return true;
	stress_violation(
		"lazy race gpa=%#" PRIx64 " (%u vCPUs): HAL grew by "
		"%" PRId64 " bytes and %" PRId64 " frames of %#" PRIx64
		", expected %" PRIu64 " bytes and %" PRIu64
		" (one data frame + %" PRIu64
		" tables); data_frames_bytes grew by %" PRId64
		"; cache_frames %" PRIu64 " (before %" PRIu64 ")",
		rc->gpa, rc->threads, (int64_t)(a->bytes - b->bytes),
		(int64_t)(a->by_order[order] - b->by_order[order]), leaf,
		want_bytes, want_frames, tables,
		(int64_t)(sa->data_frames_bytes - sb->data_frames_bytes),
		sa->cache_frames, sb->cache_frames);
	return false;
}

static bool check_zero(struct race *rc)
{
	static uint8_t buf[PAGE], zero[PAGE];
	int err = aspace_read(rc->as, rc->gpa & ~(PAGE - 1), buf, PAGE);

	if (!err && !memcmp(buf, zero, PAGE))
		return true;
	stress_violation("lazy race gpa=%#" PRIx64 ": the new page %s", rc->gpa,
			 err ? "cannot be read" : "is not zeroed");
	return false;
}

/* Release the racers on one page and wait for their results. */
static void release(struct race *rc)
{
	atomic_store(&rc->ready, 0);
	atomic_store(&rc->go, false);
	pthread_barrier_wait(&rc->bar);
	while (atomic_load(&rc->ready) < rc->threads)
		sched_yield();
	atomic_store(&rc->go, true);
	pthread_barrier_wait(&rc->bar);
}

static bool round_once(struct race *rc, uint64_t base, unsigned round,
		       uint64_t *rng, uint64_t *spurious)
{
	bool big = round % 2 == 0;
	/* 2 MiB case: an aligned 2 MiB area. 4 KiB case: 64 KiB inside a
	 * 2 MiB block, its table made by a first fault on a neighbour. */
	uint64_t area =
		big ? base + SZ_2M * (1 + round % 256)
		    : base + 512 * SZ_2M + SZ_2M * (round % 64) + SZ_1G / 1024;
	uint64_t size = big ? SZ_2M : 16 * PAGE, leaf = big ? SZ_2M : PAGE;
	struct hal_counts h0, h1, h2, h3;
	struct aspace_stats s0, s1, s2, s3;
	bool ok;

	settle(rc->as, &h0, &s0);
	if (aspace_map_alloc(rc->as, area, size, ASPACE_READ | ASPACE_WRITE,
			     false) ||
	    (!big && aspace_handle_fault(rc->as, area, ASPACE_READ))) {
		stress_violation("lazy race: cannot map/fault %#" PRIx64, area);
		return false;
	}
	settle(rc->as, &h1, &s1);
	rc->gpa = big ? area + PAGE * rng_below(rng, size / PAGE)
		      : area + PAGE * (1 + rng_below(rng, 15));
	rc->access = rng_pct(rng, 50) ? ASPACE_READ : ASPACE_WRITE;
	release(rc);
	settle(rc->as, &h2, &s2);
	*spurious += s2.faults_spurious - s1.faults_spurious;
	ok = check_racers(rc, leaf) &&
	     check_frames(rc, leaf, &h1, &s1, &h2, &s2) && check_zero(rc);
	if (aspace_unmap(rc->as, area, size))
		stress_violation("lazy race: unmap %#" PRIx64 " failed", area);
	settle(rc->as, &h3, &s3);
	if (ok && !same_counts(&h3, &s3, &h0, &s0)) {
		stress_violation("lazy race: after unmap the HAL holds %" PRIu64
				 " bytes in %" PRIu64 " frames (%" PRIu64
				 " cached), before the map %" PRIu64
				 " in %" PRIu64 " (%" PRIu64 " cached)",
				 h3.bytes, h3.frames, s3.cache_frames, h0.bytes,
				 h0.frames, s0.cache_frames);
		ok = false;
	}
	return ok;
}

static void run_rounds(struct race *rc, const struct race_cfg *cfg,
		       struct race_result *res)
{
	double deadline = now_seconds() + cfg->seconds;
	uint64_t rng = cfg->seed;

	for (unsigned i = 0; i < cfg->rounds; i++) {
		if (res->rounds && now_seconds() > deadline)
			break;
		res->rounds++;
		if (!round_once(rc, cfg->cfg->base, i, &rng, &res->spurious))
			break;
	}
}

bool lazy_race(const struct race_cfg *cfg, struct race_result *res)
{
	struct racer_arg args[MAX_RACERS];
	pthread_t tids[MAX_RACERS];
	struct race *rc = calloc(1, sizeof(*rc));
	unsigned n = cfg->threads;

	memset(res, 0, sizeof(*res));
	if (!rc)
		return false;
	n = n < 2 ? 2 : n > MAX_RACERS ? MAX_RACERS : n;
	rc->threads = n;
	if (aspace_create(cfg->cfg, &rc->as)) {
		stress_violation("lazy race: aspace_create failed");
		free(rc);
		return false;
	}
	pthread_barrier_init(&rc->bar, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		args[i] = (struct racer_arg){rc, i};
		pthread_create(&tids[i], NULL, racer_thread, &args[i]);
	}
	run_rounds(rc, cfg, res);
	atomic_store(&rc->quit, true);
	pthread_barrier_wait(&rc->bar);
	for (unsigned i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	pthread_barrier_destroy(&rc->bar);
	aspace_destroy(rc->as);
	free(rc);
	return !stress_failed();
}
