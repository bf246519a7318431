/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure at every point: for N = 1, 2, 3... the N-th HAL
 * allocation of an operation fails (alone, or with every later one) until
 * the operation succeeds. A failing call must return -ENOMEM and leave
 * everything as it was: every table entry (reference walker), the memory
 * the leaves map, aspace_translate results, stats and the frames the HAL
 * has handed out. A succeeding call must have done its job. Nothing may
 * leak by the time the address space is destroyed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcommon.h"

#define RW (ASPACE_READ | ASPACE_WRITE)
#define RWX (RW | ASPACE_EXEC)
#define MAX_TRIES 300

struct sc {
	struct t_as t;
	aspace_gpa_t g; /* where the scenario works, 1 GiB aligned */
	aspace_hpa_t h; /* linear host memory, 1 GiB aligned */
	aspace_gpa_t probes[64];
	size_t np;
	uint8_t pattern[64];
	struct aspace *clone; /* destroyed with the space */
};

struct scenario {
	const char *name;
	bool needs_1g;
	void (*setup)(struct sc *s);
	int (*op)(struct sc *s);
	void (*verify)(struct sc *s); /* after the op succeeded */
};

static void must(int ret, const char *what)
{
	T_ASSERT(!ret, "setup: %s returned %d", what, ret);
}

static void probe(struct sc *s, aspace_gpa_t gpa)
{
	if (s->np < sizeof(s->probes) / sizeof(s->probes[0]))
		s->probes[s->np++] = gpa;
}

static void probe_around(struct sc *s, aspace_gpa_t gpa)
{
	probe(s, gpa - PAGE);
	probe(s, gpa);
	probe(s, gpa + PAGE);
}

/* What translate must say at gpa after success. */
static void expect_xlate(struct sc *s, const char *name, aspace_gpa_t gpa,
			 aspace_hpa_t hpa, uint64_t leaf, unsigned perm)
{
	struct aspace_xlate x;
	int ret = aspace_translate(s->t.as, gpa, &x);

	if (ret) {
		t_err("%s: translate(%#llx) = %d after success", name,
		      (unsigned long long)gpa, ret);
		return;
	}
	T_EXPECT(!hpa || x.hpa == hpa, "%s: gpa %#llx maps %#llx, want %#llx",
		 name, (unsigned long long)gpa, (unsigned long long)x.hpa,
		 (unsigned long long)hpa);
	T_EXPECT(!leaf || x.leaf_size == leaf,
		 "%s: gpa %#llx leaf %#llx, want %#llx", name,
		 (unsigned long long)gpa, (unsigned long long)x.leaf_size,
		 (unsigned long long)leaf);
	T_EXPECT((x.flags & ASPACE_PERM_MASK) == perm,
		 "%s: gpa %#llx flags %#x, want %#x", name,
		 (unsigned long long)gpa, x.flags, perm);
}

static void expect_absent(struct sc *s, const char *name, aspace_gpa_t gpa)
{
	struct aspace_xlate x;
	int ret = aspace_translate(s->t.as, gpa, &x);

	T_EXPECT(ret == -ENOENT, "%s: translate(%#llx) = %d, want -ENOENT",
		 name, (unsigned long long)gpa, ret);
}

static void expect_bytes(struct sc *s, const char *name, aspace_gpa_t gpa,
			 const void *want, size_t len)
{
	uint8_t buf[64];

	T_EXPECT(!aspace_read(s->t.as, gpa, buf, len) &&
			 !memcmp(buf, want, len),
		 "%s: bytes at %#llx changed", name, (unsigned long long)gpa);
}

/* ---- scenarios ---- */

static void setup_nothing(struct sc *s)
{
	(void)s;
}

/* 4 KiB leaves (the host address is 4 KiB aligned only) over two PTs. */
static int op_linear_4k(struct sc *s)
{
	return aspace_map_linear(s->t.as, s->g + 2 * MIB - 2 * PAGE,
				 s->h + PAGE, 2 * MIB + 4 * PAGE, RW);
}

static void verify_linear_4k(struct sc *s)
{
	aspace_gpa_t g = s->g + 2 * MIB - 2 * PAGE;

	for (uint64_t off = 0; off < 2 * MIB + 4 * PAGE; off += 511 * PAGE)
		expect_xlate(s, "linear 4k", g + off, s->h + PAGE + off, PAGE,
			     RW);
	expect_xlate(s, "linear 4k", g + 2 * MIB + 3 * PAGE,
		     s->h + PAGE + 2 * MIB + 3 * PAGE, PAGE, RW);
}

