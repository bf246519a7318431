// SPDX-License-Identifier: MIT
/*
 * Translation: aspace_vcpu_translate (lock-free) and aspace_translate (the
 * control path, under the address space mutex) over linear regions mapped
 * with 4 KiB, 2 MiB or 1 GiB leaves, beside their floor: a pointer chase
 * through a radix tree of plain memory with the same levels, the same root
 * width and the same indices, so the ratio shows what the library adds to
 * the loads a walk cannot avoid. Independent random GPAs let the CPU
 * overlap walks (throughput); a chain makes each GPA depend on the last
 * result (latency).
 */
#include "bench_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Where the regions live in the guest and (fake) host address spaces. */
#define XLATE_GPA (64 * GiB)
#define XLATE_HPA (64 * GiB)
/* A hot set: this many leaves, all cached after the first pass. */
#define HOT_LEAVES 64

struct xlate_case {
	const struct bench_format *fmt;
	enum bench_leaf leaf;
	bool cold;
	enum xlate_order {
		ORDER_RANDOM, /* independent random GPAs: walks overlap */
		ORDER_SEQ,    /* 4 KiB steps */
		ORDER_CHAIN, /* random, each GPA depending on the last result */
	} order;
	bool control; /* aspace_translate instead of the vCPU call */
	struct bench_shared shared;
	enum aspace_rcu rcu;
};

static uint64_t region_size(const struct xlate_case *c)
{
	if (!c->cold)
		return HOT_LEAVES * bench_leaf_size[c->leaf];
	return c->leaf == LEAF_1G ? 512 * GiB : 1 * GiB;
}

/*
 * An HPA aligned to the leaf size but not to the next one up, so that
 * map_linear has to use exactly the leaves asked for. Translation never
 * dereferences it, so no host memory backs it.
 */
static uint64_t region_hpa(const struct xlate_case *c)
{
	return c->leaf == LEAF_1G ? XLATE_HPA
				  : XLATE_HPA + bench_leaf_size[c->leaf];
}

static const char *const order_names[] = {"random", "seq", "chain"};

/* The GPAs a run visits; translate and floor use the same sequence. */
struct gpa_gen {
	enum xlate_order order;
	uint64_t rng, i, mask, hpa_base;
	uint64_t off; /* of the last GPA */
	uint64_t dep; /* chain: 0, but only known once the last walk ended */
};

static void gen_init(struct gpa_gen *g, const struct xlate_case *c,
		     unsigned thread)
{
	*g = (struct gpa_gen){.order = c->order,
			      .rng = bench_seed(thread),
			      .mask = region_size(c) - 1,
			      .hpa_base = region_hpa(c)};
}

static inline uint64_t gen_next(struct gpa_gen *g)
{
	if (g->order == ORDER_SEQ)
		g->off = g->i++ * ASPACE_PAGE_SIZE & g->mask;
	else
		g->off = (bench_rand(&g->rng) + g->dep) & g->mask;
	return XLATE_GPA + g->off;
}

/*
 * A chain makes the next GPA wait for this result: latency instead of
 * throughput. The difference is 0 for a right answer, but the CPU cannot
 * know that before the walk is done.
 */
static inline void gen_result(struct gpa_gen *g, uint64_t hpa)
{
	if (g->order == ORDER_CHAIN)
		g->dep = hpa - g->hpa_base - g->off;
}

static void *xlate_setup(void *arg, int threads)
{
	const struct xlate_case *c = arg;
	struct aspace *as;

	if (bench_create_with(c->fmt, false, ASPACE_ZERO_AUTO, c->rcu, &as))
		return NULL;
	if (aspace_map_linear(as, XLATE_GPA, region_hpa(c), region_size(c),
			      ASPACE_READ | ASPACE_WRITE)) {
		aspace_destroy(as);
		return NULL;
	}
	return as;
}

static void xlate_teardown(void *obj)
{
	aspace_destroy(obj);
}

