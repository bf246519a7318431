/* SPDX-License-Identifier: MIT */
/*
 * RISC-V G-stage translation (Privileged spec, hypervisor extension):
 * Sv39x4, Sv48x4 and Sv57x4. The root is widened by two bits: 2048 entries,
 * 16 KiB, 16 KiB aligned.
 */
#include <errno.h>

#include "riscv/gstage.h"

static pte_t gstage_leaf_attr(unsigned flags, bool svpbmt)
{
	/*
	 * Every G-stage access is a U-mode access, so leaves need U. A and D
	 * are set up front: without Svade/Svadu hardware an access with A=0
	 * (or a write with D=0) faults, and aspace does not track them (yet).
	 */
	pte_t pte = RV_V | RV_U | RV_A;

	if (flags & ASPACE_READ)
		pte |= RV_R;
	if (flags & ASPACE_WRITE)
		pte |= RV_W | RV_D;
	if (flags & ASPACE_EXEC)
		pte |= RV_X;
	/* PBMT is reserved without Svpbmt: there the PMAs decide. */
	if (svpbmt && (flags & ASPACE_DEVICE))
		pte |= RV_PBMT_IO << RV_PBMT_SHIFT;
	else if (svpbmt && (flags & ASPACE_UNCACHED))
		pte |= RV_PBMT_NC << RV_PBMT_SHIFT;
	return pte;
}

int gstage_format_init(struct pt_format *f, const struct aspace_config *cfg)
{
	unsigned hpa_bits =
		cfg->platform.hpa_bits ? cfg->platform.hpa_bits : 56;
	bool svpbmt = cfg->platform.svpbmt;

	if (hpa_bits < 32 || hpa_bits > 56 || cfg->platform.vmid >> 14)
		return -EINVAL;
	switch (cfg->format) {
	case ASPACE_FMT_SV39X4:
		f->levels = 3;
		break;
	case ASPACE_FMT_SV48X4:
		f->levels = 4;
		break;
	default:
		f->levels = 5;
		break;
	}
	f->gpa_bits = (uint8_t)(PT_LEVEL_SHIFT(f->levels - 1u) + 11u);
	f->bits = (struct pt_bits)GSTAGE_PT_BITS(svpbmt);
	f->root_order = 2;
	f->hpa_limit = 1ull << hpa_bits;
	f->table_bits = RV_V; /* non-leaf: V only; A, D, U reserved */
	f->size_bits[0] = 0;
	f->size_bits[1] = 0;
	f->table_self_perm = false;
	for (unsigned fl = 0; fl <= ASPACE_FLAGS_MASK; fl++) {
		f->leaf_attr[0][fl] = gstage_leaf_attr(fl, svpbmt);
		f->leaf_attr[1][fl] = gstage_leaf_attr(fl, svpbmt);
	}
	f->attr_mask = 0xfeull | (3ull << RV_PBMT_SHIFT);
	f->sw_mask = 3ull << 8;
	f->cow_bit = (3ull << 8) & -(3ull << 8);
	f->leaf_levels = pt_platform_leaf_levels(&cfg->platform);
	return 0;
}

void gstage_hw_root(const struct pt_format *f, const struct aspace_config *cfg,
		    aspace_hpa_t root, struct aspace_hw_root *out)
{
	uint64_t mode =
		8u + (f->levels - 3u); /* 8 Sv39x4, 9 Sv48x4, 10 Sv57x4 */

	out->hgatp = mode << 60 |
		     (uint64_t)(cfg->platform.vmid & 0x3fff) << 44 | root >> 12;
}
