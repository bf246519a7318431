/* SPDX-License-Identifier: MIT */
/*
 * A small walker of dumped tables, written from the manuals: it finds the
 * leaf entry that maps a GPA so the driver can show it in a mismatch report
 * and corrupt it on purpose in the self-test.
 */
#ifndef ASPACE_HW_WALK_H
#define ASPACE_HW_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aspace/aspace.h>

struct hw_walk_fmt {
	enum aspace_format format;
	unsigned levels;
	unsigned gpa_bits;
	uint64_t root;
};

struct hw_leaf {
	uint64_t entry_hpa; /* where the leaf entry lives */
	uint64_t entry;
	unsigned shift; /* log2 of the leaf size */
};

/* Host pointer for an HPA of the image, NULL if not in it. */
typedef void *(*hw_image_ptr)(void *ctx, uint64_t hpa);

/* 0 and *out filled when a valid leaf maps gpa; -1 otherwise. */
int hw_walk(const struct hw_walk_fmt *f, hw_image_ptr ptr, void *ctx,
	    uint64_t gpa, struct hw_leaf *out);

enum hw_corruption {
	HW_CORRUPT_REVOKE_WRITE,
	HW_CORRUPT_INVALIDATE,
	HW_CORRUPT_MOVE_OUTPUT, /* flip the lowest output-address bit */
	HW_CORRUPT_KINDS
};

/* The leaf entry with one corruption applied. */
uint64_t hw_corrupt_entry(enum aspace_format fmt, const struct hw_leaf *leaf,
			  enum hw_corruption kind);
/*
 * The aspace flags a leaf entry encodes, read from the manuals: R/W/X
 * (EPT bits 0-2; S2AP bits 6-7 and XN bit 54; RISC-V R/W/X) and the
 * memory type (EPT bits 5:3 UC/WC/WB; Arm MemAttr device/NC/WB; RISC-V
 * PBMT IO/NC when svpbmt). Encodings that the manuals make faulting or
 * that have no aspace meaning are described in why (empty when none):
 * they are what the emulators cannot show (QEMU 7.2 sets RISC-V A/D
 * itself; Bochs does not act on EPT memory types).
 */
unsigned hw_leaf_flags(enum aspace_format fmt, uint64_t entry, bool svpbmt,
		       char *why, size_t whysz);
/* Whether the leaf entry grants write access. */
int hw_leaf_writable(enum aspace_format fmt, uint64_t entry);

#endif
