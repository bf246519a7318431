// SPDX-License-Identifier: MIT
/*
 * Faults: lazy 4 KiB and 2 MiB faults on the vCPU path (and through the
 * control path's mutex), eager population, and their floor: taking a frame
 * from a filled array and zeroing it, which is the work a fault cannot
 * avoid.
 *
 * A run faults its way through a fresh 256 MiB lazy area (65536 pages, 128
 * leaf tables: larger than the caches); when the area is used up, the
 * threads meet, one of them unmaps and re-maps it with the clock stopped,
 * and the faulting goes on. Thread-scaling runs (scale_fault) are timed by
 * the run's wall clock, round by round, from the start of a round to the
 * end of its last thread. scale_floor runs the floor in 1..8 threads, each
 * on its share of the floor's 256 MiB.
 */
#include "bench_util.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#define FAULT_GPA (64 * GiB)
#define FAULT_AREA (256 * MiB)
/* The cache-resident variant: frames and tables fit the 32 MiB L3. */
#define FAULT_AREA_L3 (16 * MiB)
#define POPULATE_SIZE (64 * MiB)

struct fault_case {
	const struct bench_format *fmt;
	bool big; /* 2 MiB frames (else a platform with 4 KiB leaves only) */
	bool control;  /* aspace_handle_fault under the mutex */
	bool same;     /* every thread faults the same pages */
	bool wall;     /* timed by the run's wall clock (thread scaling) */
	uint64_t area; /* bytes faulted per round (the floor: zeroed) */
	enum aspace_zero zero; /* how frames are zeroed (and the floor's) */
	struct bench_shared shared;
};

/*
 * The wall clock of a scaling run, kept for all its threads: from the
 * start of a round to the moment its last thread finished, summed over
 * the rounds. Each thread's own timer would miss the time it waited to be
 * scheduled after a round started (threads outnumbering cores), and with
 * it the time the round really took.
 */
struct fault_fixture {
	struct aspace *as;
	uint64_t area;
	pthread_barrier_t round;
	uint64_t start_ns;  /* the current round started */
	uint64_t finish_ns; /* its last thread finished (a maximum) */
	uint64_t wall_ns;   /* the rounds before it */
	unsigned line_count, line_gen; /* start_line */
};

static uint64_t fault_step(const struct fault_case *c)
{
	return c->big ? ASPACE_BLOCK_2M : ASPACE_PAGE_SIZE;
}

static int map_area(struct aspace *as, uint64_t area)
{
	return aspace_map_alloc(as, FAULT_GPA, area, ASPACE_READ | ASPACE_WRITE,
				false);
}

static void *fault_setup(void *arg, int threads)
{
	const struct fault_case *c = arg;
	struct fault_fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return NULL;
	if (bench_create_with(c->fmt, !c->big, c->zero, ASPACE_RCU_MEMB,
			      &fx->as)) {
		free(fx);
		return NULL;
	}
	fx->area = c->area;
	if (map_area(fx->as, fx->area)) {
		aspace_destroy(fx->as);
		free(fx);
		return NULL;
	}
	pthread_barrier_init(&fx->round, NULL, (unsigned)threads);
	return fx;
}

static void fault_teardown(void *obj)
{
	struct fault_fixture *fx = obj;

	aspace_destroy(fx->as);
	pthread_barrier_destroy(&fx->round);
	free(fx);
}

/*
 * This thread's time at work in the timed rounds: the rest of the wall
 * clock it spent waiting for the round's slowest thread (or off a core).
 */
static __thread uint64_t busy_ns, busy_since;

