/* SPDX-License-Identifier: MIT */
/*
 * The optional alloc_batch hook of struct aspace_hal, from both sides.
 *
 * The library: on a HAL whose batches are made of the test HAL's
 * allocations (logged), vCPU faults refill their cache with one batch call
 * and no single 4 KiB allocation, and use a batch's frames in the order
 * the batch lists them. A batch cut short at the N-th frame (that frame
 * alone refused, or it and every later one), for N = 1, 2, ... until the
 * operation succeeds: a vCPU fault, a control-path fault and a populating
 * map_alloc must fail with -ENOMEM and leave the tables, translations,
 * stats and memory as they were; the frames a short batch did hand out
 * either wait in a frame cache (faults) or go back to the HAL (map_alloc).
 * Nothing may be left with the HAL after destroy.
 *
 * The built-in host HAL, whose 4 KiB frames come from per-thread pools:
 * threads in waves allocate (singly and in batches), tag their frames,
 * pass them to other threads to check and free, and exit holding frames.
 * No frame may be handed out twice at once or be changed while out, and
 * frames of exited threads must be reused: the distinct frames ever
 * handed out stay within the peak outstanding plus what live threads may
 * hold. Frames freed in random order come back lowest first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tcommon.h"

#define RW (ASPACE_READ | ASPACE_WRITE)
#define MAX_TRIES 100
#define LOG_MAX (1u << 16)

/* ---- the library on a batch HAL ---- */

static struct {
	struct aspace_hal hal;
	const struct aspace_hal *inner;
	unsigned long batch_calls, single_4k;
	size_t nlog; /* every frame a batch handed out, in order */
	struct {
		aspace_hpa_t hpa;
		unsigned long batch;
		unsigned idx;
	} log[LOG_MAX];
} W;

static int w_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	if (size == PAGE)
		W.single_4k++;
	return W.inner->alloc(ctx, size, hpa);
}

static int w_alloc_batch(void *ctx, size_t size, aspace_hpa_t *hpa, unsigned n)
{
	unsigned i;

	W.batch_calls++;
	for (i = 0; i < n && !W.inner->alloc(ctx, size, &hpa[i]); i++) {
		if (W.nlog < LOG_MAX) {
			W.log[W.nlog].hpa = hpa[i];
			W.log[W.nlog].batch = W.batch_calls;
			W.log[W.nlog].idx = i;
			W.nlog++;
		}
	}
	return (int)i;
}

/* Where the log has hpa (the latest time it was handed out), or -1. */
static long log_find(aspace_hpa_t hpa)
{
	for (size_t i = W.nlog; i-- > 0;)
		if (W.log[i].hpa == hpa)
			return (long)i;
	return -1;
}

/* t_as_create, but on the batch HAL over the test HAL. */
static void batch_as_create(struct t_as *t, unsigned cache_batch)
{
	struct aspace_stats st;
	char err[256];
	struct test_hal_opts ho = {0};
	struct aspace_platform plat = {.no_block_2m = true,
				       .no_block_1g = true};

	memset(t, 0, sizeof(*t));
	memset(&W, 0, sizeof(W));
	ho.direct_map = t_chance(50);
	t->hal = test_hal_new(&ho);
	W.inner = test_hal_ops(t->hal);
	W.hal = *W.inner;
	W.hal.alloc = w_alloc;
	W.hal.alloc_batch = w_alloc_batch;
	t->cfg.format = ASPACE_FMT_EPT4;
	t->cfg.size = 1ull << 48;
	t->cfg.hal = &W.hal;
	t->cfg.platform = plat;
	t->cfg.cache_batch = cache_batch;
	T_ASSERT(!aspace_create(&t->cfg, &t->as), "aspace_create");
	T_ASSERT(!aspace_hw_root(t->as, &t->hw), "aspace_hw_root");
	if (ref_init(&t->w, ASPACE_FMT_EPT4, &t->hw, &plat, test_hal_read64,
		     t->hal, err, sizeof(err)))
		t_fail("hardware root rejected: %s", err);
	aspace_barrier(t->as);
	aspace_stats(t->as, &st);
	t->root_table_pages = st.table_pages;
	t->root_bytes = test_hal_bytes(t->hal) - st.cache_frames * PAGE;
}

