/* SPDX-License-Identifier: MIT */
/*
 * aspace stress test: vCPU threads fault, translate, read and write guest
 * memory while control threads map, unmap and protect, for every table
 * format and both RCU flavours; every observation is checked against the
 * states the concurrent history allows, and frames must balance to zero.
 * See stress/README.md for the method and the options.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_SIZE (3 * SZ_1G)
#define SMALL_SLOT (4ull << 20)
#define NSMALL MEM_SMALL_CHUNKS
#define NBIG MEM_BIG_CHUNKS
#define MAX_VIOLATIONS_SHOWN 8
#define STALL_SECONDS 60.0

struct fmt_cfg {
	const char *name;
	enum aspace_format fmt;
	unsigned gpa_bits; /* cfg.gpa_bits */
	unsigned width;	   /* GPA bits the window must fit in */
	bool riscv;
};

static const struct fmt_cfg formats[] = {
	{"ept4", ASPACE_FMT_EPT4, 0, 48, false},
	{"ept5", ASPACE_FMT_EPT5, 0, 57, false},
	{"s2-32", ASPACE_FMT_S2_4K, 32, 32, false},
	{"s2-36", ASPACE_FMT_S2_4K, 36, 36, false},
	{"s2-40", ASPACE_FMT_S2_4K, 40, 40, false},
	{"s2-48", ASPACE_FMT_S2_4K, 48, 48, false},
	{"sv39x4", ASPACE_FMT_SV39X4, 0, 41, true},
	{"sv48x4", ASPACE_FMT_SV48X4, 0, 50, true},
	{"sv57x4", ASPACE_FMT_SV57X4, 0, 59, true},
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

struct opts {
	double seconds;	  /* the whole program */
	uint64_t ops;	  /* per run */
	unsigned vcpus;	  /* per run */
	unsigned control; /* per run */
	unsigned rounds;  /* lazy-race rounds per run */
	uint64_t seed;
	const char *only; /* comma-separated format names */
	int rcu;	  /* -1: both */
	bool verbose;
};

static atomic_uint violations;
static char run_name[64] = "setup";
static uint64_t run_seed;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t seed_mix(uint64_t a, uint64_t b)
{
	uint64_t s = a ^ (b * 0xd6e8feb86659fd93ull);

	return rng_next(&s);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

void stress_violation(const char *fmt, ...)
{
	unsigned n = atomic_fetch_add(&violations, 1);
	va_list ap;

	if (n >= MAX_VIOLATIONS_SHOWN)
		return;
	pthread_mutex_lock(&print_lock);
	fprintf(stderr, "VIOLATION [%s seed=%#" PRIx64 "]: ", run_name,
		run_seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (n + 1 == MAX_VIOLATIONS_SHOWN)
		fprintf(stderr, "(further violations not shown)\n");
	fflush(stderr);
	pthread_mutex_unlock(&print_lock);
}

_Noreturn void stress_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FATAL [%s seed=%#" PRIx64 "]: ", run_name, run_seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nFAIL\n");
	fflush(stderr);
	_exit(2);
}

bool stress_failed(void)
{
	return atomic_load_explicit(&violations, memory_order_relaxed) != 0;
}

_Thread_local bool stress_control_thread;

/*
 * The hook "runs outside every lock of the library": from a control thread
 * it takes the address space's lock itself (through aspace_stats), which
 * would hang if the library held it. (Not from vCPU threads: under QSBR a
 * vCPU must not block while online.)
 */
int stress_fault_hook(void *ctx, aspace_gpa_t gpa, unsigned access)
{
	struct run *r = ctx;
	struct aspace_stats st;

	if (stress_control_thread)
		aspace_stats(r->as, &st);

	if ((access != ASPACE_READ && access != ASPACE_WRITE &&
	     access != ASPACE_EXEC))
		stress_violation("fault hook called for gpa %#" PRIx64
				 " with access %#x",
				 gpa, access);
	atomic_fetch_add_explicit(&r->hook_calls, 1, memory_order_relaxed);
	return HOOK_RC;
}

/* ---- configuration of one run ---- */

static uint64_t pick_base(const struct fmt_cfg *f, uint64_t *rng)
{
	uint64_t top = 1ull << f->width, cands[3];
	unsigned n = 0;

	cands[n++] = 0;
	if ((top >> 1) + WINDOW_SIZE <= top)
		cands[n++] = top >> 1;
	cands[n++] = top - WINDOW_SIZE - SZ_1G * rng_below(rng, 2);
	return cands[rng_below(rng, n)];
}

static void pick_platform(const struct fmt_cfg *f, uint64_t *rng,
			  struct aspace_platform *p)
{
	uint64_t roll = rng_below(rng, 100);

	memset(p, 0, sizeof(*p));
	/* no CPU has 1 GiB leaves without 2 MiB ones */
	p->no_block_1g = roll >= 70;
	p->no_block_2m = roll >= 85;
	p->svpbmt = f->riscv && rng_pct(rng, 50);
	/* Arm: the PA size (VTCR_EL2.PS) must cover the IPA range. */
	p->hpa_bits = rng_pct(rng, 20) && f->gpa_bits <= 40 ? 40 : 0;
	p->vmid = (uint16_t)rng_below(rng, 256);
}

static void setup_slots(struct run *r, uint64_t base)
{
	for (unsigned i = 0; i < NSMALL; i++) {
		struct slot *s = &r->slots[i];

		s->gpa = base + i * SMALL_SLOT;
		s->size = SMALL_SLOT;
		/* every fourth slot's host memory is off 2 MiB congruence,
		 * so it only ever gets 4 KiB leaves */
		s->hpa = hal_small_hpa(i) + (i % 4 == 3 ? PAGE * (i + 1) : 0);
	}
	for (unsigned i = 0; i < NBIG; i++) {
		struct slot *s = &r->slots[NSMALL + i];

		s->gpa = base + (1 + i) * SZ_1G;
		s->size = SZ_1G;
		s->hpa = hal_big_hpa(i);
		s->big = true;
	}
}

static unsigned lanes_for(unsigned nvcpu)
{
	unsigned lanes = 1;

	while (lanes < nvcpu && lanes < 512)
		lanes <<= 1;
	return lanes;
}

static int setup_run(struct run *r, const struct fmt_cfg *f,
		     enum aspace_rcu rcu, const struct opts *o,
		     struct aspace_config *cfg)
{
	static const unsigned batches[] = {0, 1, 3, 8, 16};
	uint64_t rng;

	snprintf(r->name, sizeof(r->name), "%s/%s", f->name,
		 rcu == ASPACE_RCU_QSBR ? "qsbr" : "memb");
	r->seed = seed_mix(o->seed, hash_str(r->name));
	rng = r->seed;
	memset(cfg, 0, sizeof(*cfg));
	cfg->format = f->fmt;
	cfg->gpa_bits = f->gpa_bits;
	cfg->base = pick_base(f, &rng);
	cfg->size = WINDOW_SIZE;
	cfg->rcu = rcu;
	cfg->hal = hal_get(rng_pct(&rng, 50));
	cfg->cache_batch = batches[rng_below(&rng, 5)];
	cfg->zero = (enum aspace_zero)rng_below(&rng, 3);
	pick_platform(f, &rng, &cfg->platform);
	r->nslots = NSMALL + NBIG;
	r->slots = calloc(r->nslots, sizeof(*r->slots));
	if (!r->slots)
		return -ENOMEM;
	setup_slots(r, cfg->base);
	r->nvcpu = o->vcpus;
	r->nctl = o->control;
	r->lanes = lanes_for(r->nvcpu + 1); /* lane nvcpu: control threads */
	/* a 2-level stage-2 walk starts below the level of 1 GiB blocks */
	r->oracle = (struct oracle){
		.no_1g = cfg->platform.no_block_1g ||
			 (f->gpa_bits && (f->gpa_bits - 8) / 9 < 3),
		.no_2m = cfg->platform.no_block_2m,
		.memtype_dropped = f->riscv && !cfg->platform.svpbmt,
		.win_base = cfg->base,
		.win_size = cfg->size,
	};
	r->qsbr = rcu == ASPACE_RCU_QSBR;
	r->fault_hook = rng_pct(&rng, 50);
	r->oracle.real_fault_rc = r->fault_hook ? HOOK_RC : -EFAULT;
	atomic_store(&r->next_area_id, 1);
	return 0;
}

/*
 * Frames a run may hold at once: the alloc areas the slots can hold, what
 * deferred frees may still hold, the vCPU caches, and the tables.
 */
static uint64_t frame_bound(const struct run *r,
			    const struct aspace_config *cfg)
{
	uint64_t alloc = NSMALL * SMALL_SLOT + NBIG * MAX_SEGS * (8ull << 20);
	uint64_t batch = cfg->cache_batch ? cfg->cache_batch : 32;

	/* x4: the source, deferred frees, and a clone that keeps frames */
	return 4 * alloc + r->nvcpu * batch * (SZ_2M + PAGE) + (128ull << 20);
}

/* ---- running threads ---- */

struct threads {
	pthread_t *tid;
	struct vcpu_ctx *vc;
	struct ctl_ctx *cc;
	pthread_barrier_t start;
};

static int start_threads(struct run *r, struct threads *t)
{
	unsigned n = r->nvcpu + r->nctl;

	t->tid = calloc(n, sizeof(*t->tid));
	t->vc = calloc(r->nvcpu, sizeof(*t->vc));
	t->cc = calloc(r->nctl, sizeof(*t->cc));
	if (!t->tid || !t->vc || !t->cc)
		return -ENOMEM;
	pthread_barrier_init(&t->start, NULL, n + 1);
	for (unsigned i = 0; i < r->nvcpu; i++) {
		t->vc[i] = (struct vcpu_ctx){.r = r,
					     .id = i,
					     .rng = seed_mix(r->seed, 1000 + i),
					     .start = &t->start};
		pthread_create(&t->tid[i], NULL, vcpu_thread, &t->vc[i]);
	}
	for (unsigned i = 0; i < r->nctl; i++) {
		t->cc[i] = (struct ctl_ctx){.r = r,
					    .id = i,
					    .rng = seed_mix(r->seed, 2000 + i),
					    .start = &t->start};
		pthread_create(&t->tid[r->nvcpu + i], NULL, control_thread,
			       &t->cc[i]);
	}
	pthread_barrier_wait(&t->start);
	return 0;
}

static uint64_t ops_done(const struct run *r, struct threads *t, uint64_t *ctl)
{
	uint64_t sum = 0;

	*ctl = 0;
	for (unsigned i = 0; i < r->nvcpu; i++)
		sum += atomic_load_explicit(&t->vc[i].ops,
					    memory_order_relaxed);
	for (unsigned i = 0; i < r->nctl; i++)
		*ctl += atomic_load_explicit(&t->cc[i].ops,
					     memory_order_relaxed);
	return sum + *ctl;
}

static void dump_progress(const struct run *r, struct threads *t)
{
	for (unsigned i = 0; i < r->nvcpu; i++)
		fprintf(stderr, "  vcpu %u: %" PRIu64 " ops\n", i,
			atomic_load(&t->vc[i].ops));
	for (unsigned i = 0; i < r->nctl; i++)
		fprintf(stderr, "  control %u: %" PRIu64 " ops\n", i,
			atomic_load(&t->cc[i].ops));
}

/* Wait for the time or the operations to run out, or for a failure. */
static void monitor(struct run *r, struct threads *t, double seconds,
		    uint64_t max_ops)
{
	double start = now_seconds(), last_change = start;
	uint64_t last_ctl = 0, ctl;
	struct timespec tick = {0, 10 * 1000 * 1000};

	while (!stress_failed()) {
		double now = now_seconds();
		uint64_t ops = ops_done(r, t, &ctl);

		if (now - start >= seconds || ops >= max_ops)
			break;
		if (ctl != last_ctl || !r->nctl) {
			last_ctl = ctl;
			last_change = now;
		} else if (now - last_change > STALL_SECONDS) {
			dump_progress(r, t);
			stress_fatal("no control operation finished for %.0f "
				     "s (a grace period that never ends?)",
				     STALL_SECONDS);
		}
		nanosleep(&tick, NULL);
	}
	atomic_store(&r->stop, true);
}

static void join_threads(struct run *r, struct threads *t)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)STALL_SECONDS;
	for (unsigned i = 0; i < r->nvcpu + r->nctl; i++) {
		if (pthread_timedjoin_np(t->tid[i], NULL, &deadline)) {
			dump_progress(r, t);
			stress_fatal("thread %u did not stop within %.0f s", i,
				     STALL_SECONDS);
		}
	}
	pthread_barrier_destroy(&t->start);
}

/* ---- checks after the threads stopped ---- */

static void check_slot(struct run *r, struct slot *s, uint64_t *rng)
{
	const struct sstate *st = &s->cur;

	check_stable(r, s, s->gpa, "final");
	for (unsigned i = 0; i < st->n && !stress_failed(); i++) {
		const struct seg *sg = &st->s[i];
		uint64_t end = sg->start + sg->size;

		check_stable(r, s, sg->start, "final");
		check_stable(r, s, end - PAGE, "final");
		check_stable(r, s,
			     sg->start + rng_below(rng, sg->size / PAGE) * PAGE,
			     "final");
		if (end - s->gpa < s->size)
			check_stable(r, s, end, "final");
	}
}

static void describe_counts(const struct hal_counts *h, char *buf, size_t len)
{
	size_t at = (size_t)snprintf(
		buf, len, "%" PRIu64 " bytes in %" PRIu64 " frames:", h->bytes,
		h->frames);

	for (int o = 0; o < HAL_ORDERS && at < len; o++)
		if (h->by_order[o])
			at += (size_t)snprintf(
				buf + at, len - at, " %" PRIu64 "x%" PRIu64 "K",
				h->by_order[o], (uint64_t)((PAGE << o) >> 10));
}

static void check_cleared(struct run *r, const struct hal_counts *empty)
{
	struct aspace_stats st;
	struct hal_counts h;
	char a[256], b[256];

	aspace_clear(r->as);
	aspace_barrier(r->as);
	hal_counts(&h);
	aspace_stats(r->as, &st);
	if (h.bytes != empty->bytes || h.frames != empty->frames) {
		describe_counts(&h, a, sizeof(a));
		describe_counts(empty, b, sizeof(b));
		stress_violation("after aspace_clear + aspace_barrier the HAL "
				 "holds %s; a new address space held %s",
				 a, b);
	}
	if (st.mapped_4k || st.mapped_2m || st.mapped_1g ||
	    st.data_frames_bytes || st.cache_frames)
		stress_violation("after aspace_clear: stats mapped %" PRIu64
				 "/%" PRIu64 "/%" PRIu64
				 " data_frames_bytes %" PRIu64
				 " cache_frames %" PRIu64 ", expected zeros",
				 st.mapped_4k, st.mapped_2m, st.mapped_1g,
				 st.data_frames_bytes, st.cache_frames);
	for (unsigned i = 0; i < r->nslots; i++) {
		r->slots[i].cur.n = 0;
		check_stable(r, &r->slots[i], r->slots[i].gpa, "after clear");
	}
}

static void final_checks(struct run *r, const struct hal_counts *empty)
{
	struct hal_counts h;
	uint64_t rng = seed_mix(r->seed, 3);
	char a[256];

	for (unsigned i = 0; i < r->nslots && !stress_failed(); i++)
		check_slot(r, &r->slots[i], &rng);
	/*
	 * With every vCPU detached, cache_frames may still count the
	 * control path's cache; aspace_clear drains it, and check_cleared
	 * requires zero.
	 */
	check_cleared(r, empty);
	aspace_destroy(r->as);
	r->as = NULL;
	hal_counts(&h);
	if (h.bytes || h.frames || h.allocs != h.frees) {
		describe_counts(&h, a, sizeof(a));
		stress_violation("after aspace_destroy the HAL still holds %s "
				 "(%" PRIu64 " allocs, %" PRIu64 " frees)",
				 a, h.allocs, h.frees);
	}
}

/* ---- one run ---- */

struct totals {
	struct vcpu_counts v;
	struct ctl_counts c;
};

static void sum_counts(const struct run *r, const struct threads *t,
		       struct totals *tot)
{
	memset(tot, 0, sizeof(*tot));
	for (unsigned i = 0; i < r->nvcpu; i++) {
		const struct vcpu_counts *n = &t->vc[i].n;

		tot->v.xlate += n->xlate;
		tot->v.fault += n->fault;
		tot->v.read += n->read;
		tot->v.write += n->write;
		tot->v.readback += n->readback;
		tot->v.scan += n->scan;
		tot->v.outside += n->outside;
		tot->v.idle += n->idle;
		tot->v.replug += n->replug;
		tot->v.recheck += n->recheck;
		tot->v.racing += n->racing;
		tot->v.unverified += n->unverified;
	}
	for (unsigned i = 0; i < r->nctl; i++) {
		const struct ctl_counts *n = &t->cc[i].n;

		for (int k = 0; k < CTL_NKINDS; k++)
			tot->c.op[k] += n->op[k];
		tot->c.expected_err += n->expected_err;
		tot->c.checks += n->checks;
		tot->c.faults += n->faults;
		tot->c.barriers += n->barriers;
		tot->c.data += n->data;
		tot->c.iov += n->iov;
		tot->c.real_faults += n->real_faults;
		tot->c.queries += n->queries;
		tot->c.populates += n->populates;
		tot->c.clones += n->clones;
	}
}

static void print_run(const struct run *r, const struct aspace_config *cfg,
		      const struct totals *t, const struct hal_counts *h,
		      const struct race_result *race, double secs)
{
	const struct vcpu_counts *v = &t->v;
	const struct ctl_counts *c = &t->c;
	uint64_t vops = v->xlate + v->fault + v->read + v->write + v->readback +
			v->scan + v->outside;

	printf("%-12s %5.1fs base=%#" PRIx64 " batch=%u zero=%s %s%s%s%s "
	       "vcpus=%u ctl=%u\n",
	       r->name, secs, cfg->base, cfg->cache_batch,
	       (const char *[]){"auto", "cached", "stream"}[cfg->zero],
	       cfg->hal->direct_map ? "direct-map" : "phys_to_virt",
	       cfg->platform.no_block_1g ? " no-1G" : "",
	       cfg->platform.no_block_2m ? " no-2M" : "",
	       cfg->platform.svpbmt ? " svpbmt" : "", r->nvcpu, r->nctl);
	printf("  vcpu ops %" PRIu64 ": translate %" PRIu64 " fault %" PRIu64
	       " read %" PRIu64 " write %" PRIu64 " readback %" PRIu64
	       " scan %" PRIu64 " outside %" PRIu64 "; racing %" PRIu64
	       " unverifiable %" PRIu64 " recheck %" PRIu64 " idle %" PRIu64
	       " replug %" PRIu64 "\n",
	       vops, v->xlate, v->fault, v->read, v->write, v->readback,
	       v->scan, v->outside, v->racing, v->unverified, v->recheck,
	       v->idle, v->replug);
	printf("  control ops %" PRIu64 ": map_linear %" PRIu64
	       " map_alloc %" PRIu64 " unmap %" PRIu64 " protect %" PRIu64
	       " (expected errors %" PRIu64 "); checks %" PRIu64
	       " faults %" PRIu64 " real faults %" PRIu64 " data %" PRIu64
	       " iov %" PRIu64 " queries %" PRIu64 " populate %" PRIu64
	       " clones %" PRIu64 " barriers %" PRIu64 "\n",
	       c->op[0] + c->op[1] + c->op[2] + c->op[3], c->op[0], c->op[1],
	       c->op[2], c->op[3], c->expected_err, c->checks, c->faults,
	       c->real_faults, c->data, c->iov, c->queries, c->populates,
	       c->clones, c->barriers);
	printf("  frames peak %.1f MiB, flushes %" PRIu64
	       ", fault hook calls %" PRIu64
	       "; lazy race rounds %u (spurious faults %" PRIu64 ")\n",
	       h->peak_bytes / 1048576.0, h->flushes,
	       (uint64_t)atomic_load(&r->hook_calls), race->rounds,
	       race->spurious);
	fflush(stdout);
}

static void run_race(const struct run *r, const struct aspace_config *cfg,
		     const struct opts *o, double seconds,
		     struct race_result *res)
{
	struct aspace_config rcfg = *cfg;
	struct race_cfg rc = {
		.cfg = &rcfg,
		.threads = o->vcpus < 4 ? o->vcpus : 4,
		.rounds = o->rounds,
		.seconds = seconds,
		.seed = seed_mix(r->seed, 4),
	};

	/* 2 MiB leaves allowed so that the 2 MiB case gets them */
	memset(&rcfg.platform, 0, sizeof(rcfg.platform));
	lazy_race(&rc, res);
}

static void free_threads(struct threads *t)
{
	free(t->tid);
	free(t->vc);
	free(t->cc);
}

static bool run_one(const struct fmt_cfg *f, enum aspace_rcu rcu,
		    const struct opts *o, double seconds)
{
	struct run r = {0};
	struct aspace_config cfg;
	struct threads t = {0};
	struct hal_counts empty, h;
	struct race_result race = {0};
	struct totals tot;
	double t0 = now_seconds();
	int err;

	if (setup_run(&r, f, rcu, o, &cfg))
		stress_fatal("out of memory");
	snprintf(run_name, sizeof(run_name), "%s", r.name);
	run_seed = r.seed;
	hal_set_window(cfg.base, cfg.size);
	err = aspace_create(&cfg, &r.as);
	if (err)
		stress_fatal("aspace_create(base %#" PRIx64 " size %#" PRIx64
			     " gpa_bits %u hpa_bits %u batch %u): %d",
			     cfg.base, cfg.size, cfg.gpa_bits,
			     cfg.platform.hpa_bits, cfg.cache_batch, err);
	if (r.fault_hook &&
	    aspace_set_fault_handler(r.as, stress_fault_hook, &r))
		stress_fatal("aspace_set_fault_handler failed");
	hal_counts(&empty);
	hal_reset_peak();
	hal_set_bound(frame_bound(&r, &cfg));
	if (start_threads(&r, &t))
		stress_fatal("out of memory");
	monitor(&r, &t, seconds * 0.85, o->ops);
	join_threads(&r, &t);
	clone_retire(&r, "at the end of the run");
	hal_counts(&h);
	hal_set_bound(0);
	final_checks(&r, &empty);
	if (!stress_failed())
		run_race(&r, &cfg, o, seconds * 0.15, &race);
	sum_counts(&r, &t, &tot);
	print_run(&r, &cfg, &tot, &h, &race, now_seconds() - t0);
	free_threads(&t);
	free(r.slots);
	return !stress_failed();
}

/* ---- options ---- */

static double env_double(const char *name, double def)
{
	const char *v = getenv(name);

	return v && *v ? strtod(v, NULL) : def;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-s SECONDS] [-n OPS] [-t VCPUS] [-c CONTROL] "
		"[-S SEED] [-f FMT[,FMT..]] [-r memb|qsbr] [-R ROUNDS]\n"
		"  -s  total seconds for all runs (STRESS_SECONDS, 60)\n"
		"  -n  operations per run (STRESS_OPS, 100000000)\n"
		"  -t  vCPU threads per run (STRESS_THREADS, 4 x cores)\n"
		"  -c  control threads per run (STRESS_CONTROL, 2)\n"
		"  -S  seed (ASPACE_SEED, from the clock)\n"
		"  -f  formats (STRESS_FORMATS, all):",
		argv0);
	for (size_t i = 0; i < NFORMATS; i++)
		fprintf(stderr, " %s", formats[i].name);
	fprintf(stderr, "\n  -r  RCU flavour (STRESS_RCU, both)\n"
			"  -R  lazy-race rounds per run (64)\n");
	exit(2);
}

