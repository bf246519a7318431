/* SPDX-License-Identifier: MIT */
/*
 * vCPU threads: fault, translate, read and write guest memory with no
 * coordination with the control threads, then check each result against
 * every slot state that was in force at some point during the call.
 *
 * Data. Page p of the window belongs to vCPU p % lanes, and only its owner
 * reads or writes it, so guest memory itself is never raced on. A write
 * stores a tag (magic, vCPU, counter; gpa) in a 16-byte word. The owner
 * remembers its last tag per word together with the alloc area it went
 * into: reading the word back must give the tag while that area is still
 * mapped there, and zeros once another area replaced it (fresh frames are
 * zeroed). Words without a remembered tag must read as zeros or as one of
 * our own tags for that very gpa; anything else (HAL poison, someone
 * else's tag, a tag for another gpa) means a wrong or recycled frame.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define WHY_LEN 320
#define MSG_LEN 8192

/* One call and the versions that were in force while it ran. */
struct window {
	struct slot *s;
	uint64_t g1, g2, lo;
	unsigned n;
	bool verifiable;
	struct sstate st[MAX_CANDS];
};

static void window_open(struct window *w, struct slot *s)
{
	w->s = s;
	w->g1 = atomic_load(&s->gen);
}

/*
 * Versions lo..hi: g1 / 2 was in force (or being left) when the call
 * began, and (g2 + 1) / 2 was published (maybe still being installed) when
 * it ended. Version v + RING overwrites v; it is only written after the
 * generation reached 2 (v + RING - 1), hence the re-check.
 */
static void window_close(struct window *w)
{
	uint64_t hi, g3;

	atomic_thread_fence(memory_order_seq_cst);
	w->g2 = atomic_load(&w->s->gen);
	w->lo = w->g1 / 2;
	hi = (w->g2 + 1) / 2;
	w->verifiable = hi - w->lo + 1 <= MAX_CANDS;
	if (!w->verifiable)
		return;
	w->n = (unsigned)(hi - w->lo + 1);
	for (unsigned i = 0; i < w->n; i++)
		st_load(w->s->ring[(w->lo + i) % RING], &w->st[i]);
	atomic_thread_fence(memory_order_acquire);
	g3 = atomic_load(&w->s->gen);
	w->verifiable = g3 < 2 * (w->lo + RING - 1);
}

static bool window_stable(const struct window *w)
{
	return w->g1 == w->g2 && !(w->g1 & 1);
}

static void report(struct vcpu_ctx *c, const struct window *w, uint64_t gpa,
		   const char *what, const char *observed, char why[][WHY_LEN])
{
	static _Thread_local char m[MSG_LEN];
	char desc[2048];
	size_t at;

	at = (size_t)snprintf(
		m, MSG_LEN,
		"vcpu %u %s gpa=%#" PRIx64 ": observed %s\n"
		"  slot [%#" PRIx64 ",+%#" PRIx64 ") generation %" PRIu64
		"..%" PRIu64 " (%s); allowed states:",
		c->id, what, gpa, observed, w->s->gpa, w->s->size, w->g1, w->g2,
		window_stable(w) ? "stable" : "racing");
	for (unsigned i = 0; i < w->n && at < MSG_LEN; i++) {
		st_describe(&w->st[i], desc, sizeof(desc));
		at += (size_t)snprintf(m + at, MSG_LEN - at,
				       "\n  v%" PRIu64 ": %s\n    -> %s",
				       w->lo + i, desc, why[i]);
	}
	stress_violation("%s", m);
}

static struct slot *pick_slot(struct vcpu_ctx *c)
{
	struct run *r = c->r;
	unsigned nbig = 0;

	for (unsigned i = 0; i < r->nslots; i++)
		nbig += r->slots[i].big;
	if (nbig && rng_pct(&c->rng, 25))
		return &r->slots[r->nslots - 1 - rng_below(&c->rng, nbig)];
	return &r->slots[rng_below(&c->rng, r->nslots - nbig)];
}

static uint64_t page_in(uint64_t *rng, uint64_t start, uint64_t size)
{
	return start + rng_below(rng, size / PAGE) * PAGE;
}