static uint64_t cache_frames(struct t_as *t)
{
	struct aspace_stats st;

	aspace_stats(t->as, &st);
	return st.cache_frames;
}

/* The page at gpa is mapped, reads as zeros; returns its frame. */
static aspace_hpa_t expect_zero_page(struct t_as *t, aspace_gpa_t gpa,
				     const char *what)
{
	static const uint8_t zeros[PAGE];
	struct aspace_xlate x;
	const void *p;
	int ret = aspace_translate(t->as, gpa, &x);

	T_ASSERT(!ret, "%s: translate(%#llx) = %d", what,
		 (unsigned long long)gpa, ret);
	p = test_hal_ptr(t->hal, x.hpa, PAGE);
	T_ASSERT(p, "%s: gpa %#llx maps %#llx, not a HAL frame", what,
		 (unsigned long long)gpa, (unsigned long long)x.hpa);
	T_EXPECT(!memcmp(p, zeros, PAGE), "%s: page at %#llx not zeroed", what,
		 (unsigned long long)gpa);
	return x.hpa;
}

/*
 * Fault npages pages in a row on a vCPU: one batch per refill, no single
 * 4 KiB allocation, and data frames of one batch used in its order.
 */
static void check_refill(unsigned cache_batch, unsigned npages)
{
	const aspace_gpa_t g = 3 * GIB;
	struct aspace_vcpu *v;
	struct t_as t;
	long prev = -1;
	unsigned long frames;

	batch_as_create(&t, cache_batch);
	T_ASSERT(!aspace_map_alloc(t.as, g, npages * PAGE, RW, false),
		 "map_alloc");
	v = aspace_vcpu_attach(t.as);
	T_ASSERT(v, "vcpu_attach");
	W.batch_calls = W.single_4k = 0;
	W.nlog = 0;
	for (unsigned i = 0; i < npages; i++) {
		int ret = aspace_vcpu_fault(v, g + i * PAGE, ASPACE_WRITE);

		T_ASSERT(!ret, "batch %u: fault %u = %d", cache_batch, i, ret);
	}
	T_EXPECT(W.single_4k == 0,
		 "batch %u: %lu single 4 KiB allocations on the vCPU path",
		 cache_batch, W.single_4k);
	/* Frames taken: the pages, their tables, what the cache holds. */
	frames = npages + (npages + 511) / 512 + 2 + cache_frames(&t);
	T_EXPECT(W.nlog == frames, "batch %u: %zu frames in batches, want %lu",
		 cache_batch, W.nlog, frames);
	T_EXPECT(W.batch_calls <= frames / cache_batch + 1,
		 "batch %u: %lu batch calls for %lu frames", cache_batch,
		 W.batch_calls, frames);
	for (unsigned i = 0; i < npages; i++) {
		long k = log_find(expect_zero_page(&t, g + i * PAGE, "refill"));

		T_ASSERT(k >= 0, "batch %u: page %u frame not from a batch",
			 cache_batch, i);
		T_EXPECT(prev < 0 || W.log[k].batch != W.log[prev].batch ||
				 W.log[k].idx > W.log[prev].idx,
			 "batch %u: page %u used frame %u of batch %lu after "
			 "frame %u",
			 cache_batch, i, W.log[k].idx, W.log[k].batch,
			 W.log[prev].idx);
		prev = k;
	}
	aspace_vcpu_detach(v);
	t_as_destroy(&t);
}

enum op_kind { OP_VCPU_FAULT, OP_CTL_FAULT, OP_POPULATE };
static const char *const op_names[] = {"vcpu fault", "control fault",
				       "populate"};

#define POP_PAGES 64

/*
 * Cut batches short at the n-th frame, n = 1, 2, ... until the operation
 * succeeds; every failure must leave the state as it was.
 */