/* One of each leaf size. */
static int op_linear_mixed(struct sc *s)
{
	return aspace_map_linear(s->t.as, s->g, s->h, GIB + 2 * MIB + PAGE,
				 RWX);
}

static void verify_linear_mixed(struct sc *s)
{
	expect_xlate(s, "linear mixed", s->g + 5 * PAGE, s->h + 5 * PAGE, GIB,
		     RWX);
	expect_xlate(s, "linear mixed", s->g + GIB, s->h + GIB, 2 * MIB, RWX);
	expect_xlate(s, "linear mixed", s->g + GIB + 2 * MIB,
		     s->h + GIB + 2 * MIB, PAGE, RWX);
}

static int op_populate(struct sc *s)
{
	return aspace_map_alloc(s->t.as, s->g + 2 * MIB - PAGE,
				4 * MIB + 2 * PAGE, RW, true);
}

static void verify_populate(struct sc *s)
{
	static const uint8_t zero[64];

	for (uint64_t off = 0; off < 4 * MIB + 2 * PAGE; off += 257 * PAGE) {
		expect_xlate(s, "populate", s->g + 2 * MIB - PAGE + off, 0, 0,
			     RW);
		expect_bytes(s, "populate", s->g + 2 * MIB - PAGE + off, zero,
			     sizeof(zero));
	}
}

static void setup_lazy_small(struct sc *s)
{
	must(aspace_map_alloc(s->t.as, s->g, 4 * PAGE, RW, false), "map_alloc");
}

static int op_fault_4k(struct sc *s)
{
	return aspace_handle_fault(s->t.as, s->g + PAGE, ASPACE_WRITE);
}

static void verify_fault_4k(struct sc *s)
{
	expect_xlate(s, "fault 4k", s->g + PAGE, 0, PAGE, RW);
	expect_absent(s, "fault 4k", s->g);
}

static void setup_lazy_big(struct sc *s)
{
	must(aspace_map_alloc(s->t.as, s->g, 4 * MIB, RW, false), "map_alloc");
}

static int op_fault_2m(struct sc *s)
{
	return aspace_handle_fault(s->t.as, s->g + 2 * MIB + 3 * PAGE,
				   ASPACE_READ);
}

static void verify_fault_2m(struct sc *s)
{
	/* 2 MiB unless the failed 2 MiB frame made it fall back to 4 KiB. */
	expect_xlate(s, "fault 2m", s->g + 2 * MIB + 3 * PAGE, 0, 0, RW);
	expect_absent(s, "fault 2m", s->g);
}

/* On -ENOMEM, lazy pages of the range may have been faulted in, zeroed. */
#define WRITE_LAZY_OFF (2 * MIB - 32)
#define WRITE_LAZY_LEN 64

static int op_write_lazy(struct sc *s)
{
	return aspace_write(s->t.as, s->g + WRITE_LAZY_OFF, s->pattern,
			    WRITE_LAZY_LEN);
}

static void verify_write_lazy(struct sc *s)
{
	expect_bytes(s, "write lazy", s->g + WRITE_LAZY_OFF, s->pattern,
		     WRITE_LAZY_LEN);
}

static void setup_linear_1g(struct sc *s)
{
	must(aspace_map_linear(s->t.as, s->g, s->h, GIB, RWX), "map_linear");
}

static int op_protect_1g(struct sc *s)
{
	return aspace_protect(s->t.as, s->g + 512 * MIB + PAGE, PAGE,
			      ASPACE_READ);
}

static void verify_protect_1g(struct sc *s)
{
	aspace_gpa_t g = s->g + 512 * MIB;

	expect_xlate(s, "protect 1g", g + PAGE, s->h + 512 * MIB + PAGE, PAGE,
		     ASPACE_READ);
	expect_xlate(s, "protect 1g", g, s->h + 512 * MIB, 0, RWX);
	expect_xlate(s, "protect 1g", g + 2 * PAGE, s->h + 512 * MIB + 2 * PAGE,
		     0, RWX);
	expect_xlate(s, "protect 1g", s->g + GIB - PAGE, s->h + GIB - PAGE, 0,
		     RWX);
}

static int op_unmap_1g(struct sc *s)
{
	return aspace_unmap(s->t.as, s->g + 512 * MIB + PAGE, PAGE);
}

