/* SPDX-License-Identifier: MIT */
/*
 * aspace: guest physical address spaces for multi-vCPU hypervisors.
 *
 * An address space is a GPA window, a set of non-overlapping memory areas
 * inside it, and the second-stage page table that the CPU walks (x86_64 EPT,
 * AArch64 stage-2, RISC-V G-stage). One library build serves every format;
 * the format is chosen per address space at run time.
 *
 * Threads. There are two kinds of callers:
 *  - The control path: every aspace_* call that takes a `struct aspace *`.
 *    These calls may come from any thread and serialize on one mutex per
 *    address space. Mapping, unmapping and protecting are control-path only.
 *  - The vCPU path: the aspace_vcpu_* calls, made by the one thread that
 *    attached the handle. They take no lock: area lookup runs under RCU
 *    (liburcu), entries are installed with compare-and-swap, and frames come
 *    from a per-vCPU cache. They run concurrently with each other and with
 *    the control path, and give the same results as the control-path calls.
 *
 * Errors are negative errno values. A call that fails changes nothing: no
 * entry written, no area changed, no frame leaked.
 *
 * Addresses and sizes are 4 KiB aligned unless a function says otherwise.
 */
#ifndef ASPACE_ASPACE_H
#define ASPACE_ASPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; this marks the API. */
#ifndef ASPACE_API
#define ASPACE_API __attribute__((visibility("default")))
#endif

typedef uint64_t aspace_gpa_t; /* guest physical address */
typedef uint64_t aspace_hpa_t; /* host physical address */

#define ASPACE_PAGE_SIZE 0x1000ull    /* 4 KiB */
#define ASPACE_BLOCK_2M 0x200000ull   /* 2 MiB */
#define ASPACE_BLOCK_1G 0x40000000ull /* 1 GiB */

/* Second-stage table formats. All are built into every library. */
enum aspace_format {
	ASPACE_FMT_EPT4 = 1, /* Intel EPT, 4-level walk, 48-bit GPA */
	ASPACE_FMT_EPT5,     /* Intel EPT, 5-level walk, 57-bit GPA */
	ASPACE_FMT_S2_4K, /* AArch64 stage-2, 4 KiB granule, cfg.gpa_bits 32..48
			   */
	ASPACE_FMT_SV39X4, /* RISC-V G-stage Sv39x4, 41-bit GPA, 16 KiB root */
	ASPACE_FMT_SV48X4, /* RISC-V G-stage Sv48x4, 50-bit GPA, 16 KiB root */
	ASPACE_FMT_SV57X4, /* RISC-V G-stage Sv57x4, 59-bit GPA, 16 KiB root */
};

/*
 * Mapping flags and access types. An area's flags are a permission set plus
 * at most one memory type; the default memory type is normal write-back.
 * READ is required: write-only and execute-only mappings are rejected with
 * -EINVAL (write-without-read is an EPT misconfiguration and reserved on
 * RISC-V; execute-only needs a CPU capability this library does not model).
 * DEVICE is device memory for MMIO passthrough (EPT UC, Arm Device-nGnRE,
 * RISC-V PBMT IO when the platform has Svpbmt). UNCACHED is normal
 * non-cacheable memory (EPT WC, Arm Normal-NC, RISC-V PBMT NC). Without
 * Svpbmt, RISC-V entries carry no memory type: the platform's PMAs decide.
 */
#define ASPACE_READ 0x1u
#define ASPACE_WRITE 0x2u
#define ASPACE_EXEC 0x4u
#define ASPACE_DEVICE 0x8u
#define ASPACE_UNCACHED 0x10u
#define ASPACE_PERM_MASK (ASPACE_READ | ASPACE_WRITE | ASPACE_EXEC)
#define ASPACE_FLAGS_MASK 0x1fu

/*
 * Host HAL. The library never assumes that a host-physical address is a
 * pointer: it reaches every table and data frame through phys_to_virt, or,
 * when the HAL declares a direct map, through hpa + direct_map_offset (this
 * lets the walker skip an indirect call per level). Every callback may be
 * called from any thread (vCPU threads refill their frame caches; freed
 * frames are returned from liburcu's call_rcu thread), so they must be
 * thread safe.
 */