/* Aim at areas most of the time; a glance at the newest version will do. */
static uint64_t pick_gpa(struct vcpu_ctx *c, struct slot *s)
{
	uint64_t v = atomic_load_explicit(&s->gen, memory_order_relaxed) / 2;
	struct sstate snap;
	const struct seg *sg;
	uint64_t gpa, roll = rng_below(&c->rng, 100);

	st_load(s->ring[v % RING], &snap);
	if (!snap.n || roll >= 75)
		return page_in(&c->rng, s->gpa, s->size);
	sg = &snap.s[rng_below(&c->rng, snap.n)];
	if (roll < 65)
		gpa = page_in(&c->rng, sg->start, sg->size);
	else if (roll < 68)
		gpa = sg->start - PAGE;
	else if (roll < 71)
		gpa = sg->start + sg->size;
	else
		gpa = roll & 1 ? sg->start : sg->start + sg->size - PAGE;
	if (gpa < s->gpa || gpa - s->gpa >= s->size || (gpa & (PAGE - 1)))
		gpa = page_in(&c->rng, s->gpa, s->size);
	return gpa;
}

/* The page of ours nearest to gpa; slots are 4 MiB-aligned multiples. */
static bool own_page(struct vcpu_ctx *c, struct slot *s, uint64_t *gpa)
{
	uint64_t page = *gpa / PAGE, lanes = c->r->lanes;

	if (c->id >= lanes)
		return false;
	page = (page & ~(lanes - 1)) | c->id;
	*gpa = page * PAGE;
	return *gpa >= s->gpa && *gpa - s->gpa < s->size;
}

static void quiesce(struct vcpu_ctx *c)
{
	aspace_vcpu_quiescent(c->v);
}

static void check_translate(struct vcpu_ctx *c, const struct window *w,
			    uint64_t gpa, int rc, const struct aspace_xlate *xl,
			    int frame_state, const char *what)
{
	const struct oracle *o = &c->r->oracle;
	char why[MAX_CANDS][WHY_LEN], obs[256], fl[8], scratch[WHY_LEN];
	int fs = window_stable(w) ? frame_state : -1;
	unsigned found = 0;

	for (unsigned i = 0; i < w->n; i++)
		if (oracle_translate(o, &w->st[i], gpa, rc, xl, fs, ORACLE_ALL,
				     why[i], WHY_LEN))
			return;
	/* racing: the area and the leaf may come from different versions */
	for (unsigned i = 0; i < w->n && !rc && !window_stable(w); i++)
		for (unsigned part = ORACLE_LEAF; part <= ORACLE_AREA;
		     part <<= 1)
			if (oracle_translate(o, &w->st[i], gpa, rc, xl, fs,
					     part, scratch, sizeof(scratch)))
				found |= part;
	if (found == ORACLE_ALL)
		return;
	if (rc)
		snprintf(obs, sizeof(obs), "rc=%d", rc);
	else
		snprintf(obs, sizeof(obs),
			 "hpa=%#" PRIx64 " leaf=%#" PRIx64
			 " flags=%s area=[%#" PRIx64 ",+%#" PRIx64
			 ") frame-state=%d",
			 xl->hpa, xl->leaf_size, flags_str(xl->flags, fl),
			 xl->area_start, xl->area_size, frame_state);
	report(c, w, gpa, what, obs, why);
}

/*
 * A call that raced may have left something behind (an entry installed
 * after the area went away, a leaf that missed a protect): translate the
 * gpa again later, when the slot is likely quiet.
 */
static void suspect(struct vcpu_ctx *c, struct slot *s, uint64_t gpa)
{
	unsigned i = c->nsuspects < SUSPECTS
			     ? c->nsuspects++
			     : (unsigned)rng_below(&c->rng, SUSPECTS);

	c->suspect[i].s = s;
	c->suspect[i].gpa = gpa;
}

static void count_window(struct vcpu_ctx *c, const struct window *w)
{
	if (!window_stable(w))
		c->n.racing++;
	if (!w->verifiable)
		c->n.unverified++;
}

static void op_translate(struct vcpu_ctx *c, struct slot *s, uint64_t gpa)
{
	struct aspace_xlate xl = {0};
	struct window w;
	int rc, fs = -1;

	if (rng_pct(&c->rng, 20))
		gpa += rng_below(&c->rng, PAGE);
	window_open(&w, s);
	rc = aspace_vcpu_translate(c->v, gpa, &xl);
	if (rc == 0)
		fs = hal_frame_state(xl.hpa);
	window_close(&w);
	c->n.xlate++;
	count_window(c, &w);
	if (w.verifiable)
		check_translate(c, &w, gpa, rc, &xl, fs, "translate");
}

