/* SPDX-License-Identifier: MIT */
/* RISC-V G-stage PTE bits (Privileged spec, Sv39x4/48x4/57x4). */
#ifndef ASPACE_ARCH_GSTAGE_H
#define ASPACE_ARCH_GSTAGE_H

#include "pt_format.h"

#define RV_V (1ull << 0)
#define RV_R (1ull << 1)
#define RV_W (1ull << 2)
#define RV_X (1ull << 3)
#define RV_U (1ull << 4)
#define RV_A (1ull << 6)
#define RV_D (1ull << 7)
#define RV_PPN_SHIFT 10
#define RV_PBMT_SHIFT 61
#define RV_PBMT_NC 1ull
#define RV_PBMT_IO 2ull

/*
 * The walk and decode bits (struct pt_bits) of G-stage tables; svpbmt:
 * whether the entry's PBMT field is decoded (the platform has Svpbmt).
 */
#define GSTAGE_PT_BITS(svpbmt)                                                 \
	{                                                                      \
		.present_mask = RV_V, .table_mask = RV_R | RV_W | RV_X,        \
		.table_val = 0, .oa_mask = ((1ull << 44) - 1) << RV_PPN_SHIFT, \
		.oa_shift = 2, /* PPN at bit 10: (pte & ppn) << 2 */           \
			.r_shift = 1, .w_shift = 2, .x_shift = 3,              \
		.x_inverted = false, .mt_encoded = (svpbmt),                   \
		.mt_shift = RV_PBMT_SHIFT, .mt_mask = 3,                       \
		.mt_device = RV_PBMT_IO, .mt_uncached = RV_PBMT_NC,            \
		.dec_shift = 1, .dec_mask = 7, /* R W X */                     \
			.dec_xshift = 58,                                      \
		.dec_xmask = 0x18, /* PBMT, bits 61-62 */                      \
	}

#endif