/* This thread has finished the round: the round lasts at least until now. */
static void round_done(struct fault_fixture *fx)
{
	uint64_t now = bench_now_ns();

	busy_ns += now - busy_since;
	uint64_t seen = __atomic_load_n(&fx->finish_ns, __ATOMIC_RELAXED);

	while (seen < now &&
	       !__atomic_compare_exchange_n(&fx->finish_ns, &seen, now, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/*
 * The round's clock starts once every thread is running again. A thread
 * parked in pthread_barrier_wait takes tens of microseconds to wake in a
 * VM (measured: the second of two threads started a 16 MiB round ~30 us
 * late, 15% of it); a vCPU does not park like that, so the wake-up stays
 * off the clock. Threads that are here wait by yielding, which spins when
 * they have a core each and lets the others run when they do not.
 */
static void start_line(struct fault_fixture *fx, int threads)
{
	unsigned gen = __atomic_load_n(&fx->line_gen, __ATOMIC_ACQUIRE);

	if (__atomic_add_fetch(&fx->line_count, 1, __ATOMIC_ACQ_REL) ==
	    (unsigned)threads) {
		fx->line_count = 0;
		fx->start_ns = fx->finish_ns = bench_now_ns();
		__atomic_store_n(&fx->line_gen, gen + 1, __ATOMIC_RELEASE);
		busy_since = bench_now_ns();
		return;
	}
	while (__atomic_load_n(&fx->line_gen, __ATOMIC_ACQUIRE) == gen)
		sched_yield();
	busy_since = bench_now_ns();
}

/*
 * Every thread comes here at the same iteration: the area is used up. The
 * unmap and re-map are off the clock (the wall clock of the run, and each
 * thread's CPU time).
 */
static int next_round(struct fault_fixture *fx, gb_state *st, bool timed)
{
	int rc = 0;

	if (timed)
		round_done(fx);
	pthread_barrier_wait(&fx->round);
	if (timed)
		gb_pause(st);
	if (gb_thread_index(st) == 0) {
		if (timed)
			fx->wall_ns += fx->finish_ns - fx->start_ns;
		rc = aspace_unmap(fx->as, FAULT_GPA, fx->area);
		if (!rc)
			rc = map_area(fx->as, fx->area);
	}
	pthread_barrier_wait(&fx->round);
	if (timed) {
		start_line(fx, gb_thread_count(st));
		gb_resume(st);
	}
	return rc;
}

/* The wall clock of the whole run, once every thread has finished. */
static void report_wall(struct fault_fixture *fx, gb_state *st)
{
	round_done(fx);
	pthread_barrier_wait(&fx->round);
	if (gb_thread_index(st) == 0)
		fx->wall_ns += fx->finish_ns - fx->start_ns;
	pthread_barrier_wait(&fx->round);
	gb_set_iteration_time(st, (double)fx->wall_ns * 1e-9);
	if (fx->wall_ns)
		gb_counter(st, "busy_pct",
			   100.0 * (double)busy_ns / (double)fx->wall_ns,
			   GB_COUNTER_AVG_THREADS);
}

/* Share of the run's faults that found the entry already there. */
static void report_spurious(gb_state *st, struct aspace *as,
			    const struct aspace_stats *before)
{
	struct aspace_stats s;

	if (gb_thread_index(st) != 0)
		return;
	aspace_stats(as, &s);
	if (s.faults > before->faults)
		gb_counter(st, "spurious_pct",
			   100.0 *
				   (double)(s.faults_spurious -
					    before->faults_spurious) /
				   (double)(s.faults - before->faults),
			   GB_COUNTER_PLAIN);
}

/* Host page faults per operation, averaged over the run's threads. */
static void report_host_faults(gb_state *st, uint64_t before)
{
	uint64_t ops = gb_iterations(st);

	if (ops)
		gb_counter(st, "host_pf_per_op",
			   (double)(bench_host_faults() - before) / (double)ops,
			   GB_COUNTER_AVG_THREADS);
}

static inline int fault_one(const struct fault_case *c, struct aspace *as,
			    struct aspace_vcpu *vcpu, uint64_t page)
{
	uint64_t gpa = FAULT_GPA + page * fault_step(c);

	if (vcpu)
		return aspace_vcpu_fault(vcpu, gpa, ASPACE_WRITE);
	return aspace_handle_fault(as, gpa, ASPACE_WRITE);
}

/*
 * One untimed round before a long run: frames the allocator has never
 * handed out cost a host page fault on first touch (several microseconds
 * in a VM), which would make the first round of a run slower than the
 * rest. After it, the allocator recycles the frames of earlier rounds.
 */
static int warm_round(const struct fault_case *c, struct fault_fixture *fx,
		      struct aspace_vcpu *vcpu, gb_state *st, uint64_t first,
		      uint64_t per_round)
{
	int bad = 0;

	for (uint64_t k = 0; k < per_round; k++)
		bad |= fault_one(c, fx->as, vcpu, first + k);
	return bad | next_round(fx, st, false);
}

static void bm_fault(gb_state *st, void *arg)
{
	struct fault_case *c = arg;
	struct fault_fixture *fx = bench_shared_get(&c->shared, fault_setup, c,
						    gb_thread_count(st));
	uint64_t pages = c->area / fault_step(c);
	uint64_t per_round = c->same ? pages : pages / gb_thread_count(st);
	uint64_t first = c->same ? 0 : per_round * gb_thread_index(st);
	uint64_t k = 0, n, host_faults;
	struct aspace_vcpu *vcpu = NULL;
	struct aspace_stats before;
	int bad = 0;

	if (!fx) {
		bench_failed(st, -ENOMEM, "fault set-up");
		goto fail;
	}
	if (!c->control && !(vcpu = aspace_vcpu_attach(fx->as))) {
		bench_failed(st, -errno, "vcpu_attach");
		goto fail;
	}
	n = gb_max_iterations(st);
	/* Every thread decides alike: warm_round meets at a barrier. */
	if (n >= per_round / 4)
		bad |= warm_round(c, fx, vcpu, st, first, per_round);
	aspace_stats(fx->as, &before);
	host_faults = bench_host_faults();
	if (c->wall) {
		pthread_barrier_wait(&fx->round);
		if (gb_thread_index(st) == 0)
			fx->wall_ns = 0;
		busy_ns = 0;
		pthread_barrier_wait(&fx->round);
		start_line(fx, gb_thread_count(st));
	}
	while (gb_keep_running_batch(st, n)) {
		for (uint64_t i = 0; i < n; i++) {
			if (k == per_round) {
				bad |= next_round(fx, st, true);
				k = 0;
			}
			bad |= fault_one(c, fx->as, vcpu, first + k++);
		}
	}
	if (c->wall)
		report_wall(fx, st);
	bench_failed(st, bad, "fault");
	gb_set_items_processed(st, (int64_t)gb_iterations(st));
	if (c->control)
		gb_set_label(st, "mutex baseline");
	report_host_faults(st, host_faults);
	if (c->same)
		report_spurious(st, fx->as, &before);
	goto out;
fail:
	bench_drain(st);
out:
	if (vcpu)
		aspace_vcpu_detach(vcpu);
	bench_shared_put(&c->shared, fault_teardown);
}

/*
 * The floor's frames: a pool larger than the caches, touched once so that
 * the host kernel's own page faults stay out of the measurement.
 */
#define POOL_SIZE (256 * MiB)
static char *pool;

static void pool_free(void)
{
	munmap(pool, POOL_SIZE);
	pool = NULL;
}

static void pool_init(void)
{
	void *p = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	/* As the host HAL's chunks: huge pages where the kernel has them. */
	madvise(p, POOL_SIZE, MADV_HUGEPAGE);
	memset(p, 1, POOL_SIZE);
	pool = p;
	bench_at_end(pool_free);
}

/* Threads of one run share the pool, each with a part of its own. */
static char *pool_get(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, pool_init);
	return pool;
}

/*
 * Zeroing as the library does it in mode c->zero (ASPACE_ZERO_AUTO:
 * streaming from 2 MiB up), written independently of it: libc's memset,
 * or SSE2 non-temporal stores and a fence.
 */
static bool floor_streams(const struct fault_case *c)
{
	return c->zero == ASPACE_ZERO_STREAM ||
	       (c->zero == ASPACE_ZERO_AUTO && c->big);
}

static void floor_zero(char *frame, uint64_t size, bool stream)
{
	if (!stream) {
		memset(frame, 0, size);
		return;
	}
#if defined(__x86_64__)
	for (char *p = frame; p < frame + size; p += 16)
		_mm_stream_si128((__m128i *)(void *)p, _mm_setzero_si128());
	_mm_sfence();
#else
	memset(frame, 0, size);
#endif
}

static void bm_fault_floor(gb_state *st, void *arg)
{
	const struct fault_case *c = arg;
	uint64_t step = fault_step(c), top = 0, n;
	uint64_t nframes = c->area / step / (uint64_t)gb_thread_count(st);
	uint64_t host_faults;
	char *base = pool_get(), **frames;
	bool stream = floor_streams(c);

	frames = malloc(nframes * sizeof(*frames));
	if (!base || !frames) {
		bench_failed(st, -ENOMEM, "frame pool");
		bench_drain(st);
		free(frames);
		return;
	}
	/* Filled so that pops come out in address order, as a fresh
	 * allocator hands them out. */
	base += (uint64_t)gb_thread_index(st) * nframes * step;
	for (uint64_t i = 0; i < nframes; i++)
		frames[i] = base + (nframes - 1 - i) * step;
	n = gb_max_iterations(st);
	host_faults = bench_host_faults();
	while (gb_keep_running_batch(st, n))
		for (uint64_t i = 0; i < n; i++) {
			char *frame;

			if (top == 0)
				top = nframes; /* the frames came back */
			frame = frames[--top];
			floor_zero(frame, step, stream);
			gb_clobber_memory();
		}
	gb_set_items_processed(st, (int64_t)gb_iterations(st));
	report_host_faults(st, host_faults);
	free(frames);
}

/* map_alloc(populate) of POPULATE_SIZE: the time per frame installed. */
static void bm_populate(gb_state *st, void *arg)
{
	const struct fault_case *c = arg;
	uint64_t frames = POPULATE_SIZE / fault_step(c), n;
	struct aspace *as;
	int bad = 0;

	if (bench_failed(st, bench_create(c->fmt, !c->big, &as), "create")) {
		bench_drain(st);
		return;
	}
	n = gb_max_iterations(st);
	while (gb_keep_running_batch(st, n))
		for (uint64_t i = 0; i < n; i++) {
			uint64_t t0 = bench_now_ns(), t1;

			bad |= aspace_map_alloc(as, FAULT_GPA, POPULATE_SIZE,
						ASPACE_READ | ASPACE_WRITE,
						true);
			t1 = bench_now_ns();
			gb_set_iteration_time(st, (double)(t1 - t0) * 1e-9);
			bad |= aspace_unmap(as, FAULT_GPA, POPULATE_SIZE);
		}
	bench_failed(st, bad, "map_alloc/unmap");
	gb_set_items_processed(st, (int64_t)(gb_iterations(st) * frames));
	aspace_destroy(as);
}

static struct fault_case *new_case(const struct bench_format *fmt, bool big,
				   bool control, bool same)
{
	struct fault_case *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	*c = (struct fault_case){.fmt = fmt,
				 .big = big,
				 .control = control,
				 .same = same,
				 .area = FAULT_AREA,
				 .shared = BENCH_SHARED_INIT};
	return c;
}

static void repeat(gb_bench *b, int reps)
{
	if (reps > 1)
		gb_display_aggregates_only(gb_repetitions(b, reps));
}

/* A case zeroing its frames with non-temporal stores. */
static struct fault_case *stream_case(struct fault_case *c)
{
	c->zero = ASPACE_ZERO_STREAM;
	return c;
}

void bench_register_fault(int reps)
{
	const struct bench_format *ept4 = bench_format_by_name("EPT4");
	static const char *const big_formats[] = {"EPT4", "S2_48", "SV48X4"};

	for (unsigned i = 0; i < bench_nformats; i++) {
		const struct bench_format *fmt = &bench_formats[i];

		repeat(bench_register(bm_fault,
				      new_case(fmt, false, false, false),
				      "fault/%s/4k", fmt->name),
		       fmt == ept4 ? reps : 1);
	}
	repeat(bench_register(bm_fault,
			      stream_case(new_case(ept4, false, false, false)),
			      "fault/EPT4/4k_stream"),
	       reps);
	for (unsigned i = 0; i < 3; i++) {
		const struct bench_format *fmt =
			bench_format_by_name(big_formats[i]);

		bench_register(bm_fault, new_case(fmt, true, false, false),
			       "fault/%s/2m", fmt->name);
	}
	repeat(bench_register(bm_fault_floor,
			      new_case(ept4, false, false, false),
			      "fault_floor/4k"),
	       reps);
	repeat(bench_register(bm_fault_floor,
			      stream_case(new_case(ept4, false, false, false)),
			      "fault_floor/4k_stream"),
	       reps);
	bench_register(bm_fault_floor, new_case(ept4, true, false, false),
		       "fault_floor/2m");
	for (int big = 0; big <= 1; big++)
		gb_use_manual_time(bench_register(
			bm_populate, new_case(ept4, big, false, false),
			"populate/EPT4/%s", big ? "2m" : "4k"));
}

/*
 * Faults at 1..8 threads (wall clock), lock-free and mutex: each thread on
 * its own pages, or (same) all on the same ones.
 */
static void register_scaling(int reps, const char *variant, bool same,
			     uint64_t area, enum aspace_zero zero)
{
	const struct bench_format *ept4 = bench_format_by_name("EPT4");

	for (int control = 0; control <= 1; control++) {
		struct fault_case *c = new_case(ept4, false, control, same);
		gb_bench *b;

		c->wall = true;
		c->area = area;
		c->zero = zero;
		b = bench_register(bm_fault, c, "scale_fault/EPT4/%s/%s",
				   variant, control ? "mutex" : "lockfree");
		gb_use_manual_time(b);
		for (int t = 1; t <= 8; t *= 2)
			gb_threads(b, t);
		repeat(b, reps);
	}
}

/*
 * Thread scaling on one address space: each thread faults its own pages
 * (disjoint) or all fault the same pages (same), on the vCPU path
 * (lockfree) or through aspace_handle_fault (the mutex baseline).
 */
void bench_register_fault_scaling(int reps)
{
	const struct bench_format *ept4 = bench_format_by_name("EPT4");
	static const struct {
		const char *suffix;
		uint64_t area;
		enum aspace_zero zero;
	} floors[] = {
		{"", FAULT_AREA, ASPACE_ZERO_AUTO},
		{"_l3", FAULT_AREA_L3, ASPACE_ZERO_AUTO},
		{"_stream", FAULT_AREA, ASPACE_ZERO_STREAM},
	};

	/*
	 * The floor at 1..8 threads, each zeroing its own share of the pool:
	 * how far the zeroing alone scales (memory bandwidth, shared caches).
	 */
	for (unsigned i = 0; i < 3; i++) {
		struct fault_case *c = new_case(ept4, false, false, false);
		gb_bench *floor;

		c->area = floors[i].area;
		c->zero = floors[i].zero;
		floor = bench_register(bm_fault_floor, c, "scale_floor/4k%s",
				       floors[i].suffix);
		gb_use_real_time(floor);
		for (int t = 1; t <= 8; t *= 2)
			gb_threads(floor, t);
		repeat(floor, reps);
	}
	register_scaling(reps, "disjoint", false, FAULT_AREA, ASPACE_ZERO_AUTO);
	register_scaling(1, "same", true, FAULT_AREA, ASPACE_ZERO_AUTO);
	/*
	 * Disjoint faults again on 16 MiB rounds, whose recycled frames and
	 * tables stay in the L3: the zeroing is no longer bound by memory
	 * bandwidth, which on small machines does not grow with a second
	 * thread (see scale_floor/4k), so this shows what the fault path
	 * itself scales to. Compare with scale_floor/4k_l3.
	 */
	register_scaling(reps, "disjoint_l3", false, FAULT_AREA_L3,
			 ASPACE_ZERO_AUTO);
	/*
	 * And with streaming zeroing (ASPACE_ZERO_STREAM), which halves the
	 * memory traffic of a fault: compare with scale_floor/4k_stream.
	 */
	register_scaling(reps, "disjoint_stream", false, FAULT_AREA,
			 ASPACE_ZERO_STREAM);
}