static unsigned pick_access(struct vcpu_ctx *c)
{
	uint64_t roll = rng_below(&c->rng, 100);

	return roll < 50 ? ASPACE_READ : roll < 85 ? ASPACE_WRITE : ASPACE_EXEC;
}

static void op_fault(struct vcpu_ctx *c, struct slot *s, uint64_t gpa)
{
	unsigned access = pick_access(c);
	char why[MAX_CANDS][WHY_LEN], obs[64];
	struct aspace_xlate xl = {0};
	struct window w;
	int rc, xrc, fs = -1;

	window_open(&w, s);
	rc = aspace_vcpu_fault(c->v, gpa, access);
	xrc = aspace_vcpu_translate(c->v, gpa, &xl);
	if (xrc == 0)
		fs = hal_frame_state(xl.hpa);
	window_close(&w);
	c->n.fault++;
	count_window(c, &w);
	if (!window_stable(&w))
		suspect(c, s, gpa);
	if (!w.verifiable)
		return;
	snprintf(obs, sizeof(obs), "rc=%d (access %#x)", rc, access);
	for (unsigned i = 0; i < w.n; i++)
		if (oracle_fault(&c->r->oracle, &w.st[i], gpa, access, rc,
				 why[i], WHY_LEN))
			goto translate;
	report(c, &w, gpa, "fault", obs, why);
	return;
translate:
	if (window_stable(&w) && rc == 0 && xrc == -ENOENT) {
		snprintf(why[0], WHY_LEN, "fault fixed, page must be present");
		report(c, &w, gpa, "translate after fault", "rc=-ENOENT", why);
		return;
	}
	if (window_stable(&w) && rc == 0 && xrc == 0 &&
	    (xl.flags & access) != access && st_find(&w.st[0], gpa)) {
		snprintf(why[0], WHY_LEN,
			 "fault fixed, the leaf must allow the access");
		snprintf(obs, sizeof(obs), "flags %#x after a fault %#x",
			 xl.flags, access);
		report(c, &w, gpa, "translate after fault", obs, why);
		return;
	}
	check_translate(c, &w, gpa, xrc, &xl, fs, "translate after fault");
}

static uint64_t make_tag(struct vcpu_ctx *c)
{
	return tag_word(c->id, ++c->counter);
}

static struct track *track_slot(struct vcpu_ctx *c, uint64_t gpa)
{
	return &c->track[(gpa / PAGE) % TRACK_N];
}

static const struct track *track_get(struct vcpu_ctx *c, uint64_t gpa)
{
	const struct track *t = track_slot(c, gpa);

	return t->valid && t->gpa == gpa ? t : NULL;
}

static bool word_ok(struct vcpu_ctx *c, const struct seg *sg, uint64_t gpa,
		    const uint8_t *data, char *why, size_t len)
{
	const struct track *t = track_get(c, gpa);
	uint64_t w[2];

	memcpy(w, data, sizeof(w));
	if (t && t->area_id == sg->area_id) {
		snprintf(why, len,
			 "word %#" PRIx64 ": expected our tag %#" PRIx64
			 " written into alloc#%u, found %#" PRIx64 " %#" PRIx64,
			 gpa, t->tag, t->area_id, w[0], w[1]);
		return w[0] == t->tag && w[1] == gpa;
	}
	if (t) {
		snprintf(why, len,
			 "word %#" PRIx64 ": alloc#%u replaced alloc#%u "
			 "since we wrote: expected zeros, found %#" PRIx64
			 " %#" PRIx64,
			 gpa, sg->area_id, t->area_id, w[0], w[1]);
		return !w[0] && !w[1];
	}
	snprintf(why, len,
		 "word %#" PRIx64 ": expected zeros or a tag of ours for it, "
		 "found %#" PRIx64 " %#" PRIx64,
		 gpa, w[0], w[1]);
	return (!w[0] && !w[1]) || is_tag(w[0], w[1], c->id, gpa);
}

