/* SPDX-License-Identifier: MIT */
/*
 * What the host-side driver hands a bare-metal runner, and what the runner
 * prints back. Shared by the driver (hosted C) and the runners (freestanding
 * C cross-compiled for riscv64, aarch64 and i386), so only fixed-width types.
 *
 * The driver writes one struct hw_input followed by nprobes struct hw_probe
 * into a raw file that the emulator loads at the target's input address.
 * For each probe the runner first stores HW_TAG(paint) at the host-physical
 * address `paint` (when non-zero), then makes the emulated CPU read the guest
 * physical address `gpa` through the second-stage MMU, then write back the
 * value it read (or 0 when the read faulted). Reading a tagged word tells
 * which host-physical word the translation reached without trusting where
 * the driver expected it: HW_TAG(x) is stored only at x. The AArch64 runner
 * asks the MMU with AT S12E1R/W instead and reports the output address.
 *
 * Output, one line per probe, all numbers hex:
 *   P <index> <rs> <rv> <rx> <ws> <wv> <wx>
 * rs/ws: 0 when the read/write went through, else a runner-specific fault
 * code (RISC-V mcause, AArch64 PAR_EL1.FST | S << 8, x86 VM-exit reason);
 * rv/wv: on success the value read (RISC-V, x86) or the PAR_EL1 value
 * (AArch64); on a fault the faulting GPA as the CPU reports it;
 * rx/wx: extra fault information (mtval / PAR_EL1 / exit qualification).
 * The runner starts with "HWRUNNER <root register as loaded>" and ends with
 * "HWDONE <count>".
 */
#ifndef ASPACE_HW_PROTO_H
#define ASPACE_HW_PROTO_H

#include <stdint.h>

#define HW_INPUT_MAGIC 0x7475706e49574831ull /* "1HWInput" */
#define HW_TAG_MAGIC 0x5a17000000000000ull
#define HW_TAG(hpa) ((uint64_t)(hpa) ^ HW_TAG_MAGIC)

struct hw_input {
	uint64_t magic;
	uint64_t root; /* hgatp, VTTBR_EL2 or EPTP */
	uint64_t aux;  /* VTCR_EL2 on AArch64, else 0 */
	uint64_t nprobes;
	uint64_t guest_gpa; /* x86: GPA where the guest's own pages are */
	uint64_t reserved[3];
};

struct hw_probe {
	uint64_t gpa;
	uint64_t paint; /* host-physical word to tag first, 0 = none */
};

#endif