struct aspace_hal {
	/*
	 * Host-physical memory of a power-of-two size from 4 KiB to 1 GiB,
	 * aligned to its size. Returns 0, or -ENOMEM when none is left.
	 * The memory need not be zeroed.
	 */
	int (*alloc)(void *ctx, size_t size, aspace_hpa_t *hpa);
	void (*free)(void *ctx, aspace_hpa_t hpa, size_t size);
	/* Host virtual address of host-physical memory from alloc or
	 * map_linear. */
	void *(*phys_to_virt)(void *ctx, aspace_hpa_t hpa);
	/*
	 * Invalidate cached translations of [gpa, gpa + size); size 0 means
	 * everything. This is where the hypervisor issues INVEPT,
	 * TLBI IPAS2E1IS + DSB, or HFENCE.GVMA. May be NULL.
	 */
	void (*flush)(void *ctx, aspace_gpa_t gpa, uint64_t size);
	void *ctx;
	/* If true, phys_to_virt(hpa) == (void *)(hpa + direct_map_offset). */
	bool direct_map;
	uintptr_t direct_map_offset;
	/*
	 * Optional (NULL: alloc is called n times). Up to n frames of one
	 * size, as alloc makes them, into hpa[0..n) in the order n calls to
	 * alloc would return them (they are used in that order); returns how
	 * many (0..n). Fewer than n means the HAL ran short: the library
	 * keeps or frees the ones it got. A vCPU refills its frame cache
	 * (cache_batch frames) with one call. Each frame is freed on its own
	 * with free. A HAL that wraps another by copying its struct must set
	 * or clear this member along with alloc.
	 */
	int (*alloc_batch)(void *ctx, size_t size, aspace_hpa_t *hpa,
			   unsigned n);
};

/*
 * The built-in host HAL: hpa == host virtual address. 4 KiB frames come
 * from a per-thread pool carved from 2 MiB chunks and kept for reuse (a
 * frame may be freed by any thread); other sizes from jemalloc.
 */
ASPACE_API const struct aspace_hal *aspace_host_hal(void);

/* RCU flavour of an address space; see aspace_vcpu_quiescent(). */
enum aspace_rcu {
	ASPACE_RCU_MEMB = 0, /* liburcu-memb: read sections need no help */
	ASPACE_RCU_QSBR,     /* liburcu-qsbr: vCPUs report quiescent states */
};

/*
 * What the CPU supports. A zeroed struct describes a CPU with 2 MiB and
 * 1 GiB leaves and no optional extension; the library never emits an
 * encoding the configured CPU lacks. no_block_2m requires no_block_1g (no
 * CPU has 1 GiB leaves without 2 MiB ones): -EINVAL otherwise. A VMID too
 * wide for the format is -EINVAL.
 */
struct aspace_platform {
	/* No 1 GiB leaves (EPT: IA32_VMX_EPT_VPID_CAP bit 17 clear). */
	bool no_block_1g;
	bool no_block_2m; /* no 2 MiB leaves */
	bool svpbmt;	  /* RISC-V: Svpbmt, so DEVICE/UNCACHED are encoded */
	/*
	 * Host physical address bits; 0 = format maximum (EPT 52, Arm 48,
	 * RISC-V 56). Arm: VTCR_EL2.PS is the smallest encoding holding it,
	 * and must cover the IPA range (gpa_bits <= PS size, else -EINVAL).
	 */
	uint8_t hpa_bits;
	bool vmid16; /* Arm FEAT_VMID16: 16-bit VMIDs, VTCR_EL2.VS set */
	/* VMID placed in VTTBR_EL2 (8 bits, 16 with vmid16) or hgatp (14). */
	uint16_t vmid;
};

/*
 * How data frames are zeroed before a guest sees them (table pages always
 * with ordinary stores: they are walked at once).
 */
enum aspace_zero {
	/* Streaming for 2 MiB frames, ordinary stores for 4 KiB ones. */
	ASPACE_ZERO_AUTO = 0,
	/*
	 * Ordinary stores: the frame is left in the CPU cache, ready for the
	 * guest's first touches, but each line is first read from memory
	 * (read for ownership): twice the memory traffic of the zeroes.
	 */
	ASPACE_ZERO_CACHED,
	/*
	 * Non-temporal stores (x86-64; elsewhere ordinary ones): half the
	 * memory traffic, so vCPUs faulting at once scale where memory
	 * bandwidth is the limit, but the guest's first touches then miss
	 * the cache. For fault-in storms (boot, migration, prefault) of
	 * memory the guest does not use at once.
	 */
	ASPACE_ZERO_STREAM,
};

