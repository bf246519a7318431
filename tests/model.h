/* SPDX-License-Identifier: MIT */
/*
 * Shadow model of an address space: what a correct library must show.
 * Areas are kept exactly as the operations cut them (the library may keep
 * equal neighbours merged; the checks allow for that). For alloc areas the
 * model knows which pages have a frame and what bytes were written there.
 */
#ifndef TESTS_MODEL_H
#define TESTS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aspace/aspace.h>

struct m_area {
	aspace_gpa_t start;
	uint64_t size;
	bool alloc;
	unsigned flags;
	aspace_hpa_t hpa; /* linear: host address of start */
	bool backed;	  /* linear: the host range is readable arena memory */
};

struct m_range {
	aspace_gpa_t start, end; /* [start, end) */
};

struct m_rangeset {
	struct m_range *r;
	size_t n, cap;
};

struct m_page;

struct model {
	struct m_area *areas; /* sorted, disjoint */
	size_t n, cap;
	struct m_rangeset present; /* alloc pages that hold a frame */
	struct m_page **buckets;   /* written alloc pages */
	size_t nbuckets, npages;
};

void model_init(struct model *m);
void model_free(struct model *m);
/* dst (initialised, any state) becomes a deep copy of src. */
void model_copy(struct model *dst, const struct model *src);

/* Index of the area holding gpa, or -1. */
long model_find(const struct model *m, aspace_gpa_t gpa);
/* Index of the first area ending after gpa (m->n if none). */
size_t model_lower(const struct model *m, aspace_gpa_t gpa);
bool model_overlaps(const struct model *m, aspace_gpa_t gpa, uint64_t size);
/* Every byte of [gpa, gpa + size) lies in an area. */
bool model_covered(const struct model *m, aspace_gpa_t gpa, uint64_t size);

void model_add(struct model *m, const struct m_area *a);
/* Unmap [gpa, gpa + size): areas cut, frames and contents dropped. */
void model_remove(struct model *m, aspace_gpa_t gpa, uint64_t size);
/* Give [gpa, gpa + size) (fully covered) new permissions, cutting areas;
 * each area keeps its memory type. */
void model_protect(struct model *m, aspace_gpa_t gpa, uint64_t size,
		   unsigned flags);
void model_clear(struct model *m);

/* Host address of gpa in a linear area. */
aspace_hpa_t model_linear_hpa(const struct m_area *a, aspace_gpa_t gpa);

/* Frames of alloc areas. */
bool model_present(const struct model *m, aspace_gpa_t gpa);
void model_set_present(struct model *m, aspace_gpa_t gpa, uint64_t size);

/* Contents of alloc pages: NULL means all zeros. */
const uint8_t *model_page(const struct model *m, aspace_gpa_t page);
/* Writable copy of the page, created as zeros. */
uint8_t *model_page_mut(struct model *m, aspace_gpa_t page);

/* Interval sets. */
void rs_add(struct m_rangeset *s, aspace_gpa_t start, aspace_gpa_t end);
void rs_remove(struct m_rangeset *s, aspace_gpa_t start, aspace_gpa_t end);
bool rs_contains(const struct m_rangeset *s, aspace_gpa_t addr);
bool rs_equal(const struct m_rangeset *a, const struct m_rangeset *b);
void rs_clear(struct m_rangeset *s);
void rs_free(struct m_rangeset *s);

#endif /* TESTS_MODEL_H */
