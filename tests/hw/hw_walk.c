/* SPDX-License-Identifier: MIT */
#include "hw_walk.h"

#include <string.h>

enum entry_kind { ENTRY_INVALID, ENTRY_TABLE, ENTRY_LEAF };

static int is_ept(enum aspace_format f)
{
	return f == ASPACE_FMT_EPT4 || f == ASPACE_FMT_EPT5;
}

static int is_riscv(enum aspace_format f)
{
	return f == ASPACE_FMT_SV39X4 || f == ASPACE_FMT_SV48X4 ||
	       f == ASPACE_FMT_SV57X4;
}

/* lvl counts 9-bit index groups below this level: 0 = 4 KiB entries. */
static enum entry_kind classify(enum aspace_format f, uint64_t e, unsigned lvl)
{
	if (is_ept(f)) {
		/* SDM: not present when bits 2:0 are 0; bit 7 = page. */
		if (!(e & 7))
			return ENTRY_INVALID;
		return lvl == 0 || (e & 0x80) ? ENTRY_LEAF : ENTRY_TABLE;
	}
	if (is_riscv(f)) {
		/* Privileged spec: V = bit 0; R|W|X != 0 marks a leaf. */
		if (!(e & 1))
			return ENTRY_INVALID;
		return e & 0xe ? ENTRY_LEAF : ENTRY_TABLE;
	}
	/* Arm ARM: bit 0 valid; 0b11 table (page at level 3), 0b01 block. */
	if (!(e & 1))
		return ENTRY_INVALID;
	if (lvl == 0)
		return (e & 3) == 3 ? ENTRY_LEAF : ENTRY_INVALID;
	return (e & 3) == 3 ? ENTRY_TABLE : ENTRY_LEAF;
}

static uint64_t output_address(enum aspace_format f, uint64_t e)
{
	if (is_ept(f))
		return e & 0x000ffffffffff000ull;
	if (is_riscv(f))
		return ((e >> 10) & ((1ull << 44) - 1)) << 12;
	return e & 0x0000fffffffff000ull;
}

int hw_walk(const struct hw_walk_fmt *f, hw_image_ptr ptr, void *ctx,
	    uint64_t gpa, struct hw_leaf *out)
{
	uint64_t table = f->root;
	int lvl;

	if (f->gpa_bits < 64 && (gpa >> f->gpa_bits))
		return -1;
	for (lvl = (int)f->levels - 1; lvl >= 0; lvl--) {
		unsigned shift = 12 + 9 * (unsigned)lvl;
		uint64_t index = gpa >> shift;
		uint64_t *slot, e;

		/* The top level indexes every remaining GPA bit (concatenated
		 * or 2048-entry roots); the others nine bits each. */
		if (lvl != (int)f->levels - 1)
			index &= 511;
		slot = ptr(ctx, table + index * 8);
		if (!slot)
			return -1;
		memcpy(&e, slot, sizeof(e));
		switch (classify(f->format, e, (unsigned)lvl)) {
		case ENTRY_INVALID:
			return -1;
		case ENTRY_LEAF:
			out->entry_hpa = table + index * 8;
			out->entry = e;
			out->shift = shift;
			return 0;
		case ENTRY_TABLE:
			table = output_address(f->format, e);
			break;
		}
	}
	return -1;
}

int hw_leaf_writable(enum aspace_format fmt, uint64_t entry)
{
	if (is_ept(fmt))
		return (entry >> 1) & 1;
	if (is_riscv(fmt))
		return (entry >> 2) & 1;
	return (entry >> 7) & 1; /* S2AP[1] */
}

uint64_t hw_corrupt_entry(enum aspace_format fmt, const struct hw_leaf *leaf,
			  enum hw_corruption kind)
{
	uint64_t e = leaf->entry;

	switch (kind) {
	case HW_CORRUPT_REVOKE_WRITE:
		if (is_ept(fmt))
			return e & ~2ull;
		if (is_riscv(fmt))
			return e & ~4ull;
		return e & ~0x80ull;
	case HW_CORRUPT_INVALIDATE:
		return is_ept(fmt) ? e & ~7ull : e & ~1ull;
	case HW_CORRUPT_MOVE_OUTPUT:
	default:
		if (is_riscv(fmt))
			return e ^ (1ull << (10 + leaf->shift - 12));
		return e ^ (1ull << leaf->shift);
	}
}
