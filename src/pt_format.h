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

struct pt_format {
	enum aspace_format id;
	uint8_t levels;	      /* levels walked */
	uint8_t gpa_bits;     /* GPAs are < 2^gpa_bits */
	uint8_t root_order;   /* root occupies 4 KiB << root_order */
	uint8_t oa_shift;     /* hpa = (pte & oa_mask) << oa_shift */
	uint8_t leaf_levels;  /* bit l: leaves allowed at level l */
	bool table_self_perm; /* table entries carry permissions (EPT) */
	pte_t oa_mask;
	pte_t present_mask; /* present iff (pte & present_mask) != 0 */
	pte_t table_mask;   /* at level > 0, a present pte is a table iff */
	pte_t table_val;    /*   (pte & table_mask) == table_val */
	pte_t table_bits;   /* a table entry is oa | table_bits */
	pte_t size_bits[2]; /* bits telling a 4 KiB page [0] from a block [1] */
	uint64_t root_mask; /* index mask at the root (wider than 511) */
	/* Attribute bits of a leaf: [0] 4 KiB page, [1] block, by flags. */
	pte_t leaf_attr[2][ASPACE_FLAGS_MASK + 1];
	/* Decoding a leaf back to flags (translate, dump). */
	uint8_t r_shift, w_shift, x_shift;
	bool x_inverted;  /* Arm XN */
	uint8_t mt_shift; /* memory type field: (pte >> mt_shift) & mt_mask */
	pte_t mt_mask;
	bool mt_encoded; /* false: the entry carries no memory type */
	pte_t mt_device, mt_uncached;
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
};

static inline bool pte_present(const struct pt_format *f, pte_t pte)
{
	return (pte & f->present_mask) != 0;
}

static inline bool pte_is_table(const struct pt_format *f, pte_t pte,
				unsigned level)
{
	return level > 0 && (pte & f->table_mask) == f->table_val;
}

static inline uint64_t pte_addr(const struct pt_format *f, pte_t pte)
{
	return (pte & f->oa_mask) << f->oa_shift;
}

static inline pte_t pte_oa(const struct pt_format *f, uint64_t hpa)
{
	return (hpa >> f->oa_shift) & f->oa_mask;
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

/* A leaf's permissions and memory type, as aspace flags. */
static inline unsigned pte_decode_flags(const struct pt_format *f, pte_t pte)
{
	unsigned flags = 0;
	pte_t mt = (pte >> f->mt_shift) & f->mt_mask;

	if ((pte >> f->r_shift) & 1)
		flags |= ASPACE_READ;
	if ((pte >> f->w_shift) & 1)
		flags |= ASPACE_WRITE;
	if (((pte >> f->x_shift) & 1) != f->x_inverted)
		flags |= ASPACE_EXEC;
	if (f->mt_encoded && mt == f->mt_device)
		flags |= ASPACE_DEVICE;
	else if (f->mt_encoded && mt == f->mt_uncached)
		flags |= ASPACE_UNCACHED;
	return flags;
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
