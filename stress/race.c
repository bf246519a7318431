/* SPDX-License-Identifier: MIT */
/*
 * The lazy-fault race: several vCPUs released at once fault the same lazy
 * page (and the copy-on-write race: they write the same shared page). All must
 * succeed and see the same frame; the losers of the race must give back what
 * they allocated. After the vCPUs detach (their caches drain) and a barrier
 * (deferred frees finish), the HAL holds exactly one data frame more than
 * before, plus any tables the library reports, and unmapping the area brings
 * the HAL back to where it was before the map.
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
	bool write_words; /* write word i of the page instead of faulting */
	uint64_t round;
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

/* Racer i's word in the copy-on-write rounds. */
static void racer_word(const struct race *rc, unsigned i, uint64_t w[2])
{
	w[0] = tag_word(i, rc->round);
	w[1] = rc->gpa + 16 * i;
}

static void race_once(struct race *rc, unsigned i)
{
	struct racer *me = &rc->r[i];
	uint64_t w[2];

	struct aspace_vcpu *v = aspace_vcpu_attach(rc->as);

	if (!v) {
		me->rc = me->xrc = -errno;
		atomic_fetch_add(&rc->ready, 1);
		return;
	}
	atomic_fetch_add(&rc->ready, 1);
	wait_for_go(rc);
	if (rc->write_words) {
		racer_word(rc, i, w);
		me->rc = aspace_vcpu_write(v, w[1], w, sizeof(w));
	} else {
		me->rc = aspace_vcpu_fault(v, rc->gpa, rc->access);
	}
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
		race_once(rc, a->i);
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
	    (rc->write_words ||
	     sa->data_frames_bytes - sb->data_frames_bytes == leaf) &&
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
	bool big = round % 4 == 0;
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

/* The word a page of the copy-on-write rounds holds before the writes. */
static void pattern_word(uint64_t gpa, uint64_t w[2])
{
	w[0] = gpa ^ 0x5a5a5a5a5a5a5a5aull;
	w[1] = ~gpa;
}

static int fill_page(struct aspace *as, uint64_t page)
{
	static uint64_t buf[PAGE / 8];

	for (unsigned i = 0; i < PAGE / 16; i++)
		pattern_word(page + 16 * i, &buf[2 * i]);
	return aspace_write(as, page, buf, PAGE);
}

/* Racers' words on the written side, the pattern everywhere else. */
static bool page_holds(struct race *rc, struct aspace *as, bool written,
		       const char *side)
{
	static uint64_t buf[PAGE / 8];
	uint64_t want[2];

	if (aspace_read(as, rc->gpa, buf, PAGE)) {
		stress_violation("cow race: cannot read %#" PRIx64 " (%s)",
				 rc->gpa, side);
		return false;
	}
	for (unsigned i = 0; i < PAGE / 16; i++) {
		if (written && i < rc->threads)
			racer_word(rc, i, want);
		else
			pattern_word(rc->gpa + 16 * i, want);
		if (!memcmp(&buf[2 * i], want, 16))
			continue;
		stress_violation(
			"cow race gpa=%#" PRIx64 " (%u vCPUs wrote "
			"words 0..%u): the %s reads %#" PRIx64 " %#" PRIx64
			" at word %u, expected %#" PRIx64 " %#" PRIx64,
			rc->gpa, rc->threads, rc->threads - 1, side, buf[2 * i],
			buf[2 * i + 1], i, want[0], want[1]);
		return false;
	}
	return true;
}

static bool check_writers(const struct race *rc, uint64_t leaf)
{
	const struct racer *r0 = &rc->r[0];

	for (unsigned i = 0; i < rc->threads; i++) {
		const struct racer *r = &rc->r[i];

		if (r->rc || r->xrc || r->xl.hpa != r0->xl.hpa ||
		    r->xl.leaf_size != leaf || !(r->xl.flags & ASPACE_WRITE)) {
			stress_violation(
				"cow race gpa=%#" PRIx64 ": vcpu %u "
				"write rc=%d translate rc=%d hpa=%#" PRIx64
				" leaf=%#" PRIx64
				" flags=%#x; vcpu 0 hpa=%#" PRIx64,
				rc->gpa, i, r->rc, r->xrc, r->xl.hpa,
				r->xl.leaf_size, r->xl.flags, r0->xl.hpa);
			return false;
		}
	}
	return true;
}

/*
 * Copy-on-write race: a populated page is filled, the space cloned, then
 * every racer writes its own word of that page on the source at once.
 * One copy must win and take every word; the clone keeps the pattern; the
 * source holds exactly one frame more until the clone goes.
 */
static bool cow_round(struct race *rc, uint64_t base, unsigned round,
		      uint64_t *rng)
{
	bool big = round % 4 == 3;
	uint64_t area = big ? base + SZ_2M * (1 + round % 256)
			    : base + 512 * SZ_2M + SZ_2M * (round % 64);
	uint64_t size = big ? SZ_2M : 16 * PAGE, leaf = big ? SZ_2M : PAGE;
	struct hal_counts h0, h1, h2, h3, h4;
	struct aspace_stats s0, s1, s2, s3, s4;
	struct aspace *dst = NULL;
	bool ok;

	settle(rc->as, &h0, &s0);
	rc->gpa = area + PAGE * rng_below(rng, size / PAGE);
	rc->write_words = true;
	rc->round = round;
	if (aspace_map_alloc(rc->as, area, size, ASPACE_READ | ASPACE_WRITE,
			     true) ||
	    fill_page(rc->as, rc->gpa)) {
		stress_violation("cow race: cannot map/fill %#" PRIx64, area);
		return false;
	}
	settle(rc->as, &h1, &s1);
	if (aspace_clone(rc->as, &dst)) {
		stress_violation("cow race: aspace_clone failed");
		return false;
	}
	settle(rc->as, &h2, &s2);
	release(rc);
	settle(rc->as, &h3, &s3);
	/* how a shared frame counts in data_frames_bytes is not defined */
	ok = check_writers(rc, leaf) &&
	     check_frames(rc, leaf, &h2, &s2, &h3, &s3) &&
	     page_holds(rc, rc->as, true, "source") &&
	     page_holds(rc, dst, false, "clone");
	rc->write_words = false;
	aspace_destroy(dst);
	settle(rc->as, &h4, &s4);
	if (ok && !same_counts(&h4, &s4, &h1, &s1)) {
		stress_violation("cow race: with the clone gone the HAL holds "
				 "%" PRIu64 " bytes in %" PRIu64
				 " frames, before the clone %" PRIu64
				 " in %" PRIu64,
				 h4.bytes, h4.frames, h1.bytes, h1.frames);
		ok = false;
	}
	if (aspace_unmap(rc->as, area, size))
		stress_violation("cow race: unmap %#" PRIx64 " failed", area);
	settle(rc->as, &h4, &s4);
	if (ok && !same_counts(&h4, &s4, &h0, &s0)) {
		stress_violation("cow race: after unmap the HAL holds %" PRIu64
				 " bytes in %" PRIu64 " frames, before %" PRIu64
				 " in %" PRIu64,
				 h4.bytes, h4.frames, h0.bytes, h0.frames);
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
		if (i % 4 >= 2 ? !cow_round(rc, cfg->cfg->base, i, &rng)
			       : !round_once(rc, cfg->cfg->base, i, &rng,
					     &res->spurious))
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
