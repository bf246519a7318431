/* SPDX-License-Identifier: MIT */
/* splitmix64: a seedable generator whose sequences replay exactly. */
#ifndef ASPACE_HW_RNG_H
#define ASPACE_HW_RNG_H

#include <stdint.h>

struct hw_rng {
	uint64_t state;
};

static inline uint64_t hw_rng_next(struct hw_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n == 0 gives 0. */
static inline uint64_t hw_rng_below(struct hw_rng *r, uint64_t n)
{
	return n ? hw_rng_next(r) % n : 0;
}

/* True with probability num/den. */
static inline int hw_rng_chance(struct hw_rng *r, unsigned num, unsigned den)
{
	return hw_rng_below(r, den) < num;
}

#endif
