/* SPDX-License-Identifier: MIT */
/*
 * Control threads: map (linear and alloc, lazy and populated), unmap and
 * protect random ranges of the slot they hold. Every call's outcome is
 * computed by the model first and published as the slot's next version
 * before the call (see stress.h), the return code must be the model's, and
 * the slot is checked from the control path right after.
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define BIG_LINEAR_MAX (64ull << 20)
#define BIG_ALLOC_MAX (8ull << 20)

struct ctl_op {
	enum ctl_kind kind;
	uint64_t gpa, size, hpa;
	unsigned flags;
	bool populate;
	int expect, expect_alt; /* accepted return codes */
	struct sstate next;	/* the state if the call succeeds */
};

static const char *const kind_names[] = {"map_linear", "map_alloc", "unmap",
					 "protect"};

static struct slot *lock_slot(struct ctl_ctx *c)
{
	struct run *r = c->r;
	unsigned nbig = 0;

	for (unsigned i = 0; i < r->nslots; i++)
		nbig += r->slots[i].big;
	for (int tries = 0; tries < 8; tries++) {
		struct slot *s;
		int idle = 0;

		if (nbig && rng_pct(&c->rng, 25))
			s = &r->slots[r->nslots - 1 - rng_below(&c->rng, nbig)];
		else
			s = &r->slots[rng_below(&c->rng, r->nslots - nbig)];
		if (atomic_compare_exchange_strong_explicit(
			    &s->busy, &idle, 1, memory_order_acquire,
			    memory_order_relaxed))
			return s;
	}
	return NULL;
}

static unsigned pick_perm(struct ctl_ctx *c)
{
	return ASPACE_READ | (rng_pct(&c->rng, 50) ? ASPACE_WRITE : 0) |
	       (rng_pct(&c->rng, 30) ? ASPACE_EXEC : 0);
}

static unsigned pick_memtype(struct ctl_ctx *c, unsigned device_pct,
			     unsigned uncached_pct)
{
	uint64_t roll = rng_below(&c->rng, 100);

	if (roll < device_pct)
		return ASPACE_DEVICE;
	return roll < device_pct + uncached_pct ? ASPACE_UNCACHED : 0;
}

/* Log-uniform, often whole 2 MiB blocks. */
static uint64_t pick_size(struct ctl_ctx *c, uint64_t max)
{
	unsigned bits = 63 - (unsigned)__builtin_clzll(max / PAGE);
	uint64_t pages =
		1 + rng_below(&c->rng, 1ull << rng_below(&c->rng, bits + 1));
	uint64_t size = pages * PAGE;

	if (rng_pct(&c->rng, 30))
		size = (size + SZ_2M - 1) & ~(SZ_2M - 1);
	return size > max ? max : size;
}

/* A range inside [lo, hi), its start often on a 2 MiB boundary. */
static void pick_range(struct ctl_ctx *c, uint64_t lo, uint64_t hi,
		       uint64_t max, uint64_t *gpa, uint64_t *size)
{
	uint64_t len = pick_size(c, max < hi - lo ? max : hi - lo);
	uint64_t start =
		lo + rng_below(&c->rng, (hi - lo - len) / PAGE + 1) * PAGE;
	uint64_t aligned = start & ~(SZ_2M - 1);

	if (rng_pct(&c->rng, 40) && aligned >= lo)
		start = aligned;
	*gpa = start;
	*size = len;
}

static bool pick_gap(struct ctl_ctx *c, const struct slot *s, uint64_t *lo,
		     uint64_t *hi)
{
	const struct sstate *st = &s->cur;
	uint64_t gaps[MAX_SEGS + 1][2], at = s->gpa;
	unsigned n = 0, i;

	for (i = 0; i <= st->n; i++) {
		uint64_t next = i < st->n ? st->s[i].start : s->gpa + s->size;

		if (next > at) {
			gaps[n][0] = at;
			gaps[n++][1] = next;
		}
		if (i < st->n)
			at = st->s[i].start + st->s[i].size;
	}
	if (!n)
		return false;
	i = (unsigned)rng_below(&c->rng, n);
	*lo = gaps[i][0];
	*hi = gaps[i][1];
	return true;
}

