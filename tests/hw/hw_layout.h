/* SPDX-License-Identifier: MIT */
/*
 * One random layout: an address space built through the public API with a
 * HAL over the target's buffer, the driver's model of it, and the probes
 * chosen to exercise it.
 */
#ifndef ASPACE_HW_LAYOUT_H
#define ASPACE_HW_LAYOUT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aspace/aspace.h>

#include "hw_hal.h"
#include "hw_model.h"
#include "hw_rng.h"
#include "hw_target.h"

struct hw_case {
	enum aspace_format fmt;
	unsigned gpa_bits; /* width of the format's GPA (S2: cfg.gpa_bits) */
	unsigned index;	   /* layout number within the format */
	uint64_t seed;
	bool quiet; /* count failures without printing them */
};

/* What aspace_translate said about one probe. */
struct hw_expect {
	uint64_t gpa;
	bool mapped;
	uint64_t hpa;
	unsigned flags;
	uint64_t leaf_size;
};

struct hw_layout {
	struct hw_case c;
	const struct hw_target *t;
	char name[96];
	struct hw_rng rng;
	struct hw_hal hal;
	struct hw_model model;
	struct aspace *as;
	/* Half the faults and a second translation of every probe go
	 * through a vCPU handle: the lock-free path must build and read the
	 * same tables. */
	struct aspace_vcpu *vcpu;
	struct aspace_config cfg;
	uint64_t win_lo, win_hi; /* the GPA window */
	uint64_t op_lo, op_hi;	 /* where random areas usually go */
	uint64_t hot[4];	 /* clusters that share tables */
	uint64_t data_budget;	 /* bytes of alloc frames still allowed */
	uint64_t *faulted;	 /* GPAs whose fault was fixed */
	size_t nfaulted, cap_faulted;
	uint64_t *edges; /* GPAs where an op split something */
	size_t nedges, cap_edges;
	unsigned ops, failures;
	/* The root configuration is already known bad: probe mismatches
	 * follow from it and are counted, not listed. */
	bool root_config_bad;
	struct hw_expect *expect;
	size_t nexpect;
};

/* Creates the address space and runs the random operations. */
int hw_layout_build(struct hw_layout *l, const struct hw_case *c,
		    unsigned nops);
/* Picks probe GPAs and records what aspace_translate says for each. */
void hw_layout_probe_plan(struct hw_layout *l, size_t max_probes);
/* Destroys the address space and checks every frame came back. */
void hw_layout_destroy(struct hw_layout *l);

/* Reports a check failure (counted, printed up to a limit). */
void hw_fail(struct hw_layout *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