struct aspace_config {
	enum aspace_format format;
	aspace_gpa_t base; /* the GPA window [base, base + size) */
	uint64_t size;
	/* AArch64 stage-2: IPA bits 32..48. Others: 0 or the format's width. */
	unsigned gpa_bits;
	const struct aspace_hal *hal; /* NULL: aspace_host_hal() */
	struct aspace_platform platform;
	enum aspace_rcu rcu;
	/* Frames a vCPU cache takes from / gives back to the HAL at once;
	 * 0: 32. */
	unsigned cache_batch;
	enum aspace_zero zero; /* data frame zeroing; 0: ASPACE_ZERO_AUTO */
};

struct aspace;
struct aspace_vcpu;

ASPACE_API int aspace_create(const struct aspace_config *cfg,
			     struct aspace **out);
/* Unmaps everything, returns every frame to the HAL. vCPUs must be detached. */
ASPACE_API void aspace_destroy(struct aspace *as);

/* The value the hypervisor loads to make the CPU walk these tables. */
struct aspace_hw_root {
	aspace_hpa_t root;  /* root table (concatenated tables on Arm) */
	uint64_t root_size; /* bytes: 4 KiB, 16 KiB (RISC-V), up to 64 KiB (Arm)
			     */
	unsigned levels;    /* levels walked */
	uint64_t eptp;	    /* x86: WB walks, walk length, root */
	uint64_t vttbr;	    /* arm64: VMID | root */
	uint64_t vtcr; /* arm64: T0SZ, SL0, IRGN0/ORGN0 WBWA, SH0 inner, TG0 4K,
			  PS */
	uint64_t hgatp; /* riscv: MODE | VMID | PPN */
};
ASPACE_API int aspace_hw_root(const struct aspace *as,
			      struct aspace_hw_root *out);

/*
 * Map [gpa, gpa + size) to host memory [hpa, hpa + size), eagerly, with the
 * largest leaves (1 GiB, 2 MiB, 4 KiB) that the GPA, the HPA, the remaining
 * size and the platform allow. -EEXIST if the range overlaps an area.
 */
ASPACE_API int aspace_map_linear(struct aspace *as, aspace_gpa_t gpa,
				 aspace_hpa_t hpa, uint64_t size,
				 unsigned flags);
/*
 * An area whose frames the library allocates from the HAL: all of them now
 * (populate) or each on its first fault (lazy). Lazy faults use a 2 MiB frame
 * where the 2 MiB block lies inside the area and the HAL can supply one.
 * Frames are zeroed and returned to the HAL when unmapped.
 */
ASPACE_API int aspace_map_alloc(struct aspace *as, aspace_gpa_t gpa,
				uint64_t size, unsigned flags, bool populate);
/*
 * Remove whatever maps [gpa, gpa + size). The range may cover parts of
 * areas (they are split) and gaps. Blocks that straddle the range are split
 * into tables that keep the rest. Tables left with no area in their span are
 * freed; frames are freed after the flush hook ran and an RCU grace period.
 */
ASPACE_API int aspace_unmap(struct aspace *as, aspace_gpa_t gpa, uint64_t size);
/*
 * Change the permissions of the areas in [gpa, gpa + size), splitting areas
 * and blocks at the edges. The whole range must be covered by areas
 * (-EFAULT otherwise). flags are permissions only: each area keeps its
 * memory type (a memory-type bit in flags is -EINVAL), because changing
 * the type of live memory needs a remap (on Arm, break-before-make of
 * every leaf), which unmap + map expresses better.
 */
ASPACE_API int aspace_protect(struct aspace *as, aspace_gpa_t gpa,
			      uint64_t size, unsigned flags);
/* Unmap every area. */
ASPACE_API void aspace_clear(struct aspace *as);
/*
 * Wait until every frame that earlier calls released (freed only after an
 * RCU grace period) is back in the HAL. Must not be called from inside a
 * vCPU call. Useful before accounting host memory, and in tests.
 */
ASPACE_API void aspace_barrier(struct aspace *as);

/*
 * Copy-on-write clone: a new address space with the same configuration,
 * HAL and areas. Linear areas map the same host memory. Alloc areas share
 * their frames: both sides map them read-only, and the first write on
 * either side copies the frame (a 2 MiB frame is copied whole) unless the
 * other side has let go of it, in which case it becomes writable in place.
 * A frame is freed when its last mapping goes, whichever side and order.
 * Safe while vCPUs of src run; a page they fault in during the clone may
 * or may not be shared. Lazy pages not yet faulted stay lazy on both
 * sides. A failed clone (-ENOMEM) leaves src as it was.
 */