static void verify_unmap_1g(struct sc *s)
{
	expect_absent(s, "unmap 1g", s->g + 512 * MIB + PAGE);
	expect_xlate(s, "unmap 1g", s->g + 512 * MIB, s->h + 512 * MIB, 0, RWX);
	expect_xlate(s, "unmap 1g", s->g + 512 * MIB + 2 * PAGE,
		     s->h + 512 * MIB + 2 * PAGE, 0, RWX);
	expect_xlate(s, "unmap 1g", s->g, s->h, 0, RWX);
}

/* A populated 2 MiB area, written so that a moved frame shows. */
static void setup_alloc_2m(struct sc *s)
{
	must(aspace_map_alloc(s->t.as, s->g, 2 * MIB, RW, true), "map_alloc");
	must(aspace_write(s->t.as, s->g + MIB - 32, s->pattern, 64), "write");
	must(aspace_write(s->t.as, s->g, s->pattern, 64), "write");
}

static int op_protect_2m(struct sc *s)
{
	return aspace_protect(s->t.as, s->g + MIB, PAGE, ASPACE_READ);
}

static void verify_protect_2m(struct sc *s)
{
	expect_xlate(s, "protect 2m", s->g + MIB, 0, PAGE, ASPACE_READ);
	expect_xlate(s, "protect 2m", s->g + MIB - PAGE, 0, 0, RW);
	expect_bytes(s, "protect 2m", s->g + MIB - 32, s->pattern, 64);
	expect_bytes(s, "protect 2m", s->g, s->pattern, 64);
}

static int op_unmap_2m(struct sc *s)
{
	return aspace_unmap(s->t.as, s->g + MIB, PAGE);
}

static void verify_unmap_2m(struct sc *s)
{
	expect_absent(s, "unmap 2m", s->g + MIB);
	expect_bytes(s, "unmap 2m", s->g + MIB - 32, s->pattern, 32);
	expect_bytes(s, "unmap 2m", s->g, s->pattern, 64);
}

static void setup_linear_2m(struct sc *s)
{
	must(aspace_map_linear(s->t.as, s->g, s->h, 2 * MIB, RW), "map_linear");
}

static int op_unmap_linear_2m(struct sc *s)
{
	return aspace_unmap(s->t.as, s->g + 2 * PAGE, PAGE);
}

static void verify_unmap_linear_2m(struct sc *s)
{
	expect_absent(s, "unmap linear 2m", s->g + 2 * PAGE);
	expect_xlate(s, "unmap linear 2m", s->g + 3 * PAGE, s->h + 3 * PAGE,
		     PAGE, RW);
	expect_xlate(s, "unmap linear 2m", s->g + 2 * MIB - PAGE,
		     s->h + 2 * MIB - PAGE, PAGE, RW);
}

/* A clone shares the populated frame and the background areas. */
static int op_clone(struct sc *s)
{
	return aspace_clone(s->t.as, &s->clone);
}

static void verify_clone(struct sc *s)
{
	struct aspace_xlate a, b;
	uint8_t buf[64];

	T_EXPECT(!aspace_translate(s->t.as, s->g + MIB, &a) &&
			 !aspace_translate(s->clone, s->g + MIB, &b) &&
			 a.hpa == b.hpa,
		 "clone: the populated frame is not shared");
	T_EXPECT(!aspace_read(s->clone, s->g + MIB - 32, buf, 64) &&
			 !memcmp(buf, s->pattern, 64),
		 "clone: contents differ");
}

/* Writing a shared 2 MiB frame copies it: that needs a frame. */
static void setup_cow(struct sc *s)
{
	setup_alloc_2m(s);
	must(aspace_clone(s->t.as, &s->clone), "clone");
}

static int op_cow_write(struct sc *s)
{
	return aspace_handle_fault(s->t.as, s->g + MIB, ASPACE_WRITE);
}

static void verify_cow_write(struct sc *s)
{
	struct aspace_xlate a, b;
	uint8_t buf[64];

	T_EXPECT(!aspace_translate(s->t.as, s->g + MIB, &a) &&
			 !aspace_translate(s->clone, s->g + MIB, &b) &&
			 a.hpa != b.hpa && (a.flags & ASPACE_WRITE),
		 "cow write: the frame was not copied");
	expect_bytes(s, "cow write", s->g + MIB - 32, s->pattern, 64);
	T_EXPECT(!aspace_write(s->t.as, s->g + MIB, "mine", 4) &&
			 !aspace_read(s->clone, s->g + MIB - 32, buf, 64) &&
			 !memcmp(buf, s->pattern, 64),
		 "cow write: a write reached the clone");
}

