/* SPDX-License-Identifier: MIT */
/* Entry of the AArch64 runner: QEMU virt with virtualization=on enters at EL2. */
	.section .text.start, "ax"
	.globl _start
_start:
	ldr	x0, =stack_top
	mov	sp, x0
	ldr	x0, =vectors
	msr	vbar_el2, x0
	isb
	bl	main
1:	wfi
	b	1b

/* Any exception at EL2 is a harness bug: report it and stop. */
	.p2align 11
vectors:
	.rept	16
	.p2align 7
	b	unexpected_exception
	.endr

unexpected_exception:
	ldr	x0, =stack_top
	mov	sp, x0
	mrs	x0, esr_el2
	mrs	x1, elr_el2
	mrs	x2, far_el2
	bl	hw_unexpected
2:	wfi
	b	2b

	.section .note.GNU-stack, "", %progbits
