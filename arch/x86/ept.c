/* SPDX-License-Identifier: MIT */
/*
 * Intel EPT (SDM Vol. 3C, "The Extended Page Table Mechanism").
 * 4-level walks cover 48-bit GPAs, 5-level walks 57-bit.
 */
#include <errno.h>

#include "x86/ept.h"

static pte_t ept_leaf_attr(unsigned flags, bool block)
{
	/* ASPACE_READ/WRITE/EXEC are bits 0..2, exactly EPT's R/W/X. */
	pte_t pte = flags & ASPACE_PERM_MASK;

	if (flags & ASPACE_DEVICE)
		pte |= EPT_MT_UC << EPT_MT_SHIFT;
	else if (flags & ASPACE_UNCACHED)
		pte |= EPT_MT_WC << EPT_MT_SHIFT;
	else /* normal memory: WB regardless of the guest's PAT */
		pte |= EPT_MT_WB << EPT_MT_SHIFT | EPT_IGNORE_PAT;
	if (block)
		pte |= EPT_PAGE_SIZE;
	return pte;
}

int ept_format_init(struct pt_format *f, const struct aspace_config *cfg)
{
	bool five = cfg->format == ASPACE_FMT_EPT5;
	unsigned hpa_bits =
		cfg->platform.hpa_bits ? cfg->platform.hpa_bits : 52;

	if (hpa_bits < 32 || hpa_bits > 52)
		return -EINVAL;
	f->levels = five ? 5 : 4;
	f->gpa_bits = five ? 57 : 48;
	f->bits = (struct pt_bits)EPT_PT_BITS;
	f->root_order = 0;
	f->hpa_limit = 1ull << hpa_bits;
	/* Table entries' permissions are ANDed into the walk: grant all. */
	f->table_bits = EPT_R | EPT_W | EPT_X;
	f->size_bits[0] = 0;
	f->size_bits[1] = EPT_PAGE_SIZE;
	f->table_self_perm = true;
	for (unsigned fl = 0; fl <= ASPACE_FLAGS_MASK; fl++) {
		f->leaf_attr[0][fl] = ept_leaf_attr(fl, false);
		f->leaf_attr[1][fl] = ept_leaf_attr(fl, true);
	}
	f->attr_mask = 0x7f; /* R, W, X, memory type, ignore-PAT */
	f->sw_mask = 0x7full << 52;
	f->cow_bit = (0x7full << 52) & -(0x7full << 52);
	f->leaf_levels = pt_platform_leaf_levels(&cfg->platform);
	return 0;
}

void ept_hw_root(const struct pt_format *f, const struct aspace_config *cfg,
		 aspace_hpa_t root, struct aspace_hw_root *out)
{
	/* Bits 2:0 walk memory type WB, bits 5:3 walk length - 1. */
	out->eptp = root | (uint64_t)(f->levels - 1) << 3 | EPT_MT_WB;
}