static const struct scenario scenarios[] = {
	{"map_linear, 4 KiB leaves", false, setup_nothing, op_linear_4k,
	 verify_linear_4k},
	{"map_linear, 1 GiB + 2 MiB + 4 KiB", true, setup_nothing,
	 op_linear_mixed, verify_linear_mixed},
	{"map_alloc populate", false, setup_nothing, op_populate,
	 verify_populate},
	{"lazy fault, 4 KiB", false, setup_lazy_small, op_fault_4k,
	 verify_fault_4k},
	{"lazy fault, 2 MiB", false, setup_lazy_big, op_fault_2m,
	 verify_fault_2m},
	{"write to lazy pages", false, setup_lazy_big, op_write_lazy,
	 verify_write_lazy},
	{"protect splits a 1 GiB block", true, setup_linear_1g, op_protect_1g,
	 verify_protect_1g},
	{"unmap splits a 1 GiB block", true, setup_linear_1g, op_unmap_1g,
	 verify_unmap_1g},
	{"protect splits a 2 MiB frame", false, setup_alloc_2m, op_protect_2m,
	 verify_protect_2m},
	{"unmap splits a 2 MiB frame", false, setup_alloc_2m, op_unmap_2m,
	 verify_unmap_2m},
	{"unmap splits a 2 MiB linear block", false, setup_linear_2m,
	 op_unmap_linear_2m, verify_unmap_linear_2m},
	{"clone", false, setup_alloc_2m, op_clone, verify_clone},
	{"copy-on-write break", false, setup_cow, op_cow_write,
	 verify_cow_write},
};

/* Other mappings around, so that collateral damage shows. */
static void background(struct sc *s)
{
	struct aspace *as = s->t.as;
	aspace_gpa_t b = s->g - GIB;

	must(aspace_map_linear(as, b, s->h + 3 * GIB, 2 * MIB, RW),
	     "bg linear");
	must(aspace_map_alloc(as, b + 4 * MIB, 8 * MIB, RW, false), "bg alloc");
	must(aspace_write(as, b + 4 * MIB + PAGE, "background", 10),
	     "bg write");
	must(aspace_map_alloc(as, s->g + 2 * GIB - 64 * KIB, 64 * KIB, RW,
			      true),
	     "bg populate");
	probe_around(s, b);
	probe_around(s, b + 4 * MIB + PAGE);
	probe_around(s, s->g + 2 * GIB - 64 * KIB);
}

static void build(struct sc *s, const struct t_fmt *f, aspace_gpa_t base,
		  bool direct, const struct scenario *c)
{
	struct t_as_opts o = {.fmt = *f, .base = base};

	memset(s, 0, sizeof(*s));
	o.hal.direct_map = direct;
	/* Frames come from the HAL one at a time, so every one can fail. */
	o.cache_batch = 1;
	t_as_create(&s->t, &o);
	s->g = base + 2 * GIB;
	s->h = test_hal_linear_base(s->t.hal);
	for (size_t i = 0; i < sizeof(s->pattern); i++)
		s->pattern[i] = (uint8_t)(i * 37 + 11);
	background(s);
	c->setup(s);
	probe_around(s, s->g);
	probe_around(s, s->g + MIB);
	probe_around(s, s->g + 2 * MIB);
	probe_around(s, s->g + 512 * MIB);
	probe_around(s, s->g + GIB);
	probe_around(s, s->g + GIB + 2 * MIB);
}

static bool leaf_hits(aspace_gpa_t gpa, uint64_t size, aspace_gpa_t lo,
		      aspace_gpa_t hi)
{
	return gpa < hi && lo < gpa + size;
}

/*
 * After a failed write: nothing written (the range reads as zeros, as its
 * lazy pages did), and leaves that appeared all cover pages of the range;
 * every other leaf and probe is as it was.
 */
