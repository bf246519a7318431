/* SPDX-License-Identifier: MIT */
/*
 * The query calls from a control thread that holds a slot, while vCPUs
 * fault in the same slot: aspace_check_access, aspace_find_free_area and
 * aspace_populate against the model, and aspace_query_begin/next runs
 * against the model and aspace_translate. Ranges stay inside the slot, so
 * no other control thread changes what they look at.
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#define POPULATE_MAX (8ull << 20)
#define QUERY_MAX (16ull << 20)

static bool allowing(const struct sstate *st, uint64_t gpa, uint64_t size,
		     unsigned access)
{
	if (!st_covered(st, gpa, size))
		return false;
	for (unsigned i = 0; i < st->n; i++) {
		const struct seg *sg = &st->s[i];

		if (sg->start < gpa + size && sg->start + sg->size > gpa &&
		    (sg->flags & access) != access)
			return false;
	}
	return true;
}

/* Bytes in the slot, often starting inside an area; any alignment. */
static void pick_bytes(struct ctl_ctx *c, const struct slot *s, uint64_t max,
		       uint64_t *gpa, uint64_t *size)
{
	const struct sstate *st = &s->cur;
	uint64_t end = s->gpa + s->size, room;

	if (st->n && rng_pct(&c->rng, 60)) {
		const struct seg *sg = &st->s[rng_below(&c->rng, st->n)];

		*gpa = sg->start + rng_below(&c->rng, sg->size);
	} else {
		*gpa = s->gpa + rng_below(&c->rng, s->size);
	}
	room = end - *gpa;
	*size = 1 + rng_below(&c->rng, room < max ? room : max);
}

