/* SPDX-License-Identifier: MIT */
#include "hw_model.h"

#include <stdlib.h>
#include <string.h>

void hw_model_init(struct hw_model *m)
{
	memset(m, 0, sizeof(*m));
}

void hw_model_fini(struct hw_model *m)
{
	free(m->areas);
	memset(m, 0, sizeof(*m));
}

static uint64_t area_end(const struct hw_area *a)
{
	return a->gpa + a->size;
}

const struct hw_area *hw_model_find(const struct hw_model *m, uint64_t gpa)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (gpa >= m->areas[i].gpa && gpa < area_end(&m->areas[i]))
			return &m->areas[i];
	return NULL;
}

bool hw_model_overlaps(const struct hw_model *m, uint64_t gpa, uint64_t size)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (gpa < area_end(&m->areas[i]) &&
		    m->areas[i].gpa < gpa + size)
			return true;
	return false;
}

bool hw_model_covered(const struct hw_model *m, uint64_t gpa, uint64_t size)
{
	uint64_t end = gpa + size;
	unsigned i;

	/* Areas are sorted: walk them, requiring no gap. */
	for (i = 0; i < m->n && gpa < end; i++) {
		const struct hw_area *a = &m->areas[i];

		if (area_end(a) <= gpa)
			continue;
		if (a->gpa > gpa)
			return false;
		gpa = area_end(a);
	}
	return gpa >= end;
}

static void insert_at(struct hw_model *m, unsigned pos, const struct hw_area *a)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->areas = realloc(m->areas, m->cap * sizeof(*m->areas));
		if (!m->areas)
			abort();
	}
	memmove(&m->areas[pos + 1], &m->areas[pos],
		(m->n - pos) * sizeof(*m->areas));
	m->areas[pos] = *a;
	m->n++;
}

void hw_model_add(struct hw_model *m, const struct hw_area *a)
{
	unsigned pos = 0;

	while (pos < m->n && m->areas[pos].gpa < a->gpa)
		pos++;
	insert_at(m, pos, a);
}

/* The part of area a inside [lo, hi), which the caller ensures exists. */
static struct hw_area clip(const struct hw_area *a, uint64_t lo, uint64_t hi)
{
	struct hw_area c = *a;
	uint64_t start = a->gpa > lo ? a->gpa : lo;
	uint64_t end = area_end(a) < hi ? area_end(a) : hi;

	c.gpa = start;
	c.size = end - start;
	if (c.linear)
		c.hpa = a->hpa + (start - a->gpa);
	return c;
}

/* Split the area that straddles `at`, if any, into two at `at`. */
static void split_at(struct hw_model *m, uint64_t at)
{
	unsigned i;

	for (i = 0; i < m->n; i++) {
		struct hw_area *a = &m->areas[i];

		if (at > a->gpa && at < area_end(a)) {
			struct hw_area hi = clip(a, at, area_end(a));

			*a = clip(a, a->gpa, at);
			insert_at(m, i + 1, &hi);
			return;
		}
	}
}

void hw_model_remove(struct hw_model *m, uint64_t gpa, uint64_t size)
{
	unsigned i = 0;

	split_at(m, gpa);
	split_at(m, gpa + size);
	while (i < m->n) {
		if (m->areas[i].gpa >= gpa &&
		    area_end(&m->areas[i]) <= gpa + size) {
			memmove(&m->areas[i], &m->areas[i + 1],
				(m->n - i - 1) * sizeof(*m->areas));
			m->n--;
		} else {
			i++;
		}
	}
}

void hw_model_protect(struct hw_model *m, uint64_t gpa, uint64_t size,
		      unsigned flags, bool keep_memtype)
{
	unsigned i;

	split_at(m, gpa);
	split_at(m, gpa + size);
	for (i = 0; i < m->n; i++)
		if (m->areas[i].gpa >= gpa &&
		    area_end(&m->areas[i]) <= gpa + size)
			m->areas[i].flags =
				keep_memtype
					? flags | (m->areas[i].flags & 0x18)
					: flags;
}