static void plan_map(struct ctl_ctx *c, struct slot *s, struct ctl_op *op)
{
	bool linear = op->kind == CTL_LINEAR;
	uint64_t lo = s->gpa, hi = s->gpa + s->size, max = s->size;

	if (s->big)
		max = linear ? BIG_LINEAR_MAX : BIG_ALLOC_MAX;
	if (rng_pct(&c->rng, 75))
		pick_gap(c, s, &lo, &hi);
	if (s->big && linear && !s->cur.n && rng_pct(&c->rng, 40)) {
		op->gpa = s->gpa;
		op->size = s->size;
	} else {
		pick_range(c, lo, hi, max, &op->gpa, &op->size);
	}
	op->hpa = s->hpa + (op->gpa - s->gpa);
	op->flags = pick_perm(c) |
		    (linear ? pick_memtype(c, 20, 20) : pick_memtype(c, 0, 15));
	op->populate = !linear && rng_pct(&c->rng, 30);
	op->next = s->cur;
	op->expect = op->expect_alt =
		st_overlaps(&s->cur, op->gpa, op->size) ? -EEXIST : 0;
	if (op->expect)
		return;
	st_insert(&op->next,
		  &(struct seg){
			  .start = op->gpa,
			  .size = op->size,
			  .hpa = linear ? op->hpa : 0,
			  .flags = op->flags,
			  .kind = linear ? SEG_LINEAR : SEG_ALLOC,
			  .populated = op->populate,
			  .area_id = linear ? 0
					    : atomic_fetch_add(
						      &c->r->next_area_id, 1),
		  });
}

/* Segments that touch one another around sg: a range protect may cover. */
static void covered_run(const struct sstate *st, unsigned i, uint64_t *lo,
			uint64_t *hi)
{
	unsigned a = i, b = i;

	while (a > 0 &&
	       st->s[a - 1].start + st->s[a - 1].size == st->s[a].start)
		a--;
	while (b + 1 < st->n &&
	       st->s[b].start + st->s[b].size == st->s[b + 1].start)
		b++;
	*lo = st->s[a].start;
	*hi = st->s[b].start + st->s[b].size;
}

static void pick_target(struct ctl_ctx *c, struct slot *s, bool protect,
			uint64_t *gpa, uint64_t *size)
{
	const struct sstate *st = &s->cur;
	uint64_t max = s->big ? BIG_LINEAR_MAX : s->size, lo, hi;

	if (!protect && rng_pct(&c->rng, 10)) {
		*gpa = s->gpa;
		*size = s->size;
		return;
	}
	if (st->n && rng_pct(&c->rng, protect ? 90 : 60)) {
		unsigned i = (unsigned)rng_below(&c->rng, st->n);

		covered_run(st, i, &lo, &hi);
		if (!protect) {
			lo = st->s[i].start;
			hi = lo + st->s[i].size;
		}
		if (rng_pct(&c->rng, 15)) {
			*gpa = lo;
			*size = hi - lo;
		} else {
			pick_range(c, lo, hi, hi - lo, gpa, size);
		}
		return;
	}
	pick_range(c, s->gpa, s->gpa + s->size, max, gpa, size);
}

static void plan_unmap(struct ctl_ctx *c, struct slot *s, struct ctl_op *op)
{
	pick_target(c, s, false, &op->gpa, &op->size);
	op->expect = op->expect_alt = 0;
	op->next = s->cur;
	st_unmap(&op->next, op->gpa, op->size);
}

/*
 * Permissions only; a memory-type bit is -EINVAL. The header does not rank
 * that against -EFAULT for a range with holes: either is accepted.
 */
