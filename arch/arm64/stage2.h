/* SPDX-License-Identifier: MIT */
/* AArch64 stage-2 descriptor bits (Arm ARM D8.3, 4 KiB granule). */
#ifndef ASPACE_ARCH_STAGE2_H
#define ASPACE_ARCH_STAGE2_H

#include "pt_format.h"

#define S2_VALID (1ull << 0)
#define S2_TABLE_OR_PAGE (1ull << 1)
#define S2_MEMATTR_SHIFT 2
#define S2_MEMATTR_DEVICE_nGnRE 0x1ull
#define S2_MEMATTR_NORMAL_NC 0x5ull
#define S2_MEMATTR_NORMAL_WB 0xfull
#define S2_AP_R (1ull << 6)
#define S2_AP_W (1ull << 7)
#define S2_SH_INNER (3ull << 8)
#define S2_AF (1ull << 10)
#define S2_XN (2ull << 53) /* XN[54:53] = 0b10: no execution at EL1/EL0 */

/* The walk and decode bits (struct pt_bits) of stage 2, 4 KiB granule. */
#define S2_PT_BITS                                                             \
	{                                                                      \
		.present_mask = S2_VALID,                                      \
		.table_mask = S2_VALID | S2_TABLE_OR_PAGE,                     \
		.table_val = S2_VALID | S2_TABLE_OR_PAGE,                      \
		.oa_mask = ((1ull << 48) - 1) & ~0xfffull, .oa_shift = 0,      \
		.r_shift = 6, .w_shift = 7, .x_shift = 54, .x_inverted = true, \
		.mt_encoded = true, .mt_shift = S2_MEMATTR_SHIFT,              \
		.mt_mask = 0xf, .mt_device = S2_MEMATTR_DEVICE_nGnRE,          \
		.mt_uncached = S2_MEMATTR_NORMAL_NC, .dec_shift = 2,           \
		.dec_mask = 0x3f, /* MemAttr, S2AP */                          \
			.dec_xshift = 48,                                      \
		.dec_xmask = 0x40, /* XN[1], bit 54 */                         \
	}

#endif