static bool data_ok(struct vcpu_ctx *c, const struct seg *sg, uint64_t gpa,
		    const uint8_t *buf, size_t len, char *why, size_t wlen)
{
	if (sg->kind == SEG_LINEAR) {
		uint64_t hpa = sg->hpa + (gpa - sg->start);

		snprintf(why, wlen,
			 "bytes differ from host memory at hpa %#" PRIx64, hpa);
		return !memcmp(buf, hal_va(hpa), len);
	}
	for (size_t off = 0; off < len; off += 16)
		if (!word_ok(c, sg, gpa + off, buf + off, why, wlen))
			return false;
	return true;
}

static void check_read(struct vcpu_ctx *c, const struct window *w, uint64_t gpa,
		       int rc, const uint8_t *buf, size_t len)
{
	char why[MAX_CANDS][WHY_LEN], obs[96];

	for (unsigned i = 0; i < w->n; i++) {
		const struct seg *sg = st_find(&w->st[i], gpa);

		if (!oracle_host_access(&w->st[i], gpa, rc, why[i], WHY_LEN))
			continue;
		if (rc || data_ok(c, sg, gpa, buf, len, why[i], WHY_LEN))
			return;
	}
	snprintf(obs, sizeof(obs), "rc=%d, %zu bytes read", rc, len);
	report(c, w, gpa, "read", obs, why);
}

static void op_read(struct vcpu_ctx *c, struct slot *s, uint64_t gpa,
		    size_t len)
{
	static _Thread_local uint8_t buf[PAGE];
	struct window w;
	int rc;

	window_open(&w, s);
	rc = aspace_vcpu_read(c->v, gpa, buf, len);
	window_close(&w);
	count_window(c, &w);
	if (!window_stable(&w))
		suspect(c, s, gpa);
	if (w.verifiable)
		check_read(c, &w, gpa, rc, buf, len);
}

/* A write landed we do not know where: forget what we knew there. */
static void track_forget(struct vcpu_ctx *c, uint64_t gpa, int rc)
{
	struct track *t = track_slot(c, gpa);

	if (!rc && t->valid && t->gpa == gpa)
		t->valid = false;
}

static void track_write(struct vcpu_ctx *c, const struct window *w,
			uint64_t gpa, uint64_t tag, int rc)
{
	struct track *t = track_slot(c, gpa);
	const struct seg *sg;

	if (!window_stable(w)) {
		track_forget(c, gpa, rc);
		return;
	}
	if (rc)
		return; /* a failed call changed nothing */
	sg = st_find(&w->st[0], gpa);
	if (sg && sg->kind == SEG_ALLOC)
		*t = (struct track){.gpa = gpa,
				    .tag = tag,
				    .area_id = sg->area_id,
				    .valid = true};
}

static void op_write(struct vcpu_ctx *c, struct slot *s, uint64_t gpa)
{
	char why[MAX_CANDS][WHY_LEN], obs[32];
	uint64_t data[2] = {make_tag(c), gpa};
	struct window w;
	int rc;

	window_open(&w, s);
	rc = aspace_vcpu_write(c->v, gpa, data, sizeof(data));
	window_close(&w);
	c->n.write++;
	count_window(c, &w);
	if (!window_stable(&w))
		suspect(c, s, gpa);
	if (!w.verifiable) {
		track_forget(c, gpa, rc);
		return;
	}
	for (unsigned i = 0; i < w.n; i++)
		if (oracle_host_access(&w.st[i], gpa, rc, why[i], WHY_LEN))
			goto ok;
	snprintf(obs, sizeof(obs), "rc=%d", rc);
	report(c, &w, gpa, "write", obs, why);
	return;
ok:
	track_write(c, &w, gpa, data[0], rc);
}

/* Read back a word we remember, from wherever the track table has one. */
static void op_readback(struct vcpu_ctx *c)
{
	struct run *r = c->r;

	for (int tries = 0; tries < 8; tries++) {
		const struct track *t = &c->track[rng_below(&c->rng, TRACK_N)];

		if (!t->valid)
			continue;
		for (unsigned i = 0; i < r->nslots; i++) {
			struct slot *s = &r->slots[i];

			if (t->gpa >= s->gpa && t->gpa - s->gpa < s->size) {
				c->n.readback++;
				op_read(c, s, t->gpa, 16);
				return;
			}
		}
	}
}

