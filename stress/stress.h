/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of the stress test (see stress/README.md).
 *
 * The window of an address space is cut into slots. Only one control thread
 * at a time works in a slot, and it publishes every state of the slot as a
 * numbered version before it asks the library for it, with a seqlock-style
 * generation: 2v while version v is in force, 2v + 1 while the library moves
 * from v to v + 1. A vCPU reads the generation before and after a call; the
 * versions between the two are exactly the states the call may have seen.
 */
#ifndef STRESS_STRESS_H
#define STRESS_STRESS_H

#include <aspace/aspace.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE ASPACE_PAGE_SIZE
#define SZ_2M ASPACE_BLOCK_2M
#define SZ_1G ASPACE_BLOCK_1G
#define MEMTYPE_MASK (ASPACE_DEVICE | ASPACE_UNCACHED)

/* Random numbers: splitmix64, one state per thread. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static inline bool rng_pct(uint64_t *s, unsigned percent)
{
	return rng_below(s, 100) < percent;
}

uint64_t seed_mix(uint64_t a, uint64_t b);

/* Violations: printed with the run's name and seed; the run stops. */
void stress_violation(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
bool stress_failed(void);
/* A state the test cannot continue from (a hang, a wild pointer). */
_Noreturn void stress_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Host memory (hal.c). One virtual reservation stands for host physical
 * memory: hpa = MEM_PHYS_BASE + offset, so an hpa is never a pointer.
 *  - two 1 GiB linear chunks, each the same 2 MiB of a memfd mapped 512
 *    times (1 GiB leaves need 1 GiB-aligned host memory, not 1 GiB of RAM);
 *  - small linear chunks, plain memory with a distinct pattern;
 *  - the arena from which the HAL hands out frames.
 */
#define MEM_PHYS_BASE SZ_1G
#define MEM_BIG_OFF 0ull
#define MEM_BIG_CHUNKS 2
#define MEM_SMALL_OFF (2 * SZ_1G)
#define MEM_SMALL_STRIDE (8ull << 20)
#define MEM_SMALL_CHUNKS 16
#define MEM_ARENA_OFF (3 * SZ_1G)
#define MEM_ARENA_SIZE (56 * SZ_1G)
#define HAL_ORDERS 19 /* 4 KiB << 0 .. 4 KiB << 18 = 1 GiB */

struct hal_counts {
	uint64_t bytes, frames; /* outstanding */
	uint64_t peak_bytes;
	uint64_t allocs, frees;
	uint64_t flushes;
	uint64_t by_order[HAL_ORDERS]; /* outstanding frames per size */
};

int hal_setup(void);
const struct aspace_hal *hal_get(bool direct_map);
void hal_counts(struct hal_counts *out);
void hal_reset_peak(void);
/* Flush ranges must lie in [base, base + size). */
void hal_set_window(uint64_t base, uint64_t size);
/* Outstanding bytes above this are a violation; 0: no bound. */
void hal_set_bound(uint64_t bytes);
uint64_t hal_big_hpa(unsigned chunk);
uint64_t hal_small_hpa(unsigned chunk);
/* Host pointer of linear memory or of an allocated frame. */
void *hal_va(uint64_t hpa);
bool hal_in_arena(uint64_t hpa);
/* 0: the page holding hpa is free; else order + 1 of its frame. */
int hal_frame_state(uint64_t hpa);

/*
 * The state of one slot (model.c): sorted, non-overlapping segments. A
 * segment is what the header calls an area, or a piece of one after
 * protect/unmap split it.
 */
#define MAX_SEGS 12
#define SEG_WORDS 4
#define STATE_WORDS (1 + SEG_WORDS * MAX_SEGS)

enum seg_kind { SEG_LINEAR = 1, SEG_ALLOC = 2 };

struct seg {
	uint64_t start, size;
	uint64_t hpa; /* linear: host address of start */
	unsigned flags;
	unsigned kind;
	bool populated;
	/* alloc: a clone may share its frames (read-only until written) */
	bool shared;
	/* alloc: names the frames' content; kept by splits, new per map */
	uint32_t area_id;
};

struct sstate {
	unsigned n;
	struct seg s[MAX_SEGS + 3]; /* room to split before checking n */
};

const struct seg *st_find(const struct sstate *st, uint64_t gpa);
bool st_overlaps(const struct sstate *st, uint64_t gpa, uint64_t size);
bool st_covered(const struct sstate *st, uint64_t gpa, uint64_t size);
void st_insert(struct sstate *st, const struct seg *sg);
void st_unmap(struct sstate *st, uint64_t gpa, uint64_t size);
void st_protect(struct sstate *st, uint64_t gpa, uint64_t size, unsigned perm);
/* The extent that one library area holding sg could have. */
void st_run(const struct sstate *st, const struct seg *sg, uint64_t *lo,
	    uint64_t *hi);
void st_store(_Atomic uint64_t *w, const struct sstate *st);
void st_load(_Atomic uint64_t *w, struct sstate *st);
const char *flags_str(unsigned flags, char buf[8]);
void st_describe(const struct sstate *st, char *buf, size_t len);

/* The oracle (oracle.c): is an observation allowed by one state? */
struct oracle {
	bool no_1g, no_2m;
	bool memtype_dropped; /* RISC-V without Svpbmt: leaves carry none */
	int real_fault_rc;    /* -EFAULT, or what the fault hook returns */
	uint64_t win_base, win_size;
};

/*
 * parts: what of a successful translate to check, the leaf (hpa, flags,
 * size) and/or the area fields. A translate racing with protect may take
 * the area from one version and the leaf from another.
 * frame_state < 0: do not check that alloc frames are live.
 */
#define ORACLE_LEAF 1u
#define ORACLE_AREA 2u
#define ORACLE_ALL (ORACLE_LEAF | ORACLE_AREA)
bool oracle_translate(const struct oracle *o, const struct sstate *st,
		      uint64_t gpa, int rc, const struct aspace_xlate *xl,
		      int frame_state, unsigned parts, char *why, size_t len);
bool oracle_fault(const struct oracle *o, const struct sstate *st, uint64_t gpa,
		  unsigned access, int rc, char *why, size_t len);
/* aspace_vcpu_read/write return code (host access: RAM areas only). */
bool oracle_host_access(const struct sstate *st, uint64_t gpa, int rc,
			char *why, size_t len);
/* A mapped aspace_query run where it overlaps sg, at gpa at. */
bool oracle_run(const struct oracle *o, const struct seg *sg,
		const struct aspace_run *run, uint64_t at, char *why,
		size_t len);
/* The leaf map_linear must use at gpa of a freshly mapped segment. */
uint64_t oracle_linear_leaf(const struct oracle *o, const struct seg *sg,
			    uint64_t gpa);

/* One run: one address space, its slots and threads. */
#define RING 32 /* published versions per slot */
#define CLONE_SNAPS 64
#define MAX_CANDS 8

struct slot {
	uint64_t gpa, size;
	uint64_t hpa; /* where linear maps of this slot point */
	bool big;
	atomic_int busy; /* held by the control thread working here */
	_Atomic uint64_t gen;
	_Atomic uint64_t ring[RING][STATE_WORDS];
	/* owned by the control thread holding busy */
	struct sstate cur;
	uint64_t version;
};

struct vcpu_counts {
	uint64_t xlate, fault, read, write, readback, scan, outside, idle;
	uint64_t replug, recheck;
	uint64_t racing, unverified;
};

enum ctl_kind { CTL_LINEAR, CTL_ALLOC, CTL_UNMAP, CTL_PROTECT, CTL_NKINDS };

struct ctl_counts {
	uint64_t op[CTL_NKINDS];
	uint64_t expected_err, checks, faults, barriers;
	uint64_t data, iov, real_faults, queries, populates, clones;
};

struct run {
	char name[48];
	uint64_t seed;
	struct aspace *as;
	struct oracle oracle;
	struct slot *slots;
	unsigned nslots;
	unsigned nvcpu, nctl;
	/*
	 * Page p belongs to vCPU p % lanes if it exists, to the control
	 * thread holding the slot if p % lanes == nvcpu, else to nobody.
	 */
	unsigned lanes;
	atomic_bool stop;
	atomic_uint next_area_id;
	bool qsbr;
	bool fault_hook;
	atomic_uint_fast64_t hook_calls;
	/* the live clone, used by whoever holds every slot (clone.c) */
	struct aspace *clone;
	struct {
		uint64_t gpa, w[2];
	} snaps[CLONE_SNAPS];
	unsigned nsnaps;
};

/* What the fault hook, when a run installs it, makes real faults return. */
#define HOOK_RC 1
/* The hook checks from control threads that it runs outside the lock. */
extern _Thread_local bool stress_control_thread;
int stress_fault_hook(void *ctx, aspace_gpa_t gpa, unsigned access);

/* Data tags: magic, writer (vCPU id or CTL_WRITER), counter; gpa. */
#define TAG_MAGIC 0xa5ull
#define CTL_WRITER 0xffffu
static inline uint64_t tag_word(unsigned writer, uint64_t counter)
{
	return TAG_MAGIC << 56 | (uint64_t)(writer & 0xffff) << 40 |
	       (counter & ((1ull << 40) - 1));
}
static inline bool is_tag(uint64_t w0, uint64_t w1, unsigned writer,
			  uint64_t gpa)
{
	return w0 >> 56 == TAG_MAGIC && ((w0 >> 40) & 0xffff) == writer &&
	       w1 == gpa;
}

#define TRACK_N 2048

struct track {
	uint64_t gpa; /* 16-byte word holding our tag */
	uint64_t tag;
	uint32_t area_id; /* alloc area the tag was written into */
	bool valid;
};

#define SUSPECTS 16

struct vcpu_ctx {
	struct run *r;
	unsigned id;
	uint64_t rng;
	struct aspace_vcpu *v;
	uint64_t counter;
	/* gpas whose last call raced: look again once the slot is quiet */
	struct {
		struct slot *s;
		uint64_t gpa;
	} suspect[SUSPECTS];
	unsigned nsuspects;
	pthread_barrier_t *start;
	_Atomic uint64_t ops;
	struct vcpu_counts n;
	struct track track[TRACK_N];
};

struct ctl_ctx {
	struct run *r;
	unsigned id;
	uint64_t rng;
	uint64_t counter;
	pthread_barrier_t *start;
	_Atomic uint64_t ops;
	struct ctl_counts n;
};

void *vcpu_thread(void *arg);
void *control_thread(void *arg);
/* check_access, find_free_area, populate and query on a held slot */
void control_queries(struct ctl_ctx *c, struct slot *s);
/* Clone the address space (holding every slot); check and keep it. */
void control_clone(struct ctl_ctx *c);
/* Check the words remembered from the live clone, then destroy it. */
void clone_retire(struct run *r, const char *when);
/* Check gpa against the slot's current state from the control path. */
bool check_stable(struct run *r, const struct slot *s, uint64_t gpa,
		  const char *context);

/* The lazy-fault race (race.c). */
struct race_cfg {
	const struct aspace_config *cfg; /* window, format, flavour */
	unsigned threads;
	unsigned rounds;
	double seconds;
	uint64_t seed;
};
struct race_result {
	unsigned rounds;
	uint64_t spurious; /* faults the library saw as already fixed */
};
bool lazy_race(const struct race_cfg *rc, struct race_result *res);

double now_seconds(void);

#endif /* STRESS_STRESS_H */