static int parse_rcu(const char *v)
{
	if (!v || !*v || !strcmp(v, "both"))
		return -1;
	if (!strcmp(v, "memb"))
		return ASPACE_RCU_MEMB;
	if (!strcmp(v, "qsbr"))
		return ASPACE_RCU_QSBR;
	fprintf(stderr, "unknown RCU flavour %s\n", v);
	exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int ch;

	o->seconds = env_double("STRESS_SECONDS", 60);
	o->ops = env_u64("STRESS_OPS", 100000000);
	o->vcpus = (unsigned)env_u64("STRESS_THREADS",
				     4 * (cores > 0 ? (unsigned)cores : 1));
	o->control = (unsigned)env_u64("STRESS_CONTROL", 2);
	o->seed = env_u64("ASPACE_SEED", 0);
	if (!getenv("ASPACE_SEED") || !*getenv("ASPACE_SEED"))
		o->seed = seed_mix((uint64_t)time(NULL), (uint64_t)getpid());
	o->only = getenv("STRESS_FORMATS");
	o->rcu = parse_rcu(getenv("STRESS_RCU"));
	o->rounds = 64;
	while ((ch = getopt(argc, argv, "s:n:t:c:S:f:r:R:vh")) != -1) {
		switch (ch) {
		case 's':
			o->seconds = strtod(optarg, NULL);
			break;
		case 'n':
			o->ops = strtoull(optarg, NULL, 0);
			break;
		case 't':
			o->vcpus = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			o->control = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'S':
			o->seed = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			o->only = optarg;
			break;
		case 'r':
			o->rcu = parse_rcu(optarg);
			break;
		case 'R':
			o->rounds = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'v':
			o->verbose = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!o->vcpus || o->seconds <= 0 || !o->ops)
		usage(argv[0]);
}

static bool selected(const struct opts *o, const char *name)
{
	size_t len = strlen(name);

	if (!o->only || !*o->only)
		return true;
	for (const char *p = o->only; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	unsigned runs = 0, done = 0;
	double t0 = now_seconds();
	int err;

	parse_opts(argc, argv, &o);
	for (size_t i = 0; i < NFORMATS; i++)
		runs += selected(&o, formats[i].name) * (o.rcu < 0 ? 2 : 1);
	if (!runs) {
		fprintf(stderr, "no format selected\n");
		return 2;
	}
	printf("aspace stress: seed %#" PRIx64 " (replay: ASPACE_SEED=%#" PRIx64
	       "), %u runs, %.0f s, %u vCPU + %u control threads per run\n",
	       o.seed, o.seed, runs, o.seconds, o.vcpus, o.control);
	fflush(stdout);
	err = hal_setup();
	if (err)
		stress_fatal("cannot set up host memory: %s", strerror(-err));
	for (size_t i = 0; i < NFORMATS && !stress_failed(); i++) {
		if (!selected(&o, formats[i].name))
			continue;
		for (int rcu = 0; rcu < 2 && !stress_failed(); rcu++) {
			double left = o.seconds - (now_seconds() - t0);

			if (o.rcu >= 0 && rcu != o.rcu)
				continue;
			run_one(&formats[i], (enum aspace_rcu)rcu, &o,
				left / (runs - done));
			done++;
		}
	}
	printf("%s: %u of %u runs, %.1f s, seed %#" PRIx64 "%s\n",
	       stress_failed() ? "FAIL" : "PASS", done, runs,
	       now_seconds() - t0, o.seed,
	       stress_failed() ? " (violations above)" : "");
	return stress_failed() ? 1 : 0;
}
