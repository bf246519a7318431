/* SPDX-License-Identifier: MIT */
/* Intel EPT entry bits (SDM Vol. 3C, 29.3.2). */
#ifndef ASPACE_ARCH_EPT_H
#define ASPACE_ARCH_EPT_H

#include "pt_format.h"

#define EPT_R (1ull << 0)
#define EPT_W (1ull << 1)
#define EPT_X (1ull << 2)
#define EPT_MT_SHIFT 3
#define EPT_MT_UC 0ull
#define EPT_MT_WC 1ull
#define EPT_MT_WB 6ull
#define EPT_IGNORE_PAT (1ull << 6)
#define EPT_PAGE_SIZE (1ull << 7) /* leaf in a PDPTE (1 GiB) or PDE (2 MiB) */

/* The walk and decode bits (struct pt_bits) of every EPT format. */
#define EPT_PT_BITS                                                            \
	{                                                                      \
		.present_mask = EPT_R | EPT_W | EPT_X,                         \
		.table_mask = EPT_PAGE_SIZE, .table_val = 0,                   \
		.oa_mask = ((1ull << 52) - 1) & ~0xfffull, .oa_shift = 0,      \
		.r_shift = 0, .w_shift = 1, .x_shift = 2, .x_inverted = false, \
		.mt_encoded = true, .mt_shift = EPT_MT_SHIFT, .mt_mask = 7,    \
		.mt_device = EPT_MT_UC, .mt_uncached = EPT_MT_WC,              \
		.dec_shift = 0, .dec_mask = 0x3f, /* R W X, memory type */     \
			.dec_xshift = 0, .dec_xmask = 0,                       \
	}

#endif