static void plan_protect(struct ctl_ctx *c, struct slot *s, struct ctl_op *op)
{
	const struct sstate *st = &s->cur;
	bool covered, bad_flags;

	pick_target(c, s, true, &op->gpa, &op->size);
	op->flags = pick_perm(c);
	if (rng_pct(&c->rng, 5))
		op->flags |= pick_memtype(c, 50, 50);
	covered = st_covered(st, op->gpa, op->size);
	bad_flags = op->flags & MEMTYPE_MASK;
	op->expect = !covered ? -EFAULT : bad_flags ? -EINVAL : 0;
	op->expect_alt = bad_flags ? -EINVAL : op->expect;
	op->next = *st;
	if (!op->expect)
		st_protect(&op->next, op->gpa, op->size, op->flags);
}

static void plan(struct ctl_ctx *c, struct slot *s, struct ctl_op *op)
{
	uint64_t roll = rng_below(&c->rng, 100);

	if (!s->cur.n)
		roll = roll < 85 ? roll / 2 : roll;
	op->kind = roll < 25   ? CTL_LINEAR
		   : roll < 50 ? CTL_ALLOC
		   : roll < 75 ? CTL_UNMAP
			       : CTL_PROTECT;
	if (op->kind == CTL_LINEAR || op->kind == CTL_ALLOC)
		plan_map(c, s, op);
	else if (op->kind == CTL_UNMAP)
		plan_unmap(c, s, op);
	else
		plan_protect(c, s, op);
	if (op->next.n > MAX_SEGS) {
		op->kind = CTL_UNMAP;
		op->gpa = s->gpa;
		op->size = s->size;
		op->expect = op->expect_alt = 0;
		op->next.n = 0;
	}
}

static int call(struct run *r, const struct ctl_op *op)
{
	switch (op->kind) {
	case CTL_LINEAR:
		return aspace_map_linear(r->as, op->gpa, op->hpa, op->size,
					 op->flags);
	case CTL_ALLOC:
		return aspace_map_alloc(r->as, op->gpa, op->size, op->flags,
					op->populate);
	case CTL_UNMAP:
		return aspace_unmap(r->as, op->gpa, op->size);
	default:
		return aspace_protect(r->as, op->gpa, op->size, op->flags);
	}
}

static void describe_op(const struct ctl_op *op, char *buf, size_t len)
{
	char fl[8];

	snprintf(buf, len,
		 "%s [%#" PRIx64 ",+%#" PRIx64 ") hpa=%#" PRIx64 " flags=%s%s",
		 kind_names[op->kind], op->gpa, op->size, op->hpa,
		 flags_str(op->flags, fl),
		 op->kind == CTL_ALLOC ? (op->populate ? " populate" : " lazy")
				       : "");
}

/* Publish the outcome, then make the call: vCPUs may see either side. */
static int publish_and_call(struct ctl_ctx *c, struct slot *s,
			    const struct ctl_op *op)
{
	const struct sstate *after = op->expect ? &s->cur : &op->next;
	uint64_t v = s->version;
	char desc[1024], od[160];
	int rc;

	st_store(s->ring[(v + 1) % RING], after);
	atomic_store(&s->gen, 2 * v + 1);
	rc = call(c->r, op);
	atomic_store(&s->gen, 2 * v + 2);
	s->version = v + 1;
	c->n.op[op->kind]++;
	if (rc != op->expect && rc != op->expect_alt) {
		st_describe(&s->cur, desc, sizeof(desc));
		describe_op(op, od, sizeof(od));
		stress_violation("control %u: %s returned %d, expected %d "
				 "(or %d)\n  slot state before: %s",
				 c->id, od, rc, op->expect, op->expect_alt,
				 desc);
	}
	if (rc)
		c->n.expected_err++;
	s->cur = *after;
	return rc;
}

