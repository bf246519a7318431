/* SPDX-License-Identifier: MIT */
/*
 * Reset path of the x86 runner ROM and the VM entry/exit glue.
 * The CPU starts in real mode at 0xfffffff0 with CS.base 0xffff0000, so
 * 16-bit code addresses ROM data as offsets from rom_start.
 */
	.section .reset, "ax"
	.code16
	.globl reset_vector
reset_vector:
	jmp	real_mode_entry

	.section .text.start, "ax"
	.code16
rom_start:			/* linked first: 0xffff0000 */
real_mode_entry:
	cli
	lgdtl	%cs:(gdt_desc - rom_start)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $protected_mode_entry

	.code32
protected_mode_entry:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$0x80000, %esp
	/* .data lives in ROM until copied; .bss starts zeroed. */
	movl	$data_load, %esi
	movl	$data_start, %edi
	movl	$data_end, %ecx
	subl	%edi, %ecx
	cld
	rep movsb
	movl	$bss_start, %edi
	movl	$bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb
	call	main
1:	hlt
	jmp	1b

	.p2align 3
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf93000000ffff	/* 0x10: flat data */
	.quad	0x00008b0000000067	/* 0x18: 32-bit busy TSS at 0 */
gdt_end:
	.globl gdt_desc
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

/*
 * int vmx_enter(struct guest_regs *regs, int launched)
 * Loads the guest's general registers, enters the guest, and returns 0
 * after the next VM exit (with the guest's registers saved back), or -1
 * when VMLAUNCH/VMRESUME itself failed. HOST_RSP points at the saved
 * regs pointer, HOST_RIP at vmx_exit_entry.
 */
	.text
	.globl vmx_enter
vmx_enter:
	pushl	%ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	movl	20(%esp), %eax		/* regs */
	movl	24(%esp), %ecx		/* launched */
	pushl	%eax
	movl	$0x6c14, %edx		/* HOST_RSP */
	vmwrite	%esp, %edx
	movl	$0x6c16, %edx		/* HOST_RIP */
	movl	$vmx_exit_entry, %ebx
	vmwrite	%ebx, %edx
	testl	%ecx, %ecx
	movl	4(%eax), %ebx
	movl	8(%eax), %ecx
	movl	12(%eax), %edx
	movl	16(%eax), %esi
	movl	20(%eax), %edi
	movl	24(%eax), %ebp
	movl	0(%eax), %eax
	jnz	1f
	vmlaunch
	jmp	2f
1:	vmresume
2:	popl	%eax
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	movl	$-1, %eax
	ret

vmx_exit_entry:
	pushl	%eax
	movl	4(%esp), %eax
	popl	0(%eax)
	movl	%ebx, 4(%eax)
	movl	%ecx, 8(%eax)
	movl	%edx, 12(%eax)
	movl	%esi, 16(%eax)
	movl	%edi, 20(%eax)
	movl	%ebp, 24(%eax)
	popl	%eax
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	xorl	%eax, %eax
	ret

/* Guest code, copied to the guest's stub page: one read and one write probe. */
	.section .rodata
	.globl guest_stub, guest_stub_end, guest_stub_write
guest_stub:
	invlpg	(%esi)
	movl	(%esi), %eax
	movl	4(%esi), %edx
	vmcall
guest_stub_write:
	invlpg	(%esi)
	movl	%eax, (%esi)
	movl	%edx, 4(%esi)
	vmcall
guest_stub_end:

	.section .note.GNU-stack, "", @progbits
