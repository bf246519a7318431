/* SPDX-License-Identifier: MIT */
/*
 * The emulators that walk aspace's tables, their memory maps, and how one
 * run is prepared (image files), started and read back.
 */
#ifndef ASPACE_HW_TARGET_H
#define ASPACE_HW_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aspace/aspace.h>

#include "hw_hal.h"
#include "hw_proto.h"

enum hw_target_kind { HW_QEMU_RISCV, HW_QEMU_ARM, HW_BOCHS, HW_NTARGETS };

struct hw_target {
	enum hw_target_kind kind;
	const char *name;
	/* Where the HAL buffer (tables and alloc frames) sits in RAM. */
	uint64_t buf_base, buf_size;
	uint64_t input_addr;
	/* Host-physical range for linear areas. */
	uint64_t lin_lo, lin_hi;
	/* Highest GPA + 1 the runner can probe; 0: no limit of its own. */
	uint64_t probe_gpa_limit;
	/* Pages the runner's guest needs mapped (x86), identity in GPA. */
	uint64_t guest_gpa, guest_size, guest_hpa;
	/* The runner reads memory: probes need their words tagged. */
	bool reads_memory;
};

const struct hw_target *hw_target_get(enum hw_target_kind kind);
const struct hw_target *hw_target_for_format(enum aspace_format fmt);

struct hw_run_spec {
	const struct hw_target *t;
	const char *runner_dir, *work_dir;
	uint64_t root, aux;
	bool svpbmt; /* RISC-V: start the hart with Svpbmt */
	const struct hw_probe *probes;
	size_t nprobes;
	struct hw_hal *hal; /* the image: what the HAL handed out */
	/* Out: the root register as the CPU holds it after loading. */
	uint64_t root_loaded;
};

struct hw_result {
	uint64_t rs, rv, rx; /* read: status, value, extra */
	uint64_t ws, wv, wx; /* write */
};

/*
 * Writes the image and input files, runs the emulator, and fills
 * res[0..nprobes). 0 on success; -1 with a message in err when the run
 * itself failed (the emulator did not start, crashed, timed out or the
 * runner reported an error).
 */
int hw_run(struct hw_run_spec *s, struct hw_result *res, char *err,
	   size_t errsz);

#endif