/* The walk must end at the leaf size and HPA the mapping promised. */
static int check_translation(const struct xlate_case *c, struct aspace *as)
{
	uint64_t rng = bench_seed(99), mask = region_size(c) - 1;
	struct aspace_xlate x;

	for (int i = 0; i < 64; i++) {
		uint64_t off = bench_rand(&rng) & mask;
		int rc = aspace_translate(as, XLATE_GPA + off, &x);

		if (rc)
			return rc;
		if (x.hpa != region_hpa(c) + off ||
		    x.leaf_size != bench_leaf_size[c->leaf])
			return -EPROTO;
	}
	return 0;
}

static void bm_translate(gb_state *st, void *arg)
{
	struct xlate_case *c = arg;
	struct aspace *as = bench_shared_get(&c->shared, xlate_setup, c,
					     gb_thread_count(st));
	struct aspace_vcpu *vcpu = NULL;
	struct aspace_xlate x = {0};
	uint64_t acc = 0, n;
	struct gpa_gen g;
	int bad = 0;

	if (!as) {
		bench_failed(st, -ENOMEM, "map_linear");
		goto fail;
	}
	if (gb_thread_index(st) == 0 &&
	    bench_failed(st, check_translation(c, as), "translate check"))
		goto fail;
	if (!c->control && !(vcpu = aspace_vcpu_attach(as))) {
		bench_failed(st, -errno, "vcpu_attach");
		goto fail;
	}
	gen_init(&g, c, (unsigned)gb_thread_index(st));
	n = gb_max_iterations(st);
	if (c->control) {
		while (gb_keep_running_batch(st, n))
			for (uint64_t k = 0; k < n; k++) {
				bad |= aspace_translate(as, gen_next(&g), &x);
				gen_result(&g, x.hpa);
				acc += x.hpa;
			}
	} else {
		while (gb_keep_running_batch(st, n))
			for (uint64_t k = 0; k < n; k++) {
				bad |= aspace_vcpu_translate(vcpu, gen_next(&g),
							     &x);
				gen_result(&g, x.hpa);
				acc += x.hpa;
			}
	}
	gb_keep_u64(acc);
	if (c->control)
		gb_set_label(st, "mutex baseline");
	bench_failed(st, bad, "translate");
	gb_set_items_processed(st, (int64_t)gb_iterations(st));
	goto out;
fail:
	bench_drain(st);
out:
	if (vcpu)
		aspace_vcpu_detach(vcpu);
	bench_shared_put(&c->shared, xlate_teardown);
}

/* The floor: a radix tree of plain memory shaped like the page table. */
struct floor_tree {
	uint64_t *root;
	unsigned depth; /* loads per lookup */
	unsigned shift[6];
	uint64_t mask[6];
	uint64_t offset_mask;
	void **tables;
	size_t ntables, cap;
};

static inline uint64_t floor_walk(const struct floor_tree *f, uint64_t gpa)
{
	const uint64_t *t = f->root;
	unsigned l;

	for (l = 0; l + 1 < f->depth; l++)
		t = (const uint64_t *)(uintptr_t)
			t[(gpa >> f->shift[l]) & f->mask[l]];
	return t[(gpa >> f->shift[l]) & f->mask[l]] + (gpa & f->offset_mask);
}

static uint64_t *floor_table(struct floor_tree *f, size_t bytes)
{
	uint64_t *t = aligned_alloc(ASPACE_PAGE_SIZE, bytes);

	if (!t)
		abort();
	memset(t, 0, bytes);
	if (f->ntables == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->tables = realloc(f->tables, f->cap * sizeof(*f->tables));
		if (!f->tables)
			abort();
	}
	f->tables[f->ntables++] = t;
	return t;
}

static void floor_insert(struct floor_tree *f, uint64_t gpa, uint64_t hpa)
{
	uint64_t *t = f->root;
	unsigned l;

	for (l = 0; l + 1 < f->depth; l++) {
		uint64_t *e = &t[(gpa >> f->shift[l]) & f->mask[l]];

		if (!*e)
			*e = (uintptr_t)floor_table(f, ASPACE_PAGE_SIZE);
		t = (uint64_t *)(uintptr_t)*e;
	}
	t[(gpa >> f->shift[l]) & f->mask[l]] = hpa;
}

