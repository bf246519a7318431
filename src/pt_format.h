/* SPDX-License-Identifier: MIT */
/*
 * A second-stage table format described as data.
 *
 * The walker is generic: it knows levels, 512-entry tables and a root that
 * may be larger (RISC-V x4 roots, Arm concatenated tables). Everything a
 * format decides about entry bits is a mask, a shift or a precomputed
 * attribute word here, so the hot paths (walk, fault, translate) test bits
 * and never call through a pointer per level.
 *
 * Levels are numbered from the leaf up: level 0 maps 4 KiB, level 1 2 MiB,
 * level 2 1 GiB; the root is level fmt->levels - 1. (Arm counts the other
 * way; arch/arm64 converts.)
 */
#ifndef ASPACE_PT_FORMAT_H
#define ASPACE_PT_FORMAT_H

#include <stdbool.h>
#include <assert.h>
#include <stdint.h>

#include <aspace/aspace.h>

typedef uint64_t pte_t;

#define PT_ENTRIES 512u
#define PT_LEVEL_SHIFT(l) (12u + 9u * (l))
#define PT_LEVEL_SIZE(l) (1ull << PT_LEVEL_SHIFT(l))
#define PT_MAX_LEVELS 5u

/*
 * A frozen entry: non-present in every format (bit 0 clear, EPT bits 2:0
 * clear), and distinct from an empty one. The control path parks an entry
 * here while it is being replaced (Arm break-before-make); walkers that see
 * it back off and retry, faults return to the guest to retry.
 */
#define PTE_FROZEN 0x5a0ull

/*
 * The entry bits a walk and a leaf decode test: constant for a format
 * family (arch/x86/ept.h, arch/arm64/stage2.h, arch/riscv/gstage.h give
 * them as initializers), so the translate fast path can be instantiated
 * per family with them folded into immediates (guest.c).
 */
struct pt_bits {
	pte_t present_mask; /* present iff (pte & present_mask) != 0 */
	pte_t table_mask;   /* at level > 0, a present pte is a table iff */
	pte_t table_val;    /*   (pte & table_mask) == table_val */
	pte_t oa_mask;	    /* hpa = (pte & oa_mask) << oa_shift */
	uint8_t oa_shift;
	/* Decoding a leaf back to flags (translate, dump). */
	uint8_t r_shift, w_shift, x_shift;
	bool x_inverted;  /* Arm XN */
	bool mt_encoded;  /* false: the entry carries no memory type */
	uint8_t mt_shift; /* memory type field: (pte >> mt_shift) & mt_mask */
	pte_t mt_mask;
	pte_t mt_device, mt_uncached;
	/*
	 * Where the decode looks (translate's table, pte_decode_index): the
	 * bits (pte >> dec_shift) & dec_mask and (pte >> dec_xshift) &
	 * dec_xmask, together at most PT_DECODE_SIZE values.
	 */
	uint8_t dec_shift, dec_xshift;
	pte_t dec_mask, dec_xmask;
};

#define PT_DECODE_SIZE 128

struct pt_format {
	struct pt_bits bits;
	enum aspace_format id;
	uint8_t levels;	      /* levels walked */
	uint8_t gpa_bits;     /* GPAs are < 2^gpa_bits */
	uint8_t root_order;   /* root occupies 4 KiB << root_order */
	uint8_t leaf_levels;  /* bit l: leaves allowed at level l */
	bool table_self_perm; /* table entries carry permissions (EPT) */
	uint64_t root_mask;   /* index mask at the root (wider than 511) */
	pte_t table_bits;     /* a table entry is oa | table_bits */
	pte_t size_bits[2]; /* bits telling a 4 KiB page [0] from a block [1] */
	/* Bits a protect may rewrite on a leaf: permissions and attributes. */
	pte_t attr_mask;
	/*
	 * Bits the hardware ignores, kept for software: copy-on-write and
	 * dirty-logging marks of later features live here (EPT 52-58,
	 * Arm 55-58, RISC-V RSW 9:8). Splits and protects preserve them.
	 */
	pte_t sw_mask;
	pte_t cow_bit; /* lowest software bit: leaf write-protected, shared */
	uint64_t hpa_limit; /* output addresses must be below this */
	/* Attribute bits of a leaf: [0] 4 KiB page, [1] block, by flags. */
	pte_t leaf_attr[2][ASPACE_FLAGS_MASK + 1];
	/* pte_decode_bits of a leaf, by pte_decode_index (pt_decode_init). */
	uint8_t decode[PT_DECODE_SIZE];
};

static inline bool pte_present(const struct pt_format *f, pte_t pte)
{
	return (pte & f->bits.present_mask) != 0;
}

static inline bool pte_is_table(const struct pt_format *f, pte_t pte,
				unsigned level)
{
	return level > 0 && (pte & f->bits.table_mask) == f->bits.table_val;
}

static inline uint64_t pte_addr(const struct pt_format *f, pte_t pte)
{
	return (pte & f->bits.oa_mask) << f->bits.oa_shift;
}

