/* SPDX-License-Identifier: MIT */
/* Entry and trap handling of the RISC-V runner (M-mode, no interrupts). */
	.option arch, +h
	.section .text.start, "ax"
	.globl _start
_start:
	la	sp, stack_top
	la	t0, trap_entry
	csrw	mtvec, t0
	la	t0, hw_trap_save
	csrw	mscratch, t0
	call	main
1:	j	1b

/*
 * Any trap records mcause, mtval and mtval2 and resumes after the faulting
 * instruction (a probe is always a 4-byte hlv.d/hsv.d). mscratch points to
 * struct { cause, tval, tval2, count, t1 save }.
 */
	.p2align 2
trap_entry:
	csrrw	t0, mscratch, t0
	sd	t1, 32(t0)
	csrr	t1, mcause
	sd	t1, 0(t0)
	csrr	t1, mtval
	sd	t1, 8(t0)
	csrr	t1, 0x34b		/* mtval2: binutils 2.40 has no name */
	sd	t1, 16(t0)
	ld	t1, 24(t0)
	addi	t1, t1, 1
	sd	t1, 24(t0)
	csrr	t1, mepc
	addi	t1, t1, 4
	csrw	mepc, t1
	ld	t1, 32(t0)
	csrrw	t0, mscratch, t0
	mret

	.text
	.globl	hw_hlv_d
hw_hlv_d:
	hlv.d	a0, (a0)
	ret

	.globl	hw_hsv_d
hw_hsv_d:
	hsv.d	a1, (a0)
	ret

	.globl	hw_hfence_gvma
hw_hfence_gvma:
	hfence.gvma	zero, zero
	ret

	.section .note.GNU-stack, "", @progbits