/*
 * The tree for case c: the walk depth and root width come from the
 * library's own description of the format (aspace_hw_root), the leaves
 * from the region the translate benchmark maps.
 */
static int floor_build(const struct xlate_case *c, struct floor_tree *f)
{
	uint64_t leaf = bench_leaf_size[c->leaf], size = region_size(c);
	struct aspace_hw_root hw;
	struct aspace *as;
	int rc;

	memset(f, 0, sizeof(*f));
	rc = bench_create(c->fmt, false, &as);
	if (rc)
		return rc;
	rc = aspace_hw_root(as, &hw);
	aspace_destroy(as);
	if (rc)
		return rc;
	f->depth = hw.levels - c->leaf;
	for (unsigned l = 0; l < f->depth; l++) {
		unsigned level = hw.levels - 1 - l; /* 0 = the 4 KiB level */

		f->shift[l] = 12 + 9 * level;
		f->mask[l] = l ? 511 : hw.root_size / 8 - 1;
	}
	f->offset_mask = leaf - 1;
	f->root = floor_table(f, hw.root_size);
	for (uint64_t off = 0; off < size; off += leaf)
		floor_insert(f, XLATE_GPA + off, region_hpa(c) + off);
	return 0;
}

static void floor_free(struct floor_tree *f)
{
	for (size_t i = 0; i < f->ntables; i++)
		free(f->tables[i]);
	free(f->tables);
}

static void bm_floor(gb_state *st, void *arg)
{
	const struct xlate_case *c = arg;
	uint64_t mask = region_size(c) - 1, acc = 0, n, probe;
	struct floor_tree f;
	struct gpa_gen g;

	if (bench_failed(st, floor_build(c, &f), "floor set-up")) {
		bench_drain(st);
		return;
	}
	probe = XLATE_GPA + (mask & 0x123456789ull);
	if (floor_walk(&f, probe) != region_hpa(c) + (probe - XLATE_GPA)) {
		gb_skip_with_error(st, "floor tree walks to the wrong address");
		bench_drain(st);
		floor_free(&f);
		return;
	}
	gen_init(&g, c, 0);
	n = gb_max_iterations(st);
	while (gb_keep_running_batch(st, n))
		for (uint64_t k = 0; k < n; k++) {
			uint64_t hpa = floor_walk(&f, gen_next(&g));

			gen_result(&g, hpa);
			acc += hpa;
		}
	gb_keep_u64(acc);
	gb_set_items_processed(st, (int64_t)gb_iterations(st));
	floor_free(&f);
}

/*
 * Translate and floor in alternating blocks of one run: both see the same
 * machine, so their ratio holds up on a busy host where two separate runs
 * a few seconds apart may not. Blocks are long (a few ms) so that each
 * structure is mostly back in the caches after the other ran, and timed by
 * the thread's CPU clock so that time spent descheduled counts for
 * neither. Reports both times per lookup and the ratio.
 */
#define PAIR_BLOCK 65536

static uint64_t translate_block(struct aspace_vcpu *vcpu, struct gpa_gen *g,
				int *bad)
{
	struct aspace_xlate x = {0};
	uint64_t acc = 0;

	for (unsigned j = 0; j < PAIR_BLOCK; j++) {
		*bad |= aspace_vcpu_translate(vcpu, gen_next(g), &x);
		gen_result(g, x.hpa);
		acc += x.hpa;
	}
	return acc;
}

static uint64_t floor_block(const struct floor_tree *f, struct gpa_gen *g)
{
	uint64_t acc = 0;

	for (unsigned j = 0; j < PAIR_BLOCK; j++) {
		uint64_t hpa = floor_walk(f, gen_next(g));

		gen_result(g, hpa);
		acc += hpa;
	}
	return acc;
}

