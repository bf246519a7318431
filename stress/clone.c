/* SPDX-License-Identifier: MIT */
/*
 * Copy-on-write clones taken while the vCPUs keep running on the source.
 *
 * A control thread holds every slot, so the areas cannot change, and
 * publishes each slot's state again with its alloc areas marked shared
 * (their leaves may turn read-only) and the generation odd for the
 * duration of aspace_clone, so vCPUs racing with the clone accept either.
 * The clone is then checked alone: translations against the same states,
 * and alloc words that must be zeros or a tag of the page's owner for that
 * gpa. Some words are remembered, and a tag is written into the clone
 * (breaking copy-on-write there) where the source must not see it. The
 * clone stays alive while the run goes on, so that the source unmaps,
 * remaps and writes frames the clone still maps; when it is retired (at
 * the next clone, or at the end of the run) the remembered words must not
 * have changed. Its frames come from the same HAL, so leaks and early
 * frees show in the run's accounting.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CLONE_WRITER 0xfffeu

static void lock_all(struct ctl_ctx *c)
{
	for (unsigned i = 0; i < c->r->nslots; i++) {
		int idle = 0;

		while (!atomic_compare_exchange_weak_explicit(
			&c->r->slots[i].busy, &idle, 1, memory_order_acquire,
			memory_order_relaxed)) {
			idle = 0;
			sched_yield();
		}
	}
}

static void unlock_all(struct ctl_ctx *c)
{
	for (unsigned i = 0; i < c->r->nslots; i++)
		atomic_store_explicit(&c->r->slots[i].busy, 0,
				      memory_order_release);
}

/* Mark every alloc area shared and open a racing window on every slot. */
static void publish_shared(struct run *r)
{
	for (unsigned i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slots[i];
		uint64_t v = s->version;

		for (unsigned k = 0; k < s->cur.n; k++)
			if (s->cur.s[k].kind == SEG_ALLOC)
				s->cur.s[k].shared = true;
		st_store(s->ring[(v + 1) % RING], &s->cur);
		atomic_store(&s->gen, 2 * v + 1);
	}
}

static void close_windows(struct run *r)
{
	for (unsigned i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slots[i];

		atomic_store(&s->gen, 2 * ++s->version);
	}
}

/* Who may have written the page: its vCPU, or the control threads. */
static unsigned page_owner(const struct run *r, uint64_t gpa)
{
	unsigned lane = (unsigned)((gpa / PAGE) % r->lanes);

	return lane == r->nvcpu ? CTL_WRITER : lane;
}

static bool word_plausible(const struct run *r, uint64_t gpa,
			   const uint64_t w[2])
{
	return (!w[0] && !w[1]) || is_tag(w[0], w[1], page_owner(r, gpa), gpa);
}

static bool check_clone_point(struct run *r, struct aspace *dst,
			      const struct slot *s, uint64_t gpa)
{
	struct aspace_xlate xl = {0};
	char why[320], desc[1024], fl[8];
	int rc = aspace_translate(dst, gpa, &xl);
	int fs = rc ? -1 : hal_frame_state(xl.hpa);

	if (oracle_translate(&r->oracle, &s->cur, gpa, rc, &xl, fs, ORACLE_ALL,
			     why, sizeof(why)))
		return true;
	st_describe(&s->cur, desc, sizeof(desc));
	stress_violation("clone: translate gpa=%#" PRIx64
			 ": rc=%d hpa=%#" PRIx64 " leaf=%#" PRIx64
			 " flags=%s frame-state=%d: %s\n"
			 "  slot state: %s",
			 gpa, rc, xl.hpa, xl.leaf_size, flags_str(xl.flags, fl),
			 fs, why, desc);
	return false;
}

/* Remember a word of an alloc page of the clone, after checking it. */
static void snap_word(struct ctl_ctx *c, struct aspace *dst, uint64_t gpa)
{
	struct run *r = c->r;
	uint64_t w[2];
	int rc = aspace_read(dst, gpa, w, sizeof(w));

	if (rc || !word_plausible(r, gpa, w)) {
		stress_violation("clone: word %#" PRIx64
				 " reads rc=%d %#" PRIx64 " %#" PRIx64
				 ": expected zeros or a tag of "
				 "writer %#x for that gpa",
				 gpa, rc, w[0], w[1], page_owner(r, gpa));
		return;
	}
	if (r->nsnaps < CLONE_SNAPS) {
		r->snaps[r->nsnaps].gpa = gpa;
		memcpy(r->snaps[r->nsnaps++].w, w, sizeof(w));
	}
}