ASPACE_API int aspace_clone(struct aspace *src, struct aspace **out);

/*
 * Shared mappings (the seeds' copy_mappings_from / clear_mappings): dst
 * maps, at the same GPAs, the memory src maps in [gpa, gpa + size), e.g. a
 * firmware region common to many VMs. Linear areas map the same host
 * memory; alloc memory is populated in src, taken out of copy-on-write
 * sharing, and from then on shared: writes through either space are seen
 * by both, and clones of either share it as it is. dst gets tables of its
 * own and holds a reference on every frame, so unmapping or destroying
 * either side never frees memory the other still maps. Later changes to
 * src's areas do not propagate. The range must be covered by src's areas
 * (-EFAULT) and free in dst (-EEXIST); both spaces need the same HAL,
 * format and platform (-EINVAL). On -ENOMEM, lazy pages of src may have
 * been populated; nothing else changed.
 */
ASPACE_API int aspace_share_from(struct aspace *dst, struct aspace *src,
				 aspace_gpa_t gpa, uint64_t size);
/* Remove what dst maps in [gpa, gpa + size): the same as aspace_unmap. */
ASPACE_API int aspace_unshare(struct aspace *dst, aspace_gpa_t gpa,
			      uint64_t size);

/*
 * Resolve a second-stage fault at gpa for access (ASPACE_READ, _WRITE or
 * _EXEC, or several: x86 reports read|write for a read-modify-write). 0: the
 * fault is fixed (a lazy frame was mapped, or the entry was already right: a
 * spurious fault after a race). -EFAULT: a real fault (no area, or the area
 * does not allow the access). -ENOMEM: no frame.
 */
ASPACE_API int aspace_handle_fault(struct aspace *as, aspace_gpa_t gpa,
				   unsigned access);

/*
 * Fault hook: called for a fault that no area resolves (no area at gpa, or
 * the area does not allow the access), e.g. to dispatch MMIO emulation.
 * Its return value becomes the fault's result. It runs outside every lock
 * of the library, on the faulting thread. NULL removes it.
 */
typedef int (*aspace_fault_fn)(void *ctx, aspace_gpa_t gpa, unsigned access);
ASPACE_API int aspace_set_fault_handler(struct aspace *as, aspace_fault_fn fn,
					void *ctx);

struct aspace_xlate {
	aspace_hpa_t hpa;	 /* host address of gpa itself */
	uint64_t leaf_size;	 /* 4 KiB, 2 MiB or 1 GiB */
	unsigned flags;		 /* decoded from the leaf entry */
	aspace_gpa_t area_start; /* the area containing gpa */
	uint64_t area_size;
};
/* -ENOENT: nothing mapped there (yet); -EINVAL: gpa outside the window. */
ASPACE_API int aspace_translate(struct aspace *as, aspace_gpa_t gpa,
				struct aspace_xlate *out);

/*
 * Guest memory seen from the host, e.g. for device emulation. These calls
 * are host accesses: the guest permissions of the areas are not applied,
 * but every byte must lie in a RAM area (-EFAULT for gaps and DEVICE
 * areas, checked before anything happens). Any alignment and length are
 * accepted. A read of a lazy page not yet faulted reads zeros and maps
 * nothing; writes and iovs fault lazy pages in and break copy-on-write
 * sharing first, as a DMA would, and only then copy: on -ENOMEM nothing
 * was written, though pages faulted in so far stay mapped (reading as the
 * zeros they read as before).
 *
 * aspace_guest_iov fills iov[0..n) with host segments of [gpa, gpa + len),
 * split at leaf boundaries (alloc frames need not be contiguous) and returns
 * the number used; -ENOSPC if n is too small (nothing is truncated).
 * Segments stay valid until the range is unmapped; on the vCPU path, until
 * the next quiescent state.
 */
ASPACE_API int aspace_guest_iov(struct aspace *as, aspace_gpa_t gpa, size_t len,
				struct iovec *iov, int n);
ASPACE_API int aspace_read(struct aspace *as, aspace_gpa_t gpa, void *buf,
			   size_t len);