static void q_check_access(struct ctl_ctx *c, struct slot *s)
{
	unsigned access = 1 + (unsigned)rng_below(&c->rng, 7);
	uint64_t gpa, size;
	bool want, got;
	char desc[1024];

	pick_bytes(c, s, 4 * SZ_2M, &gpa, &size);
	want = allowing(&s->cur, gpa, size, access);
	got = aspace_check_access(c->r->as, gpa, size, access);
	c->n.queries++;
	if (got == want)
		return;
	st_describe(&s->cur, desc, sizeof(desc));
	stress_violation("control %u: aspace_check_access(%#" PRIx64
			 ", %#" PRIx64 ", %#x) = %d, expected %d\n  slot "
			 "state: %s",
			 c->id, gpa, size, access, got, want, desc);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* First fit in [lo, hi) from hint, as the header describes it. */
static int model_first_fit(const struct sstate *st, uint64_t hint, uint64_t lo,
			   uint64_t hi, uint64_t size, uint64_t align,
			   uint64_t *out)
{
	uint64_t cand = align_up(hint > lo ? hint : lo, align);

	while (cand < hi && size <= hi - cand) {
		unsigned i = 0;

		while (i < st->n && st->s[i].start + st->s[i].size <= cand)
			i++;
		if (i == st->n || st->s[i].start >= cand + size) {
			*out = cand;
			return 0;
		}
		cand = align_up(st->s[i].start + st->s[i].size, align);
	}
	return -ENOMEM;
}

static void q_find_free(struct ctl_ctx *c, struct slot *s)
{
	static const uint64_t aligns[] = {PAGE, SZ_2M, SZ_1G};
	uint64_t align = aligns[rng_below(&c->rng, s->big ? 3 : 2)];
	uint64_t size = PAGE << rng_below(&c->rng, s->big ? 15 : 11);
	uint64_t hint = s->gpa + rng_below(&c->rng, s->size + s->size / 8);
	uint64_t want = 0, got = 0;
	int wrc, rc;
	char desc[1024];

	if (rng_pct(&c->rng, 20))
		hint = s->gpa >= SZ_2M ? s->gpa - SZ_2M : 0;
	wrc = model_first_fit(&s->cur, hint, s->gpa, s->gpa + s->size, size,
			      align, &want);
	rc = aspace_find_free_area(c->r->as, hint, size, s->gpa,
				   s->gpa + s->size, align, &got);
	c->n.queries++;
	if (rc == wrc && (rc || got == want))
		return;
	st_describe(&s->cur, desc, sizeof(desc));
	stress_violation("control %u: aspace_find_free_area(hint %#" PRIx64
			 ", size %#" PRIx64 ", [%#" PRIx64 ",+%#" PRIx64
			 "), align %#" PRIx64 ") = %d at %#" PRIx64
			 ", expected %d at %#" PRIx64 "\n  slot state: %s",
			 c->id, hint, size, s->gpa, s->size, align, rc, got,
			 wrc, want, desc);
}

/* After populate, every alloc page of the range is present. */
static void check_populated(struct ctl_ctx *c, struct slot *s, uint64_t gpa,
			    uint64_t size, unsigned access)
{
	uint64_t pts[5] = {gpa, gpa + size - PAGE,
			   gpa + (size / 2 & ~(PAGE - 1)),
			   gpa + rng_below(&c->rng, size / PAGE) * PAGE,
			   gpa + rng_below(&c->rng, size / PAGE) * PAGE};
	struct aspace_xlate xl;

	for (unsigned i = 0; i < 5; i++) {
		const struct seg *sg = st_find(&s->cur, pts[i]);
		int rc;

		if (!sg || sg->kind != SEG_ALLOC)
			continue;
		rc = aspace_translate(c->r->as, pts[i], &xl);
		if (rc ||
		    ((access & ASPACE_WRITE) && !(xl.flags & ASPACE_WRITE))) {
			stress_violation("control %u: after aspace_populate("
					 "%#" PRIx64 ", %#" PRIx64
					 ", %#x) gpa %#" PRIx64 " is %s",
					 c->id, gpa, size, access, pts[i],
					 rc ? "absent" : "not writable");
			return;
		}
		check_stable(c->r, s, pts[i], "after aspace_populate");
	}
}

static void q_populate(struct ctl_ctx *c, struct slot *s)
{
	const struct sstate *st = &s->cur;
	uint64_t gpa = s->gpa, size = s->size;
	unsigned access = 1 + (unsigned)rng_below(&c->rng, 7);
	int want, rc;

	if (st->n && rng_pct(&c->rng, 70)) {
		const struct seg *sg = &st->s[rng_below(&c->rng, st->n)];

		gpa = sg->start;
		size = sg->size;
		access = sg->flags & ASPACE_PERM_MASK &
			 (unsigned)(1 + rng_below(&c->rng, 7));
		if (!access)
			access = ASPACE_READ;
	}
	gpa += rng_below(&c->rng, size / PAGE) * PAGE;
	size = s->gpa + s->size - gpa;
	size = PAGE *
	       (1 +
		rng_below(&c->rng,
			  (size < POPULATE_MAX ? size : POPULATE_MAX) / PAGE));
	want = allowing(st, gpa, size, access) ? 0 : -EFAULT;
	rc = aspace_populate(c->r->as, gpa, size, access);
	c->n.populates++;
	if (rc != want) {
		char desc[1024];

		st_describe(st, desc, sizeof(desc));
		stress_violation("control %u: aspace_populate(%#" PRIx64
				 ", %#" PRIx64 ", %#x) = %d, expected %d\n  "
				 "slot state: %s",
				 c->id, gpa, size, access, rc, want, desc);
		return;
	}
	if (!rc)
		check_populated(c, s, gpa, size, access);
}

/* A mapped run's host addresses, where translate can confirm them. */
static bool run_matches_translate(struct run *r, const struct aspace_run *run,
				  uint64_t at)
{
	struct aspace_xlate xl;

	return !aspace_translate(r->as, at, &xl) &&
	       xl.hpa == run->hpa + (at - run->gpa) &&
	       xl.leaf_size == run->leaf_size;
}

static bool run_ok(struct ctl_ctx *c, const struct slot *s,
		   const struct aspace_run *run, char *why, size_t len)
{
	const struct sstate *st = &s->cur;
	uint64_t end = run->gpa + run->size;

	if (run->mapped && !st_covered(st, run->gpa, run->size)) {
		snprintf(why, len, "a mapped run over a gap");
		return false;
	}
	for (unsigned i = 0; i < st->n; i++) {
		const struct seg *sg = &st->s[i];
		uint64_t lo = sg->start > run->gpa ? sg->start : run->gpa;
		uint64_t hi =
			sg->start + sg->size < end ? sg->start + sg->size : end;

		if (lo >= hi)
			continue;
		if (!run->mapped) {
			snprintf(why, len,
				 "unmapped over [%#" PRIx64 ",%#" PRIx64
				 ") of a %s area",
				 lo, hi,
				 sg->kind == SEG_LINEAR ? "linear"
							: "populated");
			if (sg->kind == SEG_LINEAR || sg->populated)
				return false;
			continue;
		}
		if (!oracle_run(&c->r->oracle, sg, run, lo, why, len))
			return false;
		snprintf(why, len,
			 "translate disagrees at %#" PRIx64 " or %#" PRIx64, lo,
			 hi - 1);
		/* a vCPU's write may move a shared page to a private frame */
		if (sg->kind == SEG_ALLOC && !sg->shared &&
		    (!run_matches_translate(c->r, run, lo) ||
		     !run_matches_translate(c->r, run, hi - 1)))
			return false;
	}
	return true;
}

static void q_query(struct ctl_ctx *c, struct slot *s)
{
	uint64_t gpa = s->gpa, size = s->size, at, end;
	struct aspace_query q;
	struct aspace_run run = {0};
	char why[320] = "the runs end early", desc[1024], fl[8];
	int rc;

	if (s->big || rng_pct(&c->rng, 30))
		pick_bytes(c, s, QUERY_MAX, &gpa, &size);
	end = gpa + size;
	rc = aspace_query_begin(c->r->as, gpa, size, &q);
	c->n.queries++;
	for (at = gpa; !rc && at < end && aspace_query_next(&q, &run);
	     at += run.size) {
		if (run.gpa != at || !run.size || run.size > end - at) {
			snprintf(why, sizeof(why),
				 "runs do not tile the range");
			break;
		}
		if (!run_ok(c, s, &run, why, sizeof(why)))
			break;
	}
	if (!rc && at == end)
		return;
	st_describe(&s->cur, desc, sizeof(desc));
	stress_violation("control %u: aspace_query(%#" PRIx64 ", %#" PRIx64
			 ") rc %d, at %#" PRIx64 ": run [%#" PRIx64
			 ",+%#" PRIx64 ") %s hpa %#" PRIx64 " leaf %#" PRIx64
			 " flags %s: %s\n  slot state: %s",
			 c->id, gpa, size, rc, at, run.gpa, run.size,
			 run.mapped ? "mapped" : "unmapped", run.hpa,
			 run.leaf_size, flags_str(run.flags, fl), why, desc);
}

void control_queries(struct ctl_ctx *c, struct slot *s)
{
	uint64_t roll = rng_below(&c->rng, 100);

	if (roll < 40)
		q_check_access(c, s);
	else if (roll < 60)
		q_find_free(c, s);
	else if (roll < 80)
		q_populate(c, s);
	else
		q_query(c, s);
}