static void check_short(enum op_kind op, bool and_after, unsigned cache_batch)
{
	/* Fresh 512 GiB regions: a fault needs three tables and a page. */
	const aspace_gpa_t g = 1024 * GIB + t_range(0, 511) * GIB;
	aspace_gpa_t probes[3] = {g - PAGE, g, g + PAGE};
	struct aspace_vcpu *v = NULL;
	struct t_snapshot before;
	struct t_as t;
	char what[128];
	unsigned n;
	int ret = -1;

	batch_as_create(&t, cache_batch);
	if (op == OP_POPULATE) {
		T_ASSERT(!aspace_map_alloc(t.as, g - 4 * GIB, PAGE, RW, true),
			 "map_alloc");
	} else {
		T_ASSERT(!aspace_map_alloc(t.as, g, 4 * GIB, RW, false),
			 "map_alloc");
		if (op == OP_VCPU_FAULT)
			v = aspace_vcpu_attach(t.as);
		T_ASSERT(op != OP_VCPU_FAULT || v, "vcpu_attach");
	}
	t_snapshot(&t, &before, probes, 3);
	for (n = 1; n <= MAX_TRIES; n++) {
		struct t_snapshot after;
		uint64_t cached = cache_frames(&t);
		size_t handed = W.nlog;

		snprintf(what, sizeof(what), "%s, batch %u, frame %u refused%s",
			 op_names[op], cache_batch, n,
			 and_after ? " onwards" : "");
		test_hal_fail_at(t.hal, n, and_after);
		if (op == OP_VCPU_FAULT)
			ret = aspace_vcpu_fault(v, g, ASPACE_WRITE);
		else if (op == OP_CTL_FAULT)
			ret = aspace_handle_fault(t.as, g, ASPACE_WRITE);
		else
			ret = aspace_map_alloc(t.as, g, POP_PAGES * PAGE, RW,
					       true);
		test_hal_fail_at(t.hal, 0, false);
		if (!ret)
			break;
		T_EXPECT(ret == -ENOMEM, "%s: returned %d", what, ret);
		/* A short batch's frames wait in the cache, or went back. */
		T_EXPECT(cache_frames(&t) - cached ==
				 (op == OP_POPULATE ? 0 : W.nlog - handed),
			 "%s: %zu frames handed out, cache grew by %llu", what,
			 W.nlog - handed,
			 (unsigned long long)(cache_frames(&t) - cached));
		t_snapshot(&t, &after, probes, 3);
		ret = t_snapshot_cmp(&before, &after, what);
		t_snapshot_free(&before);
		before = after;
		if (ret)
			break;
	}
	t_snapshot_free(&before);
	T_EXPECT(n <= MAX_TRIES, "%s: never succeeded", what);
	T_EXPECT(n > 1 || cache_frames(&t) > 0, "%s: no allocation", what);
	if (!ret) {
		expect_zero_page(&t, g, what);
		if (op == OP_POPULATE)
			expect_zero_page(&t, g + (POP_PAGES - 1) * PAGE, what);
	}
	if (v)
		aspace_vcpu_detach(v);
	t_as_destroy(&t);
}

/* ---- the built-in host HAL's pool ---- */

#define THREADS 4
#define WAVES 12
#define ROUNDS 40
#define HOLD_MAX 1500 /* frames a thread holds at most */
#define SHARED_MAX 4096