ASPACE_API int aspace_write(struct aspace *as, aspace_gpa_t gpa,
			    const void *buf, size_t len);

/*
 * vCPU handles. Attach from the vCPU thread; the handle belongs to that
 * thread. Attaching registers the thread with the address space's RCU
 * flavour (nesting is counted, so one thread may attach to several address
 * spaces). Returns NULL with errno set on failure.
 */
ASPACE_API struct aspace_vcpu *aspace_vcpu_attach(struct aspace *as);
/* Drains the frame cache back to the HAL and unregisters the thread. */
ASPACE_API void aspace_vcpu_detach(struct aspace_vcpu *vcpu);

ASPACE_API int aspace_vcpu_fault(struct aspace_vcpu *vcpu, aspace_gpa_t gpa,
				 unsigned access);
ASPACE_API int aspace_vcpu_translate(struct aspace_vcpu *vcpu, aspace_gpa_t gpa,
				     struct aspace_xlate *out);
ASPACE_API int aspace_vcpu_read(struct aspace_vcpu *vcpu, aspace_gpa_t gpa,
				void *buf, size_t len);
ASPACE_API int aspace_vcpu_write(struct aspace_vcpu *vcpu, aspace_gpa_t gpa,
				 const void *buf, size_t len);

/*
 * QSBR address spaces: a vCPU thread is "online" and holds back every grace
 * period (and so every unmap) until it reports a quiescent state: call
 * aspace_vcpu_quiescent() at each VM entry, and aspace_vcpu_offline() before
 * blocking (HLT emulation, waiting for I/O), aspace_vcpu_online() after.
 * With ASPACE_RCU_MEMB these are no-ops. Every control-path call (and
 * waiting for a clone in aspace_vcpu_write) is a quiescent state too: a
 * QSBR thread goes offline while it waits for the control-path lock.
 */
ASPACE_API void aspace_vcpu_quiescent(struct aspace_vcpu *vcpu);
ASPACE_API void aspace_vcpu_offline(struct aspace_vcpu *vcpu);
ASPACE_API void aspace_vcpu_online(struct aspace_vcpu *vcpu);

/* Counters, summed over the control path and every vCPU on read. */
struct aspace_stats {
	uint64_t mapped_4k, mapped_2m, mapped_1g; /* leaves present */
	uint64_t table_pages;			  /* table frames held */
	uint64_t data_frames_bytes;		  /* alloc frames held */
	uint64_t faults, faults_fixed, faults_spurious, faults_real;
	uint64_t splits, flushes;
	uint64_t cow_breaks;   /* writes that copied a shared frame */
	uint64_t cow_reuses;   /* writes that found it no longer shared */
	uint64_t cache_frames; /* 4 KiB and 2 MiB frames in caches (vCPUs',
				  control path's) */
};
ASPACE_API void aspace_stats(struct aspace *as, struct aspace_stats *st);

/* Accessors. */
ASPACE_API aspace_gpa_t aspace_base(const struct aspace *as);
ASPACE_API uint64_t aspace_size(const struct aspace *as);
ASPACE_API enum aspace_format aspace_format(const struct aspace *as);
ASPACE_API const char *aspace_format_name(enum aspace_format fmt);

/* ---- queries (seed parity) ---- */

/*
 * Find a free GPA range of size bytes (a non-zero multiple of 4 KiB),
 * aligned to align (ASPACE_PAGE_SIZE, ASPACE_BLOCK_2M or ASPACE_BLOCK_1G),
 * inside [limit_start, limit_end) intersected with the window, that
 * overlaps no area. The search is first fit, upwards from hint rounded up
 * to align; a hint below the limits (or the window) starts at their start
 * rounded up to align. It does not wrap around to below hint. A range that
 * ends exactly at limit_end fits, and so does one that starts exactly where
 * an area ends. 0 with the start in *gpa; -ENOMEM when nothing fits;
 * -EINVAL for a bad size or align, limit_start >= limit_end, or NULL gpa.
 * The answer can be stale as soon as the lock is dropped: callers that
 * race other mappers must handle -EEXIST from the map that follows.
 */
ASPACE_API int aspace_find_free_area(struct aspace *as, aspace_gpa_t hint,
				     uint64_t size, aspace_gpa_t limit_start,
				     aspace_gpa_t limit_end, uint64_t align,
				     aspace_gpa_t *gpa);