static void op_outside(struct vcpu_ctx *c)
{
	const struct oracle *o = &c->r->oracle;
	struct aspace_xlate xl;
	uint64_t gpa = o->win_base + o->win_size;
	int rc;

	if (o->win_base >= PAGE && rng_pct(&c->rng, 50))
		gpa = o->win_base - PAGE;
	c->n.outside++;
	if (rng_pct(&c->rng, 50)) {
		rc = aspace_vcpu_translate(c->v, gpa, &xl);
		if (rc != -EINVAL)
			stress_violation("vcpu %u translate gpa=%#" PRIx64
					 " outside the window: rc=%d, expected "
					 "-EINVAL",
					 c->id, gpa, rc);
		return;
	}
	rc = aspace_vcpu_fault(c->v, gpa, ASPACE_READ);
	if (rc != o->real_fault_rc)
		stress_violation("vcpu %u fault gpa=%#" PRIx64
				 " outside the window: rc=%d, expected %d",
				 c->id, gpa, rc, o->real_fault_rc);
}

static void op_data(struct vcpu_ctx *c, struct slot *s, uint64_t gpa,
		    uint64_t roll)
{
	if (!own_page(c, s, &gpa)) {
		op_translate(c, s, gpa);
		return;
	}
	if (roll < 75) {
		c->n.read++;
		op_read(c, s, gpa + 16 * rng_below(&c->rng, PAGE / 16), 16);
	} else if (roll < 90) {
		op_write(c, s, gpa + 16 * rng_below(&c->rng, PAGE / 16));
	} else if (roll < 97) {
		op_readback(c);
	} else {
		c->n.scan++;
		op_read(c, s, gpa, PAGE);
	}
}

static void recheck(struct vcpu_ctx *c)
{
	unsigned i = (unsigned)rng_below(&c->rng, c->nsuspects);
	struct slot *s = c->suspect[i].s;
	uint64_t gpa = c->suspect[i].gpa;

	c->suspect[i] = c->suspect[--c->nsuspects];
	c->n.recheck++;
	op_translate(c, s, gpa & ~(PAGE - 1));
}

static void vcpu_step(struct vcpu_ctx *c)
{
	struct slot *s = pick_slot(c);
	uint64_t gpa = pick_gpa(c, s);
	uint64_t roll = rng_below(&c->rng, 1000);

	if (c->nsuspects && rng_pct(&c->rng, 20))
		recheck(c);
	else if (roll < 5)
		op_outside(c);
	else if (roll < 300)
		op_translate(c, s, gpa);
	else if (roll < 600)
		op_fault(c, s, gpa);
	else
		op_data(c, s, gpa, (roll - 600) / 4);
}

/* Stand for a halted vCPU: offline, so that grace periods go on. */
static void idle(struct vcpu_ctx *c)
{
	struct timespec ts = {0, 20000};

	aspace_vcpu_offline(c->v);
	if (rng_pct(&c->rng, 50))
		nanosleep(&ts, NULL);
	else
		sched_yield();
	aspace_vcpu_online(c->v);
	c->n.idle++;
}

/* vCPU hot-unplug and plug: the cache drains while others run on. */
static bool replug(struct vcpu_ctx *c)
{
	aspace_vcpu_detach(c->v);
	c->v = aspace_vcpu_attach(c->r->as);
	if (!c->v)
		stress_violation("vcpu %u: re-attach failed (errno %d)", c->id,
				 errno);
	c->n.replug++;
	return c->v != NULL;
}

static bool running(struct run *r)
{
	return !atomic_load_explicit(&r->stop, memory_order_relaxed) &&
	       !stress_failed();
}

void *vcpu_thread(void *arg)
{
	struct vcpu_ctx *c = arg;
	uint64_t ops = 0;

	c->v = aspace_vcpu_attach(c->r->as);
	if (!c->v) {
		stress_violation("vcpu %u: attach failed (errno %d)", c->id,
				 errno);
		pthread_barrier_wait(c->start);
		return NULL;
	}
	aspace_vcpu_offline(c->v);
	pthread_barrier_wait(c->start);
	aspace_vcpu_online(c->v);
	while (running(c->r)) {
		vcpu_step(c);
		quiesce(c);
		atomic_store_explicit(&c->ops, ++ops, memory_order_relaxed);
		if (rng_below(&c->rng, 512) == 0)
			idle(c);
		if (rng_below(&c->rng, 16384) == 0 && !replug(c))
			return NULL;
	}
	aspace_vcpu_detach(c->v);
	return NULL;
}
