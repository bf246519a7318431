/* SPDX-License-Identifier: MIT */
/*
 * aspace internals. Where to look:
 *   walk.c     the generic table walker: lookup, install, map, unmap,
 *              protect, split, table freeing
 *   fault.c    the fault path (vCPU and control)
 *   area.c     the RCU-published area set
 *   frames.c   per-vCPU frame caches, reservations, deferred frees
 *   aspace.c   create/destroy and the control path (map/unmap/protect)
 *   guest.c    translate and guest-memory access
 *   arch/       one file per format family: entry bits as data
 *
 * Invariants the code relies on:
 *  (I1) Areas never overlap, are immutable once published, and are freed
 *       only after a grace period that follows their removal.
 *  (I2) A leaf exists only inside an area; a table exists only where its
 *       GPA span intersects an area (so a table whose span no longer meets
 *       any area is empty and no fault can reach it: it may be freed).
 *  (I3) Faults only turn empty entries into tables or leaves (CAS from 0);
 *       they never change or clear a present entry. Everything else is the
 *       control path's, under as->lock.
 *  (I4) The control path publishes a new area set, then waits for a grace
 *       period before changing entries of the areas it removed or changed:
 *       a fault that looked up an old area has finished by then, and any
 *       leaf it installed is seen (and fixed) by the control path's walk.
 *       A fault that looks up the new set may still meet the old entries:
 *       it changes a block only if the block lies inside its area.
 *  (I5) Table pages and data frames leave the tables, then the flush hook
 *       runs, then a grace period passes, then they return to the HAL.
 *       Grace periods are waited for synchronously by the control path.
 *       A data frame may be read through another space of the family
 *       (clone, share_from) by a vCPU that looked its leaf up there before
 *       that leaf changed, so the wait covers the vCPUs of every space in
 *       the family; it is skipped when none is attached (no readers).
 */
#ifndef ASPACE_INTERNAL_H
#define ASPACE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

#include <urcu/arch.h>
#include <urcu/compiler.h>
#include <urcu/list.h>

#include <aspace/aspace.h>

#include "pt_format.h"