static inline pte_t pte_oa(const struct pt_format *f, uint64_t hpa)
{
	return (hpa >> f->bits.oa_shift) & f->bits.oa_mask;
}

static inline pte_t pte_mk_table(const struct pt_format *f, uint64_t hpa)
{
	return pte_oa(f, hpa) | f->table_bits;
}

static inline pte_t pte_mk_leaf(const struct pt_format *f, uint64_t hpa,
				unsigned level, unsigned flags)
{
	return pte_oa(f, hpa) | f->leaf_attr[level > 0][flags];
}

static inline bool pt_leaf_ok(const struct pt_format *f, unsigned level)
{
	return (f->leaf_levels >> level) & 1;
}

/* Index of gpa in a table of the given level (the root may be wider). */
static inline unsigned pt_index(const struct pt_format *f, uint64_t gpa,
				unsigned level)
{
	uint64_t mask = level == f->levels - 1u ? f->root_mask : PT_ENTRIES - 1;

	return (unsigned)((gpa >> PT_LEVEL_SHIFT(level)) & mask);
}

/*
 * A leaf's permissions and memory type, as aspace flags. Branch-free, and
 * inline so that with a constant k (the translate fast path) it folds to a
 * few shifts and compares.
 */
_Static_assert(ASPACE_READ == 1 && ASPACE_WRITE == 2 && ASPACE_EXEC == 4,
	       "pte_decode_bits reads R, W, X as one 3-bit field");

static inline unsigned pte_decode_bits(const struct pt_bits k, pte_t pte)
{
	pte_t mt = (pte >> k.mt_shift) & k.mt_mask;
	unsigned flags;

	if (k.w_shift == k.r_shift + 1 && k.x_shift == k.r_shift + 2 &&
	    !k.x_inverted) /* R, W, X in a row, as EPT and RISC-V have them */
		flags = (unsigned)((pte >> k.r_shift) & 7);
	else
		flags = (unsigned)((pte >> k.r_shift) & 1) * ASPACE_READ |
			(unsigned)((pte >> k.w_shift) & 1) * ASPACE_WRITE |
			(unsigned)(((pte >> k.x_shift) & 1) ^ k.x_inverted) *
				ASPACE_EXEC;
	if (k.mt_encoded) {
		flags |= (mt == k.mt_device) * ASPACE_DEVICE;
		flags |= (mt == k.mt_uncached) * ASPACE_UNCACHED;
	}
	return flags;
}

/* The bits of a leaf that its flags depend on, as one small number. */
static inline unsigned pte_decode_index(const struct pt_bits k, pte_t pte)
{
	return (unsigned)(((pte >> k.dec_shift) & k.dec_mask) |
			  ((pte >> k.dec_xshift) & k.dec_xmask));
}

/*
 * Fill f->decode: every value of the decode index, back to an entry and
 * through pte_decode_bits. The same flags as pte_decode_bits for every
 * leaf, as long as dec_* cover every bit it reads (the arch headers).
 */
static inline void pt_decode_init(struct pt_format *f)
{
	const struct pt_bits k = f->bits;
	pte_t read = (1ull << k.r_shift) | (1ull << k.w_shift) |
		     (1ull << k.x_shift) |
		     (k.mt_encoded ? k.mt_mask << k.mt_shift : 0);

	assert(!(read & ~((k.dec_mask << k.dec_shift) |
			  (k.dec_xmask << k.dec_xshift))));
	assert(((k.dec_mask | k.dec_xmask) & ~(pte_t)(PT_DECODE_SIZE - 1)) ==
	       0);
	for (unsigned i = 0; i < PT_DECODE_SIZE; i++) {
		pte_t pte = ((i & k.dec_mask) << k.dec_shift) |
			    ((i & k.dec_xmask) << k.dec_xshift);

		f->decode[i] = (uint8_t)pte_decode_bits(k, pte);
	}
}

/* Per-family set-up and hardware root register values (arch/). */
int ept_format_init(struct pt_format *f, const struct aspace_config *cfg);
int s2_format_init(struct pt_format *f, const struct aspace_config *cfg);
int gstage_format_init(struct pt_format *f, const struct aspace_config *cfg);
void ept_hw_root(const struct pt_format *f, const struct aspace_config *cfg,
		 aspace_hpa_t root, struct aspace_hw_root *out);
void s2_hw_root(const struct pt_format *f, const struct aspace_config *cfg,
		aspace_hpa_t root, struct aspace_hw_root *out);
void gstage_hw_root(const struct pt_format *f, const struct aspace_config *cfg,
		    aspace_hpa_t root, struct aspace_hw_root *out);

/* Leaf levels a platform allows: always 4 KiB, then 2 MiB and 1 GiB. */
static inline uint8_t pt_platform_leaf_levels(const struct aspace_platform *p)
{
	uint8_t m = 1;

	if (!p->no_block_2m)
		m |= 2;
	if (!p->no_block_1g)
		m |= 4;
	return m;
}

#endif