/* Frames out: an open-addressing set, with the peak and all ever seen. */
static struct {
	pthread_mutex_t lock;
	aspace_hpa_t *out, *seen;
	size_t cap, nout, peak, nseen;
	/* Frames passed between threads, to be checked and freed. */
	aspace_hpa_t shared[SHARED_MAX];
	size_t nshared;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t slot(aspace_hpa_t *set, aspace_hpa_t hpa)
{
	size_t i = (size_t)((hpa >> 12) * 0x9e3779b97f4a7c15ull) & (P.cap - 1);

	while (set[i] && set[i] != hpa)
		i = (i + 1) & (P.cap - 1);
	return i;
}

/* Record frames just handed out; each must be new in the set. */
static void set_add(const aspace_hpa_t *v, unsigned n)
{
	pthread_mutex_lock(&P.lock);
	for (unsigned i = 0; i < n; i++) {
		size_t k = slot(P.out, v[i]);

		T_ASSERT(!P.out[k], "host HAL: frame %#llx handed out twice",
			 (unsigned long long)v[i]);
		T_ASSERT(v[i] && !(v[i] & (PAGE - 1)),
			 "host HAL: frame %#llx not 4 KiB aligned",
			 (unsigned long long)v[i]);
		P.out[k] = v[i];
		P.nout++;
		k = slot(P.seen, v[i]);
		P.nseen += !P.seen[k];
		P.seen[k] = v[i];
	}
	if (P.nout > P.peak)
		P.peak = P.nout;
	T_ASSERT(P.nseen * 2 < P.cap, "host HAL: too many distinct frames");
	pthread_mutex_unlock(&P.lock);
}

/* Backward-shift delete: probe chains stay intact. */
static void set_del(aspace_hpa_t hpa)
{
	size_t i, j;

	pthread_mutex_lock(&P.lock);
	i = slot(P.out, hpa);
	T_ASSERT(P.out[i] == hpa, "host HAL: freeing %#llx, not out",
		 (unsigned long long)hpa);
	P.out[i] = 0;
	P.nout--;
	for (j = (i + 1) & (P.cap - 1); P.out[j]; j = (j + 1) & (P.cap - 1)) {
		aspace_hpa_t e = P.out[j];

		P.out[j] = 0;
		P.out[slot(P.out, e)] = e;
	}
	pthread_mutex_unlock(&P.lock);
}

/* A frame's tag: who holds it, written at both ends. */
static void tag(aspace_hpa_t hpa, uint64_t v)
{
	uint64_t *p = (uint64_t *)(uintptr_t)hpa;

	p[0] = v;
	p[PAGE / 8 - 1] = ~v;
}

static void untag(const struct aspace_hal *h, aspace_hpa_t hpa)
{
	uint64_t *p = (uint64_t *)(uintptr_t)hpa;

	T_ASSERT(p[0] == hpa * 3 && p[PAGE / 8 - 1] == ~(hpa * 3),
		 "host HAL: frame %#llx changed while out",
		 (unsigned long long)hpa);
	set_del(hpa);
	h->free(h->ctx, hpa, PAGE);
}

struct worker {
	pthread_t th;
	uint64_t rng;
};

static uint64_t wrand(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/*
 * Allocate (singly or in batches), free own frames, pass frames to others
 * and free theirs; exit holding whatever is left in the pool's caches.
 */
static void *worker(void *arg)
{
	struct worker *w = arg;
	const struct aspace_hal *h = aspace_host_hal();
	aspace_hpa_t *mine = malloc(HOLD_MAX * sizeof(*mine));
	size_t n = 0;

	T_ASSERT(mine, "out of memory");
	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned want = (unsigned)(wrand(w) % 300) + 1, got;

		if (n + want > HOLD_MAX)
			want = (unsigned)(HOLD_MAX - n);
		if (wrand(w) & 1) {
			got = (unsigned)h->alloc_batch(h->ctx, PAGE, &mine[n],
						       want);
		} else {
			for (got = 0; got < want; got++)
				if (h->alloc(h->ctx, PAGE, &mine[n + got]))
					break;
		}
		T_ASSERT(got == want, "host HAL: %u of %u frames", got, want);
		set_add(&mine[n], got);
		for (unsigned i = 0; i < got; i++)
			tag(mine[n + i], mine[n + i] * 3);
		n += got;
		/* Free some of ours, pass some on, free some of theirs. */
		for (size_t k = wrand(w) % (n + 1); k > 0 && n; k--) {
			size_t i = wrand(w) % n;
			aspace_hpa_t f = mine[i];

			mine[i] = mine[--n];
			pthread_mutex_lock(&P.lock);
			if ((wrand(w) & 1) && P.nshared < SHARED_MAX) {
				P.shared[P.nshared++] = f;
				f = 0;
			}
			pthread_mutex_unlock(&P.lock);
			if (f)
				untag(h, f);
		}
		for (unsigned k = (unsigned)(wrand(w) % 200); k > 0; k--) {
			aspace_hpa_t f = 0;

			pthread_mutex_lock(&P.lock);
			if (P.nshared) {
				size_t i = wrand(w) % P.nshared;

				f = P.shared[i];
				P.shared[i] = P.shared[--P.nshared];
			}
			pthread_mutex_unlock(&P.lock);
			if (f)
				untag(h, f);
		}
	}
	while (n)
		untag(h, mine[--n]);
	free(mine);
	return NULL;
}

static void check_host_pool(void)
{
	const struct aspace_hal *h = aspace_host_hal();
	struct worker w[THREADS];
	size_t bound;

	P.cap = 1u << 20;
	P.out = calloc(P.cap, sizeof(*P.out));
	P.seen = calloc(P.cap, sizeof(*P.seen));
	T_ASSERT(P.out && P.seen, "out of memory");
	for (unsigned wave = 0; wave < WAVES; wave++) {
		for (unsigned i = 0; i < THREADS; i++) {
			w[i].rng = t_rand() | 1;
			T_ASSERT(!pthread_create(&w[i].th, NULL, worker, &w[i]),
				 "pthread_create");
		}
		for (unsigned i = 0; i < THREADS; i++)
			pthread_join(w[i].th, NULL);
	}
	while (P.nshared)
		untag(h, P.shared[--P.nshared]);
	T_EXPECT(P.nout == 0, "host HAL: %zu frames still out", P.nout);
	/*
	 * The pool adds a 2 MiB chunk only when no free frame is left outside
	 * the threads, each of which holds at most 2 x 256 frames; frames
	 * beyond that (with slack for the main thread) would be frames
	 * stranded in threads that exited.
	 */
	bound = P.peak + (THREADS + 2) * 512;
	T_EXPECT(P.nseen <= bound,
		 "host HAL: %zu distinct frames for a peak of %zu out: "
		 "frames of exited threads not reused (bound %zu)",
		 P.nseen, P.peak, bound);
	free(P.out);
	free(P.seen);
}

/* Frames freed in random order come back lowest first. */
static void check_host_order(void)
{
	const struct aspace_hal *h = aspace_host_hal();
	const unsigned n = 3000;
	aspace_hpa_t *v = malloc(n * sizeof(*v));
	unsigned descents = 0;

	T_ASSERT(v, "out of memory");
	T_ASSERT(h->alloc_batch(h->ctx, PAGE, v, n) == (int)n, "alloc_batch");
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)t_range(0, i);
		aspace_hpa_t x = v[i];