#define ALIGNED(x, a) (((x) & ((a)-1)) == 0)
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a)-1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Entry access: every load and store of a live entry goes through these. */
static inline pte_t pte_load(pte_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void pte_store(pte_t *p, pte_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Release: the contents of a new table or frame are visible first. */
static inline bool pte_cas(pte_t *p, pte_t old, pte_t new)
{
	return __atomic_compare_exchange_n(p, &old, new, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static inline pte_t pte_xchg(pte_t *p, pte_t v)
{
	return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
}

/* ---- areas ---- */

/*
 * LINEAR: fixed host memory. ALLOC: frames the library allocates (lazily
 * or at map time), shared copy-on-write by clones. SHARED: frames mapped
 * by more than one space on purpose (aspace_share_from): clones share
 * them as they are, writes are seen by every space.
 */
enum area_kind { AREA_LINEAR, AREA_ALLOC, AREA_SHARED };

struct area {
	aspace_gpa_t start, end; /* [start, end); GPAs < 2^59, no overflow */
	aspace_hpa_t hpa;	 /* linear: host address of start */
	unsigned flags;
	enum area_kind kind;
};

/*
 * The flags translate and queries report for leaf pte of area a: the
 * entry's, from the format's decode table, plus the memory type the area
 * asks for where entries carry none (the platform's PMAs decide). k is
 * f->bits, or the same bits as constants (translate.c's fast path).
 */
static inline __attribute__((always_inline)) unsigned
leaf_flags(const struct pt_format *f, const struct pt_bits k, pte_t pte,
	   const struct area *a)
{
	unsigned flags = f->decode[pte_decode_index(k, pte)];

	if (!k.mt_encoded)
		flags |= a->flags & (ASPACE_DEVICE | ASPACE_UNCACHED);
	return flags;
}

/*
 * The published set: sorted by start, immutable except that an area that
 * sorts last may be appended in place (v[n] and its keys are written, then
 * n is published with release). gen changes whenever an area leaves the
 * set. Areas go in only through area_set_push(), which keeps the lookup
 * index in step (area.c): key[0][i] is v[i]->start, key[l][j] is
 * key[l - 1][j * AREA_FANOUT]. Tests may build area.c with a smaller
 * AREA_FANOUT_SHIFT to exercise many levels with few areas.
 */
#ifndef AREA_FANOUT_SHIFT
#define AREA_FANOUT_SHIFT 4
#endif
#define AREA_FANOUT (1u << AREA_FANOUT_SHIFT)
/* Areas are at least a page and GPAs < 2^59: fewer than 2^47 areas. */
#define AREA_SET_MAX (1ull << 47)
#define AREA_LEVELS (47 / AREA_FANOUT_SHIFT + 1)

struct area_set {
	uint64_t gen;
	size_t n, cap;
	struct area_set *retired_next;
	uint64_t *key[AREA_LEVELS]; /* in the same allocation; unused: NULL */
	struct area *v[] __attribute__((aligned(64)));
};

const struct area *area_find(const struct area_set *set, aspace_gpa_t gpa);
/* First area with end > gpa, or NULL. */
const struct area *area_next(const struct area_set *set, aspace_gpa_t gpa);
bool area_intersects(const struct area_set *set, aspace_gpa_t lo,
		     aspace_gpa_t hi);
struct area *area_new(aspace_gpa_t start, aspace_gpa_t end, aspace_hpa_t hpa,
		      unsigned flags, enum area_kind kind);
/* Room for cap areas (NULL when out of memory); none yet. */
struct area_set *area_set_new(size_t cap, uint64_t gen);
/* Append a, which sorts last, n < cap: publishes n + 1 with release. */
void area_set_push(struct area_set *set, struct area *a);

static inline struct area_set *areas_get(struct aspace *as);

struct fault_handler {
	aspace_fault_fn fn;
	void *ctx;
	struct fault_handler *next_old;
};

/* ---- frames ---- */

/* A stack of frames of one size. */
struct frame_stack {
	aspace_hpa_t *v;
	size_t n, cap;
};

/* Per-vCPU (and control-path) frame cache: magazines of 4 KiB and 2 MiB. */
#define CACHE_4K_MAX 256
#define CACHE_2M_MAX 2
struct frame_cache {
	unsigned n4k, n2m;
	unsigned batch;
	aspace_hpa_t f4k[CACHE_4K_MAX];
	aspace_hpa_t f2m[CACHE_2M_MAX];
};

/* Frames released by one operation, freed after flush and grace period. */
struct free_chunk;
struct free_list {
	struct free_chunk *head;
	size_t n;
};

/* Counters: each owned by one writer, summed on read. */
struct counters {
	uint64_t leaves[3]; /* 4K, 2M, 1G leaves installed minus removed */
	uint64_t tables;
	uint64_t data_bytes;
	uint64_t faults, fixed, spurious, real;
	uint64_t splits, flushes;
	uint64_t cow_breaks, cow_reuses; /* copied, or made writable in place */
};

/* Single-writer increment: a plain add, visible to readers atomically. */
#define CNT_ADD(c, field, v)                                                   \
	__atomic_store_n(&(c)->field,                                          \
			 __atomic_load_n(&(c)->field, __ATOMIC_RELAXED) + (v), \
			 __ATOMIC_RELAXED)

/* A map from frame address to a count. */
struct hpa_count {
	aspace_hpa_t hpa; /* 0: empty slot */
	uint32_t count;
};
struct hpa_map {
	struct hpa_count *v;
	size_t n, cap; /* open addressing, cap a power of two */
};

/*
 * Per-frame metadata of every address space that uses one HAL: a family.
 * Clones and shared mappings hand frames between its members.
 *  - share: references to data frames mapped more than once (a frame not
 *    in the map has one reference), striped by address so that copy-on-
 *    write breaks of different frames do not contend.
 *  - huge: 2 MiB data frames split into 4 KiB leaves, with the count of
 *    those leaves still mapped in all spaces. A frame shared copy-on-write
 *    is copied before it is split, so only shared areas split a frame
 *    that another space maps whole.
 */
#define SHARE_STRIPES 64
struct frame_family {
	struct frame_family *next; /* registry */
	struct aspace_hal hal;
	unsigned users;
	/*
	 * vCPUs attached to any space of the family, per RCU flavour. Data
	 * frames move between the family's spaces (clone, share_from), so a
	 * frame one space frees may still be read by another space's vCPU
	 * that looked a leaf up before it changed: every grace period waits
	 * for the readers of the whole family, not of one space (I5).
	 */
	unsigned readers[2];
	int tsan_gp; /* ThreadSanitizer: happens-before across grace periods */
	struct {
		pthread_mutex_t lock;
		struct hpa_map map;
	} __attribute__((aligned(64))) share[SHARE_STRIPES];
	pthread_mutex_t huge_lock;
	struct hpa_map huge;
};

/*
 * The specialisation of aspace_vcpu_translate that serves an address
 * space: the format family's entry bits, the walk depth and the RCU
 * flavour as constants, chosen once at create (translate.c: xlate_fn_for).
 */
typedef int (*xlate_fn)(struct aspace_vcpu *v, aspace_gpa_t gpa,
			struct aspace_xlate *out);

struct aspace {
	/*
	 * Hot, read-mostly: what translate and the fault path read, packed
	 * so that they and the walk fields at the head of fmt share the first
	 * two cache lines (fmt keeps its attribute and decode tables last).
	 */
	xlate_fn xlate; /* aspace_vcpu_translate's one dispatch */
	void *root_va;
	uintptr_t dm_offset;
	bool direct;
	enum aspace_rcu rcu;
	aspace_gpa_t base, last; /* window [base, last] */
	struct area_set *areas;	 /* RCU-published */
	uint64_t stream_from; /* data frames this large are zeroed streaming */
	struct pt_format fmt;
	struct aspace_hal hal;

	/* Control path, under lock. */
	pthread_mutex_t lock;
	struct aspace_config cfg;
	aspace_hpa_t root_hpa;
	size_t root_size;
	uint64_t area_gen;
	struct frame_cache ctl_cache;
	struct counters ctl;
	struct counters retired; /* of detached vCPUs */
	struct cds_list_head vcpus;
	struct frame_family *fam;
	unsigned nvcpus;
	/*
	 * A clone is write-protecting this space's frames: copy-on-write
	 * breaks back off (-EBUSY, the guest retries) until its flush and a
	 * grace period have passed, so no write through a translation from
	 * before the write-protect can land in a frame after it was copied.
	 */
	unsigned cloning;
	struct fault_handler *handler;	    /* RCU-published, immutable */
	struct fault_handler *old_handlers; /* freed at destroy */
	struct area_set
		*retired_sets; /* replaced, freed at the next grace period */
};

struct aspace_vcpu {
	struct aspace *as;
	/* Lookup cache, valid while gen matches (starts never matching). */
	const struct area *last_area;
	uint64_t last_gen;
	struct counters cnt;
	struct frame_cache cache;
	struct cds_list_head node;
} __attribute__((aligned(64)));

static inline struct area_set *areas_get(struct aspace *as)
{
	return __atomic_load_n(&as->areas, __ATOMIC_ACQUIRE);
}

/* Whether gpa lies in the window [base, last]. */
static inline bool gpa_in_window(const struct aspace *as, aspace_gpa_t gpa)
{
	return gpa >= as->base && gpa <= as->last;
}

/* A non-empty, non-wrapping byte range inside the window. */
static inline bool range_in_window(const struct aspace *as, aspace_gpa_t gpa,
				   uint64_t size)
{
	return size && gpa_in_window(as, gpa) && size - 1 <= as->last - gpa;
}

static inline void *pt_va(const struct aspace *as, aspace_hpa_t hpa)
{
	if (as->direct)
		return (void *)(uintptr_t)(hpa + as->dm_offset);
	return as->hal.phys_to_virt(as->hal.ctx, hpa);
}

/* Walk results. */
struct pt_lookup {
	pte_t pte;
	unsigned level;
	uint64_t size; /* PT_LEVEL_SIZE(level): a constant at each exit */
	pte_t *ptep;
};

static inline pte_t *pt_table(struct aspace *as, pte_t pte)
{
	return pt_va(as, pte_addr(&as->fmt, pte));
}

/* The table a table entry points to; direct promises as->direct. */
static inline __attribute__((always_inline)) pte_t *
pt_next_table(struct aspace *as, pte_t pte, const struct pt_bits k,
	      const bool direct)
{
	if (direct || caa_likely(as->direct))
		return (pte_t *)(((pte & k.oa_mask) << k.oa_shift) +
				 as->dm_offset);
	return pt_table(as, pte);
}

/*
 * The address of the table an entry points to, for the next load: the
 * AND first and the shift (RISC-V: PPN at bit 10) last, where the load's
 * scaled index can absorb it; the empty asm keeps the compiler from
 * turning it into a shift and then a wider AND, one step longer.
 */
static inline __attribute__((always_inline)) uintptr_t
pt_table_pa(pte_t pte, const struct pt_bits k)
{
	uintptr_t t = pte & k.oa_mask;

	if (k.oa_shift)
		__asm__("" : "+r"(t));
	return t << k.oa_shift;
}

/*
 * One level of pt_lookup_bits, with the level a constant: the index shift
 * folds to an immediate. Leaves the walk at an absent entry or a leaf.
 *
 * Below the root, a direct walk keeps the table's physical address (tbl)
 * and adds the direct-map offset and the entry's index first: they do
 * not depend on the entry just loaded, so the next load waits for one
 * AND after it (RISC-V's shift is the load's index scale), not three
 * operations. The empty asm keeps the compiler from reassociating the sum.
 */
#define PT_LOOKUP_STEP(l)                                                      \
	do {                                                                   \
		uintptr_t off =                                                \
			((gpa >> PT_LEVEL_SHIFT(l)) & mask) * sizeof(pte_t);   \
		level = (l);                                                   \
		size = PT_LEVEL_SIZE(l);                                       \
		if (direct && (l) != top) {                                    \
			off += as->dm_offset;                                  \
			__asm__("" : "+r"(off));                               \
			p = (pte_t *)(tbl + off);                              \
		} else {                                                       \
			p = (pte_t *)((uintptr_t)table + off);                 \
		}                                                              \
		pte = pte_load(p);                                             \
		if (caa_unlikely(!(pte & k.present_mask)))                     \
			goto absent;                                           \
		if ((l) == 0 || (pte & k.table_mask) != k.table_val)           \
			goto leaf;                                             \
		if (direct)                                                    \
			tbl = pt_table_pa(pte, k);                             \
		else                                                           \
			table = pt_next_table(as, pte, k, false);              \
		mask = PT_ENTRIES - 1;                                         \
	} while (0)

/*
 * Walk gpa from the root to its leaf, lock-free: 0 with the leaf, -ENOENT
 * at the empty entry, -EAGAIN at a frozen one. Always inline: with a
 * constant k (translate.c instantiates translate per format family) the
 * entry tests fold to immediates; pt_lookup passes the format's own bits.
 * A true direct promises as->direct (checked by the caller); levels is the
 * walk depth as a constant, or 0 for as->fmt.levels. The levels are
 * unrolled, entered at the root's (at most 5: 57-bit GPAs).
 */
static inline __attribute__((always_inline)) int
pt_lookup_bits(struct aspace *as, aspace_gpa_t gpa, struct pt_lookup *out,
	       const struct pt_bits k, const bool direct, const unsigned levels)
{
	const unsigned top = (levels ? levels : as->fmt.levels) - 1;
	uint64_t mask = as->fmt.root_mask;
	pte_t *table = as->root_va, *p, pte;
	uintptr_t tbl = 0;
	uint64_t size;
	unsigned level;
	int r;

	switch (top + 1) {
	case 5:
		PT_LOOKUP_STEP(4);
		/* fall through */
	case 4:
		PT_LOOKUP_STEP(3);
		/* fall through */
	case 3:
		PT_LOOKUP_STEP(2);
		/* fall through */
	case 2:
		PT_LOOKUP_STEP(1);
		/* fall through */
	default:
		PT_LOOKUP_STEP(0);
	}
leaf:
	r = 0;
	goto out;
absent:
	r = pte == PTE_FROZEN ? -EAGAIN : -ENOENT;
out:
	/* Stored once at the end: stores through out could alias as. */
	out->pte = pte;
	out->level = level;
	out->size = size;
	out->ptep = p;
	return r;
}

static inline int pt_lookup(struct aspace *as, aspace_gpa_t gpa,
			    struct pt_lookup *out)
{
	return pt_lookup_bits(as, gpa, out, as->fmt.bits, false, 0);
}

/* frames.c */
void cache_init(struct frame_cache *c, unsigned batch);
int cache_refill(struct aspace *as, struct frame_cache *c, unsigned need);
void cache_drain(struct aspace *as, struct frame_cache *c, unsigned keep);

/*
 * The counts are written by the cache's owner only, but read by
 * aspace_stats from other threads: relaxed atomic stores (plain moves).
 */
static inline void cache_set_n(unsigned *n, unsigned v)
{
	__atomic_store_n(n, v, __ATOMIC_RELAXED);
}

/* Make sure need 4 KiB frames are at hand (inline: every fault asks). */
static inline int cache_topup(struct aspace *as, struct frame_cache *c,
			      unsigned need)
{
	return c->n4k >= need ? 0 : cache_refill(as, c, need);
}

static inline aspace_hpa_t cache_pop(struct frame_cache *c)
{
	cache_set_n(&c->n4k, c->n4k - 1);
	return c->f4k[c->n4k];
}

void cache_push(struct aspace *as, struct frame_cache *c, aspace_hpa_t hpa);
int cache_pop_2m(struct frame_cache *c, aspace_hpa_t *hpa);
int cache_refill_2m(struct aspace *as, struct frame_cache *c);
void cache_push_2m(struct aspace *as, struct frame_cache *c, aspace_hpa_t hpa);
int stack_reserve(struct aspace *as, struct frame_stack *s, size_t n,
		  size_t size);
void stack_release(struct aspace *as, struct frame_stack *s, size_t size);
struct pt_op;
void free_list_add(struct pt_op *op, aspace_hpa_t hpa, uint64_t size);
void free_list_commit(struct pt_op *op);
void frame_zero(struct aspace *as, aspace_hpa_t hpa, size_t size);
void data_zero(struct aspace *as, aspace_hpa_t hpa, size_t size);
int hpa_map_reserve(struct hpa_map *m, size_t more);
uint32_t hpa_map_get(const struct hpa_map *m, aspace_hpa_t hpa);
void hpa_map_set(struct hpa_map *m, aspace_hpa_t hpa, uint32_t count);

/* share.c */

/*
 * Share counts are keyed by frame and size: a 2 MiB frame mapped whole and
 * its first 4 KiB piece mapped by a split leaf are different references.
 */
static inline aspace_hpa_t share_key(aspace_hpa_t hpa, uint64_t size)
{
	return size > ASPACE_PAGE_SIZE ? hpa | 1 : hpa;
}

struct frame_family *family_get(const struct aspace_hal *hal);
void family_put(struct frame_family *fam);
pthread_mutex_t *share_lock(struct frame_family *fam, aspace_hpa_t hpa);
struct hpa_map *share_map(struct frame_family *fam, aspace_hpa_t hpa);
bool frame_shared(struct frame_family *fam, aspace_hpa_t hpa);
bool frame_drop(struct frame_family *fam, aspace_hpa_t *hpa, uint64_t *size);
int huge_reserve(struct frame_family *fam, size_t more);
void huge_split(struct frame_family *fam, aspace_hpa_t hpa);

/* rcu.c */
void as_grace_period(struct aspace *as);
/*
 * The control-path lock. A QSBR vCPU thread calling the control path goes
 * offline meanwhile (a quiescent state): a writer holding the lock may be
 * waiting for it to report one.
 */
void as_lock(struct aspace *as);
void as_unlock(struct aspace *as);
/* Wait a little outside any read section (QSBR: offline while waiting). */
void as_backoff(struct aspace *as);
int as_thread_register(enum aspace_rcu rcu);
void as_thread_unregister(enum aspace_rcu rcu);
void as_tsan_acquire(struct aspace *as);
void as_readers_add(struct aspace *as, int n);
/* Whether liburcu's memb flavour found sys_membarrier (fixed at start-up). */
bool as_memb_sys_membarrier(void);

/* walk.c: the control-path operation context */
struct flush_batch {
	unsigned n;
	bool all;
	aspace_gpa_t gpa[8];
	uint64_t size[8];
};
void flush_add(struct flush_batch *fb, aspace_gpa_t gpa, uint64_t size);
void flush_run(struct aspace *as, struct flush_batch *fb);

struct pt_op {
	struct aspace *as;
	const struct area_set *set; /* areas after the operation */
	const struct area_set *old; /* areas before it */
	struct frame_stack tables;  /* reserved table frames */
	struct frame_stack data4k, data2m;
	struct flush_batch flush;
	struct free_list freed;
	size_t tables_needed, data4k_needed, data2m_needed; /* dry run */
	bool dry;
	bool no_2m_data; /* populate: 4 KiB frames only */
};

void pt_map_linear(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
		   aspace_hpa_t hpa, unsigned flags);
void pt_populate(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
		 unsigned flags);
void pt_unmap(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
	      bool free_data);
void pt_protect(struct pt_op *op, aspace_gpa_t lo, aspace_gpa_t hi,
		unsigned flags, bool alloc);
int pt_install(struct aspace *as, struct frame_cache *c, struct counters *cnt,
	       aspace_gpa_t gpa, unsigned target, pte_t leaf);
void pt_free_root(struct aspace *as);
int pt_clone_range(struct pt_op *src, struct pt_op *dst, const struct area *a,
		   aspace_gpa_t lo, aspace_gpa_t hi);
void pt_unshare_area(struct aspace *as, const struct area *a);

/* fault.c */

/* The area this vCPU found last, if it is still published and holds gpa. */
static inline const struct area *vcpu_area_cached(struct aspace_vcpu *v,
						  const struct area_set *set,
						  aspace_gpa_t gpa)
{
	const struct area *a = v->last_area;

	/* last_gen matches no set before last_area is first set. */
	if (v->last_gen == set->gen && gpa >= a->start && gpa < a->end)
		return a;
	return NULL;
}

/* The area at gpa for a vCPU, cached while the set's generation holds. */
static inline const struct area *vcpu_area(struct aspace_vcpu *v,
					   aspace_gpa_t gpa)
{
	const struct area_set *set = areas_get(v->as);
	const struct area *a = vcpu_area_cached(v, set, gpa);

	if (a)
		return a;
	a = area_find(set, gpa);
	if (a) {
		v->last_area = a;
		v->last_gen = set->gen;
	}
	return a;
}

/*
 * Resolve a fault at gpa of area a with frames from cache only: the HAL is
 * never called inside a read section. -ENOBUFS: a 2 MiB frame is needed
 * and the cache has none; the caller leaves the read section, calls
 * fault_refill_2m and tries again. FAULT_NO_HUGE in access: the HAL had no
 * 2 MiB frame, a lazy fault takes 4 KiB.
 */
#define FAULT_NO_HUGE (1u << 30)
int fault_resolve_access(struct aspace *as, struct frame_cache *cache,
			 struct counters *cnt, const struct area *a,
			 aspace_gpa_t gpa, unsigned access);
int fault_refill_2m(struct aspace *as, struct frame_cache *cache,
		    unsigned *access);
/* The same under as->lock (no read section): tops up and refills. */
int fault_resolve_locked(struct aspace *as, struct frame_cache *cache,
			 struct counters *cnt, const struct area *a,
			 aspace_gpa_t gpa, unsigned access);

/* aspace.c */
bool flags_valid(unsigned flags);

/* translate.c: the translate specialisation for as (fmt, hal, rcu set). */
xlate_fn xlate_fn_for(const struct aspace *as);

/*
 * guest.c: translate's paths off the fast one, entered inside the vCPU's
 * read section (they leave it), and the generic translate.
 */
int vcpu_translate_area(struct aspace_vcpu *v, aspace_gpa_t gpa,
			struct aspace_xlate *out, pte_t pte, unsigned level);
int vcpu_translate_slow(struct aspace_vcpu *v, aspace_gpa_t gpa,
			struct aspace_xlate *out);
int translate_generic(struct aspace_vcpu *v, aspace_gpa_t gpa,
		      struct aspace_xlate *out);

/* A translate's result from the leaf found and its area. */
static inline __attribute__((always_inline)) void
xlate_fill(const struct aspace *as, aspace_gpa_t gpa, const struct pt_lookup *l,
	   const struct area *a, struct aspace_xlate *out,
	   const struct pt_bits k)
{
	uint64_t size = l->size;

	out->hpa = ((l->pte & k.oa_mask) << k.oa_shift) + (gpa & (size - 1));
	out->leaf_size = size;
	out->flags = leaf_flags(&as->fmt, k, l->pte, a);
	out->area_start = a->start;
	out->area_size = a->end - a->start;
}

#endif