static void check_clone_slot(struct ctl_ctx *c, struct aspace *dst,
			     const struct slot *s)
{
	const struct sstate *st = &s->cur;

	for (unsigned i = 0; i < st->n && !stress_failed(); i++) {
		const struct seg *sg = &st->s[i];
		uint64_t gpa =
			sg->start + rng_below(&c->rng, sg->size / PAGE) * PAGE;

		check_clone_point(c->r, dst, s, sg->start);
		check_clone_point(c->r, dst, s, gpa);
		if (sg->kind == SEG_ALLOC)
			snap_word(c, dst, gpa + 16 * rng_below(&c->rng, 256));
	}
	check_clone_point(c->r, dst, s,
			  s->gpa + rng_below(&c->rng, s->size / PAGE) * PAGE);
}

/*
 * A write into the clone breaks copy-on-write there: the clone reads it
 * back, the source keeps what it had (a control-lane word, which no vCPU
 * touches, so the source's value is stable while we hold the slot).
 */
static void write_isolated(struct ctl_ctx *c, struct aspace *dst)
{
	struct run *r = c->r;
	const struct slot *s = &r->slots[rng_below(&c->rng, r->nslots)];
	const struct sstate *st = &s->cur;
	uint64_t tag[2], before[2], after[2], back[2], gpa, page;
	const struct seg *sg;

	if (!st->n || r->nvcpu >= r->lanes)
		return;
	sg = &st->s[rng_below(&c->rng, st->n)];
	page = (sg->start + rng_below(&c->rng, sg->size / PAGE) * PAGE) / PAGE;
	gpa = ((page & ~(uint64_t)(r->lanes - 1)) | r->nvcpu) * PAGE +
	      16 * rng_below(&c->rng, PAGE / 16);
	if (sg->kind != SEG_ALLOC || gpa < sg->start ||
	    gpa >= sg->start + sg->size)
		return;
	tag[0] = tag_word(CLONE_WRITER, ++c->counter);
	tag[1] = gpa;
	if (aspace_read(r->as, gpa, before, 16) ||
	    aspace_write(dst, gpa, tag, 16) ||
	    aspace_read(dst, gpa, back, 16) ||
	    aspace_read(r->as, gpa, after, 16) || memcmp(back, tag, 16) ||
	    memcmp(before, after, 16))
		stress_violation("clone: wrote %#" PRIx64 " at %#" PRIx64
				 " into the clone: the clone reads %#" PRIx64
				 ", the source read %#" PRIx64
				 " before and %#" PRIx64 " after",
				 tag[0], gpa, back[0], before[0], after[0]);
	for (unsigned i = 0; i < r->nsnaps; i++)
		if (r->snaps[i].gpa == gpa)
			memcpy(r->snaps[i].w, tag, sizeof(tag));
}

/* The remembered words, whatever the source did meanwhile. */
static void check_snaps(struct run *r, const char *when)
{
	for (unsigned i = 0; i < r->nsnaps; i++) {
		uint64_t w[2];
		int rc = aspace_read(r->clone, r->snaps[i].gpa, w, sizeof(w));

		if (!rc && !memcmp(w, r->snaps[i].w, sizeof(w)))
			continue;
		stress_violation("clone %s: word %#" PRIx64
				 " reads rc=%d %#" PRIx64 " %#" PRIx64
				 ", it read %#" PRIx64 " %#" PRIx64
				 " (a write on the source side leaked in, or "
				 "its frame was freed)",
				 when, r->snaps[i].gpa, rc, w[0], w[1],
				 r->snaps[i].w[0], r->snaps[i].w[1]);
		return;
	}
}

void clone_retire(struct run *r, const char *when)
{
	if (!r->clone)
		return;
	check_snaps(r, when);
	aspace_destroy(r->clone);
	r->clone = NULL;
	r->nsnaps = 0;
}

void control_clone(struct ctl_ctx *c)
{
	struct run *r = c->r;
	struct timespec pause = {0, 2 * 1000 * 1000};
	int rc;

	lock_all(c);
	clone_retire(r, "after the source went on");
	publish_shared(r);
	rc = aspace_clone(r->as, &r->clone);
	close_windows(r);
	c->n.clones++;
	if (rc) {
		r->clone = NULL;
		stress_violation("aspace_clone: %d", rc);
	}
	for (unsigned i = 0; i < r->nslots && r->clone && !stress_failed(); i++)
		check_clone_slot(c, r->clone, &r->slots[i]);
	if (r->clone && !stress_failed()) {
		for (int i = 0; i < 4; i++)
			write_isolated(c, r->clone);
		nanosleep(&pause, NULL); /* vCPUs write the source meanwhile */
		check_snaps(r, "while the source runs");
	}
	unlock_all(c);
}