static bool check_leaf(struct run *r, const struct slot *s, uint64_t gpa,
		       const char *context)
{
	const struct seg *sg = st_find(&s->cur, gpa);
	struct aspace_xlate xl;
	uint64_t want;

	if (!sg || sg->kind != SEG_LINEAR)
		return true;
	want = oracle_linear_leaf(&r->oracle, sg, gpa);
	if (aspace_translate(r->as, gpa, &xl) || xl.leaf_size == want)
		return true;
	stress_violation("%s: translate gpa=%#" PRIx64 " of a fresh linear "
			 "area [%#" PRIx64 ",+%#" PRIx64 ") hpa=%#" PRIx64
			 ": leaf %#" PRIx64 ", the largest that fits is "
			 "%#" PRIx64,
			 context, gpa, sg->start, sg->size, sg->hpa,
			 xl.leaf_size, want);
	return false;
}

bool check_stable(struct run *r, const struct slot *s, uint64_t gpa,
		  const char *context)
{
	struct aspace_xlate xl = {0};
	char why[320], desc[1024], fl[8];
	int rc, fs = -1;

	rc = aspace_translate(r->as, gpa, &xl);
	if (rc == 0)
		fs = hal_frame_state(xl.hpa);
	if (oracle_translate(&r->oracle, &s->cur, gpa, rc, &xl, fs, ORACLE_ALL,
			     why, sizeof(why)))
		return true;
	st_describe(&s->cur, desc, sizeof(desc));
	stress_violation("%s: translate gpa=%#" PRIx64 ": rc=%d hpa=%#" PRIx64
			 " leaf=%#" PRIx64 " flags=%s area=[%#" PRIx64
			 ",+%#" PRIx64 ") frame-state=%d: %s\n  slot "
			 "state: %s",
			 context, gpa, rc, xl.hpa, xl.leaf_size,
			 flags_str(xl.flags, fl), xl.area_start, xl.area_size,
			 fs, why, desc);
	return false;
}

/* A lazy page faulted from the control path must then be present. */
static void control_fault(struct ctl_ctx *c, struct slot *s,
			  const struct ctl_op *op, const char *context)
{
	uint64_t gpa = op->gpa + rng_below(&c->rng, op->size / PAGE) * PAGE;
	struct aspace_xlate xl;
	int rc = aspace_handle_fault(c->r->as, gpa, ASPACE_READ);

	c->n.faults++;
	if (rc)
		stress_violation("%s: aspace_handle_fault(%#" PRIx64
				 ", READ) = %d, expected 0",
				 context, gpa, rc);
	else if (aspace_translate(c->r->as, gpa, &xl))
		stress_violation("%s: gpa %#" PRIx64 " not present after "
				 "aspace_handle_fault fixed it",
				 context, gpa);
	check_stable(c->r, s, gpa, context);
}

static void post_check(struct ctl_ctx *c, struct slot *s,
		       const struct ctl_op *op, int rc)
{
	uint64_t end = op->gpa + op->size, pts[8];
	char context[200];
	unsigned n = 0;

	describe_op(op, context, sizeof(context));
	pts[n++] = op->gpa - PAGE;
	pts[n++] = op->gpa;
	pts[n++] = op->gpa + (op->size / 2 & ~(PAGE - 1));
	pts[n++] = end - PAGE;
	pts[n++] = end;
	while (n < 8)
		pts[n++] = s->gpa + rng_below(&c->rng, s->size / PAGE) * PAGE;
	for (unsigned i = 0; i < n; i++) {
		if (pts[i] < s->gpa || pts[i] - s->gpa >= s->size)
			continue;
		c->n.checks++;
		if (!check_stable(c->r, s, pts[i], context))
			return;
		if (!rc && op->kind == CTL_LINEAR && pts[i] >= op->gpa &&
		    pts[i] < end && !check_leaf(c->r, s, pts[i], context))
			return;
	}
	if (!rc && op->kind == CTL_ALLOC && !op->populate &&
	    rng_pct(&c->rng, 30))
		control_fault(c, s, op, context);
}

/* The control lane's page next to gpa: no vCPU touches its data. */
static bool control_page(const struct run *r, const struct slot *s,
			 uint64_t *gpa)
{
	uint64_t page = *gpa / PAGE;

	if (r->nvcpu >= r->lanes)
		return false;
	*gpa = ((page & ~(uint64_t)(r->lanes - 1)) | r->nvcpu) * PAGE;
	return *gpa >= s->gpa && *gpa - s->gpa < s->size;
}

