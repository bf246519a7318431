/* SPDX-License-Identifier: MIT */
/*
 * Tiny freestanding runtime shared by the bare-metal runners: text output
 * over the target's console and the probe loop that every runner runs.
 */
#ifndef ASPACE_HW_RT_H
#define ASPACE_HW_RT_H

#include <stdint.h>

#include "../hw_proto.h"

/* Provided by each runner. */
void hw_putc(char c);
void hw_exit(void);

/* Outcome of one access through the second stage. */
struct hw_access {
	uint64_t status; /* 0: went through, else a fault code */
	uint64_t value;
	uint64_t extra;
};

/* Provided by each runner: one read and one write probe of gpa. */
void hw_read_probe(uint64_t gpa, struct hw_access *out);
void hw_write_probe(uint64_t gpa, uint64_t value, struct hw_access *out);

void hw_puts(const char *s);
void hw_puthex(uint64_t v);
/* Runs every probe of the input and prints the protocol lines. */
void hw_run_probes(const struct hw_input *in);

#endif
