/* SPDX-License-Identifier: MIT */
/*
 * The driver's own model of an address space: the areas it asked for,
 * split by unmap and protect exactly as the API describes. It predicts the
 * return code of every call and what aspace_translate may say about a GPA,
 * independently of the library.
 */
#ifndef ASPACE_HW_MODEL_H
#define ASPACE_HW_MODEL_H

#include <stdbool.h>
#include <stdint.h>

struct hw_area {
	uint64_t gpa, size;
	unsigned flags;
	bool linear;
	uint64_t hpa; /* linear: host address of gpa */
};

struct hw_model {
	struct hw_area *areas; /* sorted by gpa, non-overlapping */
	unsigned n, cap;
};

void hw_model_init(struct hw_model *m);
void hw_model_fini(struct hw_model *m);
const struct hw_area *hw_model_find(const struct hw_model *m, uint64_t gpa);
bool hw_model_overlaps(const struct hw_model *m, uint64_t gpa, uint64_t size);
/* Every byte of [gpa, gpa + size) is inside some area. */
bool hw_model_covered(const struct hw_model *m, uint64_t gpa, uint64_t size);
void hw_model_add(struct hw_model *m, const struct hw_area *a);
void hw_model_remove(struct hw_model *m, uint64_t gpa, uint64_t size);
/* Caller checked coverage (and the memory-type rule for alloc areas). */
void hw_model_protect(struct hw_model *m, uint64_t gpa, uint64_t size,
		      unsigned flags, bool keep_memtype);

#endif