		v[i] = v[j];
		v[j] = x;
	}
	for (unsigned i = 0; i < n; i++)
		h->free(h->ctx, v[i], PAGE);
	for (unsigned i = 0; i < n; i++) {
		T_ASSERT(!h->alloc(h->ctx, PAGE, &v[i]), "alloc");
		descents += i && v[i] < v[i - 1];
	}
	/* Ascending, but for the stack the thread held before the frees. */
	T_EXPECT(descents <= n / 128,
		 "host HAL: %u descents in %u frames freed in random order",
		 descents, n);
	for (unsigned i = 0; i < n; i++)
		h->free(h->ctx, v[i], PAGE);
	free(v);
}

int main(int argc, char **argv)
{
	static const unsigned batches[] = {1, 3, 32};
	unsigned runs = 0;
	char what[64];

	t_init("test_alloc_batch", argc, argv);
	for (unsigned i = 0; i < 3; i++)
		check_refill(batches[i], 1200);
	for (unsigned i = 0; i < 3; i++)
		for (int op = OP_VCPU_FAULT; op <= OP_POPULATE; op++)
			for (int after = 0; after < 2; after++, runs++)
				check_short(op, after, batches[i]);
	check_host_pool();
	check_host_order();
	snprintf(what, sizeof(what), "%u short-batch runs, host pool", runs);
	return t_finish("test_alloc_batch", what);
}