/* host: the host memory behind a linear gpa before the write */
static bool old_data_ok(const struct seg *sg, uint64_t gpa, const uint64_t w[2],
			const uint64_t host[2])
{
	if (sg->kind == SEG_LINEAR)
		return !memcmp(w, host, 16);
	return (!w[0] && !w[1]) || is_tag(w[0], w[1], CTL_WRITER, gpa);
}

/*
 * Host accesses from the control path (they fault lazy pages in, racing
 * with vCPU faults in the same blocks): read what is there, write a tag,
 * read it back.
 */
static void control_data(struct ctl_ctx *c, struct slot *s)
{
	uint64_t gpa = s->gpa + rng_below(&c->rng, s->size / PAGE) * PAGE;
	uint64_t old[2], tag[2], back[2], host[2] = {0, 0};
	const struct seg *sg;
	int want, r1, r2, r3;
	char desc[1024];

	if (!control_page(c->r, s, &gpa))
		return;
	gpa += 16 * rng_below(&c->rng, PAGE / 16);
	sg = st_find(&s->cur, gpa);
	want = sg && !(sg->flags & ASPACE_DEVICE) ? 0 : -EFAULT;
	tag[0] = tag_word(CTL_WRITER, ++c->counter);
	tag[1] = gpa;
	c->n.data++;
	if (sg && sg->kind == SEG_LINEAR)
		memcpy(host, hal_va(sg->hpa + (gpa - sg->start)), 16);
	r1 = aspace_read(c->r->as, gpa, old, sizeof(old));
	r2 = aspace_write(c->r->as, gpa, tag, sizeof(tag));
	r3 = aspace_read(c->r->as, gpa, back, sizeof(back));
	if (r1 == want && r2 == want && r3 == want &&
	    (want ||
	     (old_data_ok(sg, gpa, old, host) && !memcmp(back, tag, 16))))
		return;
	st_describe(&s->cur, desc, sizeof(desc));
	stress_violation("control %u: aspace_read/write/read gpa=%#" PRIx64
			 ": rc %d/%d/%d, expected %d; read %#" PRIx64
			 " %#" PRIx64 ", wrote %#" PRIx64
			 ", read back %#" PRIx64 " %#" PRIx64
			 "\n  slot state: %s",
			 c->id, gpa, r1, r2, r3, want, old[0], old[1], tag[0],
			 back[0], back[1], desc);
}

/* Every page a segment spans must be where translate says it is. */
static bool iov_segment_ok(struct run *r, uint64_t gpa, const struct iovec *v)
{
	uint64_t off = 0;
	struct aspace_xlate xl;

	while (off < v->iov_len) {
		if (aspace_translate(r->as, gpa + off, &xl) ||
		    hal_va(xl.hpa) != (uint8_t *)v->iov_base + off)
			return false;
		off = ((gpa + off) & ~(PAGE - 1)) + PAGE - gpa;
	}
	return true;
}