static void bm_pair(gb_state *st, void *arg)
{
	struct xlate_case *c = arg;
	struct aspace *as = xlate_setup(c, 1);
	uint64_t t_ns = 0, f_ns = 0, acc = 0, n, ops;
	struct aspace_vcpu *vcpu = NULL;
	struct gpa_gen gt, gf;
	struct floor_tree f;
	int rc = as ? check_translation(c, as) : -ENOMEM, bad = 0;

	if (!rc && !(vcpu = aspace_vcpu_attach(as)))
		rc = -errno;
	if (!rc)
		rc = floor_build(c, &f);
	if (bench_failed(st, rc, "pair set-up")) {
		bench_drain(st);
		goto out;
	}
	gen_init(&gt, c, 0);
	gen_init(&gf, c, 0);
	n = gb_max_iterations(st);
	while (gb_keep_running_batch(st, n))
		for (uint64_t k = 0; k < n; k++) {
			uint64_t t0 = bench_cpu_ns(), t1, t2;

			acc += translate_block(vcpu, &gt, &bad);
			t1 = bench_cpu_ns();
			acc += floor_block(&f, &gf);
			t2 = bench_cpu_ns();
			t_ns += t1 - t0;
			f_ns += t2 - t1;
		}
	gb_keep_u64(acc);
	bench_failed(st, bad, "translate");
	ops = gb_iterations(st) * PAIR_BLOCK;
	if (ops && f_ns) {
		gb_counter(st, "translate_ns", (double)t_ns / (double)ops,
			   GB_COUNTER_PLAIN);
		gb_counter(st, "floor_ns", (double)f_ns / (double)ops,
			   GB_COUNTER_PLAIN);
		gb_counter(st, "ratio", (double)t_ns / (double)f_ns,
			   GB_COUNTER_PLAIN);
	}
	floor_free(&f);
out:
	if (vcpu)
		aspace_vcpu_detach(vcpu);
	if (as)
		xlate_teardown(as);
}

static struct xlate_case *new_case(const struct bench_format *fmt,
				   enum bench_leaf leaf, bool cold,
				   enum xlate_order order, bool control)
{
	struct xlate_case *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	*c = (struct xlate_case){.fmt = fmt,
				 .leaf = leaf,
				 .cold = cold,
				 .order = order,
				 .control = control,
				 .shared = BENCH_SHARED_INIT,
				 .rcu = ASPACE_RCU_MEMB};
	return c;
}

static void register_ratio(const struct bench_format *fmt, enum bench_leaf leaf,
			   bool cold, enum xlate_order order, int reps,
			   enum aspace_rcu rcu)
{
	struct xlate_case *c = new_case(fmt, leaf, cold, order, false);
	gb_bench *b;

	c->rcu = rcu;
	b = bench_register(bm_pair, c, "xlate_ratio/%s/%s/%s/%s%s", fmt->name,
			   bench_leaf_name[leaf], cold ? "cold" : "hot",
			   order_names[order],
			   rcu == ASPACE_RCU_QSBR ? "_qsbr" : "");
	if (reps > 1)
		gb_display_aggregates_only(gb_repetitions(b, reps));
}

/* One translate benchmark and its floor; key ones repeat for a median. */
static void register_pair(const struct bench_format *fmt, enum bench_leaf leaf,
			  bool cold, enum xlate_order order, int reps)
{
	struct xlate_case *c = new_case(fmt, leaf, cold, order, false);
	const char *set = cold ? "cold" : "hot";
	gb_bench *t, *f;

	t = bench_register(bm_translate, c, "translate/%s/%s/%s/%s", fmt->name,
			   bench_leaf_name[leaf], set, order_names[order]);
	f = bench_register(bm_floor, c, "floor/%s/%s/%s/%s", fmt->name,
			   bench_leaf_name[leaf], set, order_names[order]);
	if (reps > 1)
		for (gb_bench *b = t; b; b = b == t ? f : NULL)
			gb_display_aggregates_only(gb_repetitions(b, reps));
}