static int cmp_failed_write(struct sc *s, const struct t_snapshot *a,
			    const struct t_snapshot *b, const char *what)
{
	aspace_gpa_t lo = (s->g + WRITE_LAZY_OFF) & ~(PAGE - 1);
	aspace_gpa_t hi = (s->g + WRITE_LAZY_OFF + WRITE_LAZY_LEN + PAGE - 1) &
			  ~(PAGE - 1);
	static const uint8_t zeros[WRITE_LAZY_LEN];
	size_t i = 0, j = 0;

	expect_bytes(s, what, s->g + WRITE_LAZY_OFF, zeros, WRITE_LAZY_LEN);
	while (i < a->nleaves || j < b->nleaves) {
		const struct t_snap_leaf *x =
			i < a->nleaves ? &a->leaves[i] : 0;
		const struct t_snap_leaf *y =
			j < b->nleaves ? &b->leaves[j] : 0;

		if (x && y && x->gpa == y->gpa && x->size == y->size &&
		    x->entry == y->entry && x->entry_hpa == y->entry_hpa) {
			i++, j++;
		} else if (y && (!x || y->gpa < x->gpa + x->size) &&
			   leaf_hits(y->gpa, y->size, lo, hi)) {
			j++; /* faulted in by the write */
		} else {
			t_err("%s: leaf at %#llx changed or vanished outside "
			      "the written range",
			      what, (unsigned long long)(x ? x->gpa : y->gpa));
			return 1;
		}
	}
	for (i = 0; i < a->nprobes && i < b->nprobes; i++) {
		if (a->xret[i] == -ENOENT && !b->xret[i] &&
		    leaf_hits(b->probes[i] & ~(b->xlate[i].leaf_size - 1),
			      b->xlate[i].leaf_size, lo, hi))
			continue;
		if (a->xret[i] != b->xret[i] ||
		    (!a->xret[i] &&
		     memcmp(&a->xlate[i], &b->xlate[i], sizeof(a->xlate[i])))) {
			t_err("%s: translate(%#llx) changed", what,
			      (unsigned long long)a->probes[i]);
			return 1;
		}
	}
	return 0;
}

/* Returns how many injected failures the op survived. */
static unsigned run_mode(const struct t_fmt *f, aspace_gpa_t base, bool direct,
			 const struct scenario *c, bool and_after)
{
	struct sc *s = calloc(1, sizeof(*s));
	struct t_snapshot before;
	char what[160];
	unsigned n;

	if (!s)
		abort();
	build(s, f, base, direct, c);
	t_snapshot(&s->t, &before, s->probes, s->np);
	for (n = 1; n <= MAX_TRIES; n++) {
		struct t_snapshot after;
		struct aspace_stats st;
		int ret;

		snprintf(what, sizeof(what), "%s: %s, allocation %u fails%s",
			 t_fmt_name(f), c->name, n,
			 and_after ? " onwards" : "");
		aspace_stats(s->t.as, &st);
		test_hal_fail_at(s->t.hal, n, and_after);
		ret = c->op(s);
		test_hal_fail_at(s->t.hal, 0, false);
		if (!ret) {
			T_EXPECT(n > 1 || !and_after || st.cache_frames,
				 "%s: succeeded without an allocation", what);
			c->verify(s);
			break;
		}
		T_EXPECT(ret == -ENOMEM, "%s: returned %d", what, ret);
		/* The state after a failure is the state before the next. */
		t_snapshot(&s->t, &after, s->probes, s->np);
		ret = c->op == op_write_lazy
			      ? cmp_failed_write(s, &before, &after, what)
			      : t_snapshot_cmp(&before, &after, what);
		t_snapshot_free(&before);
		before = after;
		if (ret)
			break; /* the state is off now */
	}
	t_snapshot_free(&before);
	T_EXPECT(n <= MAX_TRIES, "%s: never succeeded", what);
	if (s->clone)
		aspace_destroy(s->clone);
	t_as_destroy(&s->t);
	free(s);
	return n - 1;
}

int main(int argc, char **argv)
{
	const size_t nsc = sizeof(scenarios) / sizeof(scenarios[0]);
	unsigned long failures = 0, runs = 0;
	char what[96];

	t_init("test_alloc_fail", argc, argv);
	for (unsigned i = 0; i < t_nformats; i++) {
		const struct t_fmt *f = &t_formats[i];
		/* The scenarios need 4 GiB above the base. */
		aspace_gpa_t base =
			t_fmt_width(f->fmt, f->gpa_bits) > 34 && t_chance(50)
				? GIB
				: 0;
		bool has_1g = t_fmt_width(f->fmt, f->gpa_bits) > 34;

		for (size_t k = 0; k < nsc; k++) {
			if (scenarios[k].needs_1g && !has_1g)
				continue;
			for (int after = 0; after < 2; after++) {
				failures += run_mode(f, base, t_chance(50),
						     &scenarios[k], after);
				runs++;
			}
		}
	}
	snprintf(what, sizeof(what), "%lu failed allocations in %lu runs",
		 failures, runs);
	return t_finish("test_alloc_fail", what);
}
