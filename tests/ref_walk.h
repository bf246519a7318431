/* SPDX-License-Identifier: MIT */
/*
 * Reference walker for the second-stage formats, written from the manuals
 * (Intel SDM Vol. 3C EPT; Arm ARM VMSAv8-64 stage 2, 4 KiB granule; RISC-V
 * privileged spec, hypervisor extension G-stage) and independent of the
 * library's sources. It decodes raw entries the way the CPU would and
 * reports every encoding the CPU would reject (EPT misconfiguration,
 * reserved encodings, faults a correct hypervisor must never cause) as
 * REF_INVALID with a reason.
 *
 * Levels are numbered from the leaf: level 0 maps 4 KiB, level 1 2 MiB,
 * level 2 1 GiB, and the root is level (levels - 1).
 */
#ifndef TESTS_REF_WALK_H
#define TESTS_REF_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aspace/aspace.h>

enum ref_status {
	REF_OK,		  /* a leaf translates the GPA */
	REF_NOT_PRESENT,  /* an entry on the walk is not valid */
	REF_OUT_OF_RANGE, /* GPA wider than the configured input size */
	REF_INVALID,	  /* misconfiguration / reserved encoding / bad read */
};

enum ref_memtype {
	REF_MT_NONE,   /* RISC-V without Svpbmt: the PMAs decide */
	REF_MT_WB,     /* normal write-back */
	REF_MT_NC,     /* normal non-cacheable (EPT WC, Arm Normal-NC, NC) */
	REF_MT_DEVICE, /* EPT UC, Arm Device-*, RISC-V IO */
	REF_MT_OTHER,  /* a valid type the library never emits (WT, WP...) */
};

typedef bool (*ref_read_fn)(void *ctx, uint64_t hpa, uint64_t *val);

struct ref_walker {
	enum aspace_format fmt;
	unsigned gpa_bits;  /* input address size decoded from the root */
	unsigned levels;    /* levels walked */
	unsigned root_bits; /* index bits resolved by the root level */
	aspace_hpa_t root;  /* root table address */
	uint64_t root_size; /* bytes */
	unsigned oa_bits;   /* output address bits allowed */
	bool svpbmt, no_1g, no_2m;
	ref_read_fn read;
	void *read_ctx;
};

struct ref_result {
	enum ref_status status;
	unsigned level;		/* level of the last entry read */
	uint64_t entry;		/* that entry */
	aspace_hpa_t entry_hpa; /* where it lives */
	aspace_hpa_t hpa;	/* REF_OK: translation of the GPA */
	aspace_gpa_t leaf_gpa;	/* REF_OK: first GPA of the leaf */
	uint64_t leaf_size;
	aspace_hpa_t leaf_hpa; /* output address of the leaf */
	unsigned perm;	       /* ASPACE_READ | _WRITE | _EXEC */
	enum ref_memtype mt;
	char why[160]; /* REF_INVALID / REF_OUT_OF_RANGE: the reason */
};

/*
 * Decode the hardware root registers (EPTP; VTTBR_EL2 + VTCR_EL2; hgatp) of
 * fmt and check them against the other fields of hw and the manuals.
 * Returns 0, or -1 with a reason in err.
 */
int ref_init(struct ref_walker *w, enum aspace_format fmt,
	     const struct aspace_hw_root *hw, const struct aspace_platform *pf,
	     ref_read_fn read, void *read_ctx, char *err, size_t errlen);

/* Walk one GPA. */
void ref_walk(const struct ref_walker *w, aspace_gpa_t gpa,
	      struct ref_result *out);

struct ref_table {
	aspace_hpa_t hpa;
	uint64_t size;	/* bytes (the root may be concatenated tables) */
	unsigned level; /* level of its entries */
	aspace_gpa_t gpa;
	uint64_t span;	  /* GPA bytes it covers */
	unsigned present; /* valid entries */
};

struct ref_visitor {
	/* Each table, the root included, after its entries. */
	int (*table)(void *arg, const struct ref_table *t);
	/* Each leaf and each invalid entry (status REF_OK / REF_INVALID). */
	int (*leaf)(void *arg, const struct ref_result *r);
	void *arg;
};

/*
 * Visit, in GPA order, every valid entry that intersects [gpa, gpa + size).
 * A callback returning non-zero stops the visit with that value.
 */
int ref_visit(const struct ref_walker *w, aspace_gpa_t gpa, uint64_t size,
	      const struct ref_visitor *v);

const char *ref_memtype_name(enum ref_memtype mt);

#endif /* TESTS_REF_WALK_H */