/*
 * Prepare [gpa, gpa + size) for access (a non-zero set of
 * ASPACE_READ/WRITE/EXEC) now, so that the guest takes no fault there:
 * every page alloc areas would map on a first fault gets the frame a fault
 * would pick (2 MiB where the 2 MiB block lies inside the area and the
 * platform and HAL allow it, so a block that straddles the range edge is
 * mapped whole), and with ASPACE_WRITE every leaf shared copy-on-write
 * with a clone gets a private frame (2 MiB ones whole). Other present
 * leaves and linear areas are left as they are. The whole range must be
 * covered by areas that allow access. Errors: -EINVAL (bad range or
 * access), -EFAULT (a gap, or an area that does not allow access: nothing
 * is done), -ENOMEM. Unlike other calls, -ENOMEM does not undo: the pages
 * done before the HAL ran dry stay so (they are what faults would have
 * done anyway), the rest stay absent or shared.
 */
ASPACE_API int aspace_populate(struct aspace *as, aspace_gpa_t gpa,
			       uint64_t size, unsigned access);

/*
 * True when every byte of [gpa, gpa + size) lies in areas that all allow
 * access (a non-zero set of ASPACE_READ/WRITE/EXEC). Any alignment; false
 * for size 0, a range that wraps or leaves the window, or a bad access.
 * This asks about areas, not entries: lazy pages not yet faulted in count.
 */
ASPACE_API bool aspace_check_access(struct aspace *as, aspace_gpa_t gpa,
				    uint64_t size, unsigned access);

/*
 * Range query: the translations of a GPA range as runs, in GPA order.
 * A mapped run is a stretch of consecutive leaves of one leaf size and one
 * flags value whose host addresses are contiguous: hpa is the host address
 * of gpa, and gpa + i maps to hpa + i for every i < size. flags are what
 * aspace_translate reports (permissions and memory type; on RISC-V without
 * Svpbmt the memory type of the area). Runs follow the tables, not the
 * areas: one run may cross from one area into a neighbour that maps alike.
 * An unmapped run (mapped false, hpa, leaf_size and flags 0) is a stretch
 * where aspace_translate would return -ENOENT. Runs are maximal (two
 * neighbours could never be merged into one) except where the state
 * changed between two calls, and together cover [gpa, gpa + size) exactly:
 * the first and last run are clipped to the range.
 */
struct aspace_run {
	aspace_gpa_t gpa;
	uint64_t size;
	bool mapped;
	aspace_hpa_t hpa;
	uint64_t leaf_size; /* 4 KiB, 2 MiB or 1 GiB; 0 when unmapped */
	unsigned flags;
};

/* Iterator state. Private: fill with aspace_query_begin only. */
struct aspace_query {
	struct aspace *as;
	aspace_gpa_t next; /* start of the next run */
	aspace_gpa_t end;  /* end of the range */
};

/*
 * Start a query of [gpa, gpa + size); any alignment. Returns int, not void,
 * so that a range that cannot be iterated is reported rather than silently
 * clipped: -EINVAL for size 0, a wrapping range or one that leaves the
 * window (then aspace_query_next returns false at once). Allocates nothing:
 * an iterator needs no clean-up.
 */
ASPACE_API int aspace_query_begin(struct aspace *as, aspace_gpa_t gpa,
				  uint64_t size, struct aspace_query *q);
/*
 * The next run in *run; false when the range is done. Each call takes the
 * control lock for its own walk, which starts at the end of the previous
 * run and skips empty entries at whatever level they sit. So it is safe to
 * query while vCPUs fault and other threads map and unmap, and each run
 * reflects the state at the moment it was produced (a run may show a page
 * that a vCPU faulted in after the previous run was produced).
 */
ASPACE_API bool aspace_query_next(struct aspace_query *q,
				  struct aspace_run *run);

/*
 * Print a listing to f, for debugging: a header line (format, window,
 * root table, levels), the areas (range, size, linear/alloc, permissions
 * as "RWX"/"R--", memory type WB/DEV/NC), then the mapped runs of the
 * window as aspace_query_next reports them (range, size, host address,
 * leaf size, permissions, memory type). Ranges are [start, end) in hex.
 * No lock is held while f is written, so the listing is not one snapshot
 * when other threads change the space meanwhile.
 */
ASPACE_API void aspace_dump(struct aspace *as, FILE *f);

#ifdef __cplusplus
}
#endif
#endif /* ASPACE_ASPACE_H */
