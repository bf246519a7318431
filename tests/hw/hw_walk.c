/* SPDX-License-Identifier: MIT */
#include "hw_walk.h"

#include <stdio.h>
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

static void note(char *why, size_t whysz, const char *what)
{
	size_t n = strlen(why);

	if (n + 1 < whysz)
		snprintf(why + n, whysz - n, "%s%s", n ? ", " : "", what);
}

static unsigned ept_leaf_flags(uint64_t e, char *why, size_t whysz)
{
	unsigned f = 0;

	f |= e & 1 ? ASPACE_READ : 0;
	f |= e & 2 ? ASPACE_WRITE : 0;
	f |= e & 4 ? ASPACE_EXEC : 0;
	switch ((e >> 3) & 7) {
	case 0:
		f |= ASPACE_DEVICE; /* UC */
		break;
	case 1:
		f |= ASPACE_UNCACHED; /* WC */
		break;
	case 6:
		break; /* WB */
	default:
		note(why, whysz, "memory type neither UC, WC nor WB");
	}
	return f;
}

static unsigned s2_leaf_flags(uint64_t e, char *why, size_t whysz)
{
	unsigned f = 0;

	f |= e & (1ull << 6) ? ASPACE_READ : 0;
	f |= e & (1ull << 7) ? ASPACE_WRITE : 0;
	/* XN[54:53]: 0b00 executable; 0b10 not (bit 53 needs FEAT_XNX). */
	f |= (e >> 53) & 3 ? 0 : ASPACE_EXEC;
	if ((e >> 53) & 1)
		note(why, whysz, "XN[0] set (FEAT_XNX encoding)");
	switch ((e >> 2) & 0xf) {
	case 0x1:
		f |= ASPACE_DEVICE; /* Device-nGnRE */
		break;
	case 0x5:
		f |= ASPACE_UNCACHED; /* Normal non-cacheable */
		break;
	case 0xf:
		break; /* Normal write-back */
	default:
		note(why, whysz, "MemAttr neither device-nGnRE, NC nor WB");
	}
	if (!(e & (1ull << 10)))
		note(why, whysz, "AF clear");
	return f;
}

static unsigned riscv_leaf_flags(uint64_t e, bool svpbmt, char *why,
				 size_t whysz)
{
	unsigned f = 0, pbmt = (unsigned)(e >> 61) & 3;

	f |= e & 2 ? ASPACE_READ : 0;
	f |= e & 4 ? ASPACE_WRITE : 0;
	f |= e & 8 ? ASPACE_EXEC : 0;
	/* Without Svade hardware updating, A = 0 or a write with D = 0
	 * faults; every G-stage access is a U-mode access. */
	if (!(e & 0x40))
		note(why, whysz, "A clear");
	if ((e & 4) && !(e & 0x80))
		note(why, whysz, "writable with D clear");
	if (!(e & 0x10))
		note(why, whysz, "U clear");
	if (pbmt && !svpbmt)
		note(why, whysz, "PBMT set without Svpbmt");
	if (pbmt == 1)
		f |= ASPACE_UNCACHED;
	else if (pbmt == 2)
		f |= ASPACE_DEVICE;
	else if (pbmt == 3)
		note(why, whysz, "reserved PBMT 3");
	return f;
}

unsigned hw_leaf_flags(enum aspace_format fmt, uint64_t entry, bool svpbmt,
		       char *why, size_t whysz)
{
	why[0] = 0;
	if (is_ept(fmt))
		return ept_leaf_flags(entry, why, whysz);
	if (is_riscv(fmt))
		return riscv_leaf_flags(entry, svpbmt, why, whysz);
	return s2_leaf_flags(entry, why, whysz);
}
