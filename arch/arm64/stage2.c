/* SPDX-License-Identifier: MIT */
/*
 * AArch64 stage-2 translation, 4 KiB granule (Arm ARM, VMSAv8-64 stage 2).
 *
 * The IPA size picks the start level; up to 16 tables may be concatenated
 * at the start level, which saves a level of walk: as Linux does, use the
 * fewest levels that concatenation allows, levels = (ipa_bits - 8) / 9.
 */
#include <errno.h>

#include "arm64/stage2.h"

static const unsigned s2_ps_sizes[] = {32, 36, 40, 42, 44, 48};

/* VTCR_EL2.PS: the smallest encodable physical size covering hpa_bits. */
static uint64_t s2_ps(unsigned hpa_bits)
{
	uint64_t ps = 0;

	while (ps < 5 && s2_ps_sizes[ps] < hpa_bits)
		ps++;
	return ps;
}

static unsigned s2_ps_bits(unsigned hpa_bits)
{
	return s2_ps_sizes[s2_ps(hpa_bits)];
}

static pte_t s2_leaf_attr(unsigned flags, bool block)
{
	pte_t pte = S2_VALID | S2_AF | S2_SH_INNER;
	pte_t attr = S2_MEMATTR_NORMAL_WB;

	if (!block)
		pte |= S2_TABLE_OR_PAGE;
	if (flags & ASPACE_DEVICE)
		attr = S2_MEMATTR_DEVICE_nGnRE;
	else if (flags & ASPACE_UNCACHED)
		attr = S2_MEMATTR_NORMAL_NC;
	pte |= attr << S2_MEMATTR_SHIFT;
	if (flags & ASPACE_READ)
		pte |= S2_AP_R;
	if (flags & ASPACE_WRITE)
		pte |= S2_AP_W;
	if (!(flags & ASPACE_EXEC))
		pte |= S2_XN;
	return pte;
}

int s2_format_init(struct pt_format *f, const struct aspace_config *cfg)
{
	unsigned bits = cfg->gpa_bits;
	unsigned hpa_bits =
		cfg->platform.hpa_bits ? cfg->platform.hpa_bits : 48;
	unsigned root_entries_log2;

	if (bits < 32 || bits > 48 || hpa_bits < 32 || hpa_bits > 48)
		return -EINVAL;
	/* The IPA range may not exceed the PA size PS configures. */
	if (bits > s2_ps_bits(hpa_bits))
		return -EINVAL;
	if (cfg->platform.vmid > (cfg->platform.vmid16 ? 0xffff : 0xff))
		return -EINVAL;
	f->bits = (struct pt_bits)S2_PT_BITS;
	f->levels = (uint8_t)((bits - 8) / 9);
	f->gpa_bits = (uint8_t)bits;
	root_entries_log2 = bits - PT_LEVEL_SHIFT(f->levels - 1u);
	f->root_order =
		root_entries_log2 > 9 ? (uint8_t)(root_entries_log2 - 9) : 0;
	f->hpa_limit = 1ull << hpa_bits;
	/* Stage-2 table descriptors carry no permissions (upper bits RES0). */
	f->table_bits = S2_VALID | S2_TABLE_OR_PAGE;
	f->size_bits[0] = S2_TABLE_OR_PAGE;
	f->size_bits[1] = 0;
	f->table_self_perm = false;
	for (unsigned fl = 0; fl <= ASPACE_FLAGS_MASK; fl++) {
		f->leaf_attr[0][fl] = s2_leaf_attr(fl, false);
		f->leaf_attr[1][fl] = s2_leaf_attr(fl, true);
	}
	f->attr_mask = 0x7fcull | (3ull << 53);
	/* Blocks exist at Arm levels 1 and 2 only: our levels 2 and 1. */
	f->sw_mask = 0xfull << 55;
	f->cow_bit = (0xfull << 55) & -(0xfull << 55);
	f->leaf_levels = pt_platform_leaf_levels(&cfg->platform);
	return 0;
}

void s2_hw_root(const struct pt_format *f, const struct aspace_config *cfg,
		aspace_hpa_t root, struct aspace_hw_root *out)
{
	unsigned hpa_bits =
		cfg->platform.hpa_bits ? cfg->platform.hpa_bits : 48;
	uint64_t t0sz = 64u - f->gpa_bits;
	/* 4 KiB granule: SL0 0 starts at Arm level 2, 1 at level 1, 2 at 0. */
	uint64_t sl0 = f->levels - 2u;

	out->vtcr = t0sz | sl0 << 6 | 1ull << 8 /* IRGN0 WBWA */
		    | 1ull << 10		/* ORGN0 WBWA */
		    | 3ull << 12		/* SH0 inner shareable */
		    | 0ull << 14		/* TG0 4 KiB */
		    | s2_ps(hpa_bits) << 16 | 1ull << 31 /* RES1 */
		    |
		    (uint64_t)cfg->platform.vmid16 << 19 /* VS: 16-bit VMID */;
	out->vttbr = root | (uint64_t)cfg->platform.vmid << 48;
}