static void control_iov(struct ctl_ctx *c, struct slot *s)
{
	uint64_t len = 1 + rng_below(&c->rng, 16 * PAGE), gpa, at, end;
	struct iovec iov[64];
	bool ram = true;
	int n, i;

	gpa = s->gpa + rng_below(&c->rng, s->size - len);
	if (rng_pct(&c->rng, 50)) {
		const struct sstate *st = &s->cur;

		if (st->n) {
			const struct seg *sg =
				&st->s[rng_below(&c->rng, st->n)];

			gpa = sg->start + rng_below(&c->rng, sg->size);
			if (gpa + len > s->gpa + s->size)
				len = s->gpa + s->size - gpa;
		}
	}
	end = gpa + len;
	for (at = gpa & ~(PAGE - 1); at < end; at += PAGE) {
		const struct seg *sg = st_find(&s->cur, at);

		ram &= sg && !(sg->flags & ASPACE_DEVICE);
	}
	c->n.iov++;
	n = aspace_guest_iov(c->r->as, gpa, len, iov, 64);
	if (n < 0 || !ram) {
		if (n == (ram ? 0 : -EFAULT) || (ram && n == -ENOSPC))
			return;
		stress_violation("control %u: aspace_guest_iov(%#" PRIx64
				 ", %#" PRIx64 ") = %d, expected %s",
				 c->id, gpa, len, n,
				 ram ? "segments" : "-EFAULT");
		return;
	}
	for (i = 0, at = gpa; i < n; at += iov[i++].iov_len)
		if (!iov[i].iov_len || at + iov[i].iov_len > end ||
		    !iov_segment_ok(c->r, at, &iov[i]))
			break;
	if (i == n && at == end)
		return;
	stress_violation("control %u: aspace_guest_iov(%#" PRIx64 ", %#" PRIx64
			 ") = %d segments: segment %d (gpa %#" PRIx64
			 ", %zu bytes at %p) is not where translate maps it, "
			 "or the segments do not add up",
			 c->id, gpa, len, n, i, at, i < n ? iov[i].iov_len : 0,
			 i < n ? iov[i].iov_base : NULL);
}

/* A real fault from the control path: no area or a forbidden access. */
static void control_real_fault(struct ctl_ctx *c, struct slot *s)
{
	uint64_t gpa = s->gpa + rng_below(&c->rng, s->size / PAGE) * PAGE;
	const struct seg *sg = st_find(&s->cur, gpa);
	unsigned access = ASPACE_EXEC;
	int want, rc;

	if (sg && (sg->flags & ASPACE_EXEC))
		access = sg->flags & ASPACE_WRITE ? 0 : ASPACE_WRITE;
	if (!access || (sg && sg->kind == SEG_ALLOC && rng_pct(&c->rng, 50)))
		return;
	want = c->r->oracle.real_fault_rc;
	c->n.real_faults++;
	rc = aspace_handle_fault(c->r->as, gpa, access);
	if (rc != want)
		stress_violation("control %u: aspace_handle_fault(%#" PRIx64
				 ", %#x) = %d, expected %d (a real fault)",
				 c->id, gpa, access, rc, want);
}

static void extras(struct ctl_ctx *c)
{
	struct aspace_stats st;

	if (rng_below(&c->rng, 64) == 0) {
		aspace_barrier(c->r->as);
		c->n.barriers++;
	}
	if (rng_below(&c->rng, 16) == 0)
		aspace_stats(c->r->as, &st);
	/* replace the hook while faults call it: the old one stays valid */
	if (c->r->fault_hook && rng_below(&c->rng, 256) == 0 &&
	    aspace_set_fault_handler(c->r->as, stress_fault_hook, c->r))
		stress_violation("aspace_set_fault_handler failed");
}

static void control_step(struct ctl_ctx *c)
{
	struct slot *s;
	struct ctl_op op;
	int rc;

	if (rng_below(&c->rng, 400) == 0) {
		control_clone(c);
		return;
	}
	s = lock_slot(c);

	if (!s) {
		sched_yield();
		return;
	}
	plan(c, s, &op);
	rc = publish_and_call(c, s, &op);
	if (!stress_failed())
		post_check(c, s, &op, rc);
	if (rng_pct(&c->rng, 30))
		control_data(c, s);
	if (rng_pct(&c->rng, 20))
		control_iov(c, s);
	if (rng_pct(&c->rng, 10))
		control_real_fault(c, s);
	if (rng_pct(&c->rng, 25))
		control_queries(c, s);
	atomic_store_explicit(&s->busy, 0, memory_order_release);
	extras(c);
}

void *control_thread(void *arg)
{
	struct ctl_ctx *c = arg;
	uint64_t ops = 0;

	stress_control_thread = true;

	pthread_barrier_wait(c->start);
	while (!atomic_load_explicit(&c->r->stop, memory_order_relaxed) &&
	       !stress_failed()) {
		control_step(c);
		atomic_store_explicit(&c->ops, ++ops, memory_order_relaxed);
	}
	return NULL;
}