void bench_register_translate(int reps)
{
	const struct bench_format *ept4 = bench_format_by_name("EPT4");

	/* The full matrix on EPT4 (latency chains for the cold sets). */
	for (int leaf = LEAF_4K; leaf <= LEAF_1G; leaf++)
		for (int cold = 1; cold >= 0; cold--)
			for (int o = ORDER_RANDOM; o <= ORDER_CHAIN; o++)
				if (o != ORDER_CHAIN || cold)
					register_pair(
						ept4, leaf, cold, o,
						leaf != LEAF_1G && cold &&
								o != ORDER_SEQ
							? reps
							: 1);
	/*
	 * Every other format: the cases the goals quote, run once (their
	 * repeated, interleaved xlate_ratio runs below carry the verdicts).
	 */
	for (unsigned i = 0; i < bench_nformats; i++) {
		const struct bench_format *fmt = &bench_formats[i];

		if (fmt == ept4)
			continue;
		register_pair(fmt, LEAF_4K, true, ORDER_RANDOM, 1);
		register_pair(fmt, LEAF_4K, true, ORDER_CHAIN, 1);
		register_pair(fmt, LEAF_2M, true, ORDER_RANDOM, 1);
	}
	/* The goal ratios, translate and floor interleaved in one run. */
	for (unsigned i = 0; i < bench_nformats; i++)
		for (int o = ORDER_RANDOM; o <= ORDER_CHAIN; o += 2)
			register_ratio(&bench_formats[i], LEAF_4K, true, o,
				       reps, ASPACE_RCU_MEMB);
	for (int leaf = LEAF_2M; leaf <= LEAF_1G; leaf++)
		for (int o = ORDER_RANDOM; o <= ORDER_CHAIN; o += 2)
			register_ratio(ept4, leaf, true, o, reps,
				       ASPACE_RCU_MEMB);
	register_ratio(ept4, LEAF_4K, false, ORDER_RANDOM, reps,
		       ASPACE_RCU_MEMB);
	/* The throughput ones again with QSBR: no read-side instructions. */
	for (unsigned i = 0; i < bench_nformats; i++)
		register_ratio(&bench_formats[i], LEAF_4K, true, ORDER_RANDOM,
			       reps, ASPACE_RCU_QSBR);
	for (int leaf = LEAF_2M; leaf <= LEAF_1G; leaf++)
		register_ratio(ept4, leaf, true, ORDER_RANDOM, reps,
			       ASPACE_RCU_QSBR);
	/* The same walks with QSBR: read sections cost nothing. */
	for (int leaf = LEAF_4K; leaf <= LEAF_2M; leaf++) {
		struct xlate_case *c =
			new_case(ept4, leaf, true, ORDER_RANDOM, false);

		gb_bench *b;

		c->rcu = ASPACE_RCU_QSBR;
		b = bench_register(bm_translate, c,
				   "translate/EPT4/%s/cold/random_qsbr",
				   bench_leaf_name[leaf]);
		if (reps > 1)
			gb_display_aggregates_only(gb_repetitions(b, reps));
	}
	/* The control path, under the address space mutex. */
	bench_register(bm_translate,
		       new_case(ept4, LEAF_4K, true, ORDER_RANDOM, true),
		       "translate_control/EPT4/4k/cold/random");
}

/* Thread scaling: 1..8 vCPU threads on one address space, and the mutex. */
void bench_register_translate_scaling(int reps)
{
	const struct bench_format *ept4 = bench_format_by_name("EPT4");

	for (int control = 0; control <= 1; control++) {
		struct xlate_case *c =
			new_case(ept4, LEAF_4K, true, ORDER_RANDOM, control);
		gb_bench *b = bench_register(bm_translate, c,
					     "scale_translate/EPT4/%s",
					     control ? "mutex" : "lockfree");

		gb_use_real_time(b);
		for (int t = 1; t <= 8; t *= 2)
			gb_threads(b, t);
		if (reps > 1)
			gb_display_aggregates_only(gb_repetitions(b, reps));
	}
}
