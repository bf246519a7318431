/* SPDX-License-Identifier: MIT */
/*
 * x86 runner for Bochs (cpu model corei7_haswell_4770): a minimal 32-bit
 * hypervisor. It loads its input and the EPT tables from an ATA disk, turns
 * VMX on, and runs a guest with PAE paging under the EPT root given in the
 * input. Each probe points one guest PTE (the "window") at the probe GPA and
 * enters the guest at a stub that reads (or writes) 8 bytes through the
 * window and leaves with VMCALL. An EPT violation (exit 48) or
 * misconfiguration (exit 49) reports the fault instead.
 *
 * Guest memory (GPA = guest linear address, mapped by the driver's EPT
 * layout to GUEST_HPA): page 0 the PAE page directory, page 1 the page
 * table, page 2 the stub, page 3 the window.
 */
#include "rt.h"

#define E9_PORT 0xe9
#define SHUTDOWN_PORT 0x8900
#define HOST_PD 0x10000u
#define VMXON_REGION 0x11000u
#define VMCS_REGION 0x12000u
#define GUEST_HPA 0x200000u
#define INPUT_ADDR 0x400000u
#define WINDOW_LA 0x3000u
#define GUEST_STUB_LA 0x2000u
#define DISK_MAGIC 0x6b73694457483168ull /* "h1HWDisk" */

/* VMCS field encodings (SDM Vol. 3D, appendix B). */
enum {
	GUEST_ES_SEL = 0x800,
	GUEST_CS_SEL = 0x802,
	GUEST_SS_SEL = 0x804,
	GUEST_DS_SEL = 0x806,
	GUEST_FS_SEL = 0x808,
	GUEST_GS_SEL = 0x80a,
	GUEST_LDTR_SEL = 0x80c,
	GUEST_TR_SEL = 0x80e,
	HOST_ES_SEL = 0xc00,
	HOST_CS_SEL = 0xc02,
	HOST_SS_SEL = 0xc04,
	HOST_DS_SEL = 0xc06,
	HOST_FS_SEL = 0xc08,
	HOST_GS_SEL = 0xc0a,
	HOST_TR_SEL = 0xc0c,
	EPT_POINTER = 0x201a,
	GUEST_PHYS_ADDR = 0x2400,
	VMCS_LINK_PTR = 0x2800,
	GUEST_DEBUGCTL = 0x2802,
	GUEST_PDPTE0 = 0x280a,
	PIN_CTLS = 0x4000,
	PROC_CTLS = 0x4002,
	EXCEPTION_BITMAP = 0x4004,
	CR3_TARGET_COUNT = 0x400a,
	EXIT_CTLS = 0x400c,
	EXIT_MSR_STORE_COUNT = 0x400e,
	EXIT_MSR_LOAD_COUNT = 0x4010,
	ENTRY_CTLS = 0x4012,
	ENTRY_MSR_LOAD_COUNT = 0x4014,
	ENTRY_INTR_INFO = 0x4016,
	PROC_CTLS2 = 0x401e,
	VM_INSTR_ERROR = 0x4400,
	EXIT_REASON = 0x4402,
	EXIT_INTR_INFO = 0x4404,
	EXIT_INTR_ERROR = 0x4406,
	GUEST_ES_LIMIT = 0x4800,
	GUEST_ES_AR = 0x4814,
	GUEST_GDTR_LIMIT = 0x4810,
	GUEST_IDTR_LIMIT = 0x4812,
	GUEST_INTERRUPTIBILITY = 0x4824,
	GUEST_ACTIVITY = 0x4826,
	GUEST_SYSENTER_CS = 0x482a,
	HOST_SYSENTER_CS = 0x4c00,
	CR0_MASK = 0x6000,
	CR4_MASK = 0x6002,
	CR0_SHADOW = 0x6004,
	CR4_SHADOW = 0x6006,
	EXIT_QUALIFICATION = 0x6400,
	GUEST_LINEAR_ADDR = 0x640a,
	GUEST_CR0 = 0x6800,
	GUEST_CR3 = 0x6802,
	GUEST_CR4 = 0x6804,
	GUEST_ES_BASE = 0x6806,
	GUEST_GDTR_BASE = 0x6816,
	GUEST_IDTR_BASE = 0x6818,
	GUEST_DR7 = 0x681a,
	GUEST_RSP = 0x681c,
	GUEST_RIP = 0x681e,
	GUEST_RFLAGS = 0x6820,
	GUEST_PENDING_DBG = 0x6822,
	GUEST_SYSENTER_ESP = 0x6824,
	GUEST_SYSENTER_EIP = 0x6826,
	HOST_CR0 = 0x6c00,
	HOST_CR3 = 0x6c02,
	HOST_CR4 = 0x6c04,
	HOST_FS_BASE = 0x6c06,
	HOST_GS_BASE = 0x6c08,
	HOST_TR_BASE = 0x6c0a,
	HOST_GDTR_BASE = 0x6c0c,
	HOST_IDTR_BASE = 0x6c0e,
	HOST_SYSENTER_ESP = 0x6c10,
	HOST_SYSENTER_EIP = 0x6c12,
};

enum {
	MSR_FEATURE_CONTROL = 0x3a,
	MSR_VMX_BASIC = 0x480,
	MSR_VMX_PROCBASED2 = 0x48b,
	MSR_VMX_EPT_VPID_CAP = 0x48c,
	MSR_VMX_TRUE_PIN = 0x48d,
	MSR_VMX_TRUE_PROC = 0x48e,
	MSR_VMX_TRUE_EXIT = 0x48f,
	MSR_VMX_TRUE_ENTRY = 0x490,
	MSR_VMX_CR0_FIXED0 = 0x486,
	MSR_VMX_CR4_FIXED0 = 0x488,
};

#define PROC_ACTIVATE_SECONDARY (1u << 31)
#define PROC2_EPT (1u << 1)
#define PROC2_UNRESTRICTED (1u << 7)
#define EXIT_REASON_VMCALL 18
#define EXIT_REASON_EXCEPTION 0

struct guest_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp;
};

int vmx_enter(struct guest_regs *regs, int launched);
extern const uint8_t guest_stub[], guest_stub_write[], guest_stub_end[];
extern const uint8_t gdt_desc[];

static int launched;

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)));
}

void hw_putc(char c)
{
	outb(E9_PORT, (uint8_t)c);
}

void hw_exit(void)
{
	const char *s = "Shutdown";

	while (*s)
		outb(SHUTDOWN_PORT, (uint8_t)*s++);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void fail(const char *what, uint64_t v)
{
	hw_puts("HWERROR ");
	hw_puts(what);
	hw_putc(' ');
	hw_puthex(v);
	hw_putc('\n');
	hw_exit();
}

/* ATA PIO, primary channel, LBA28: nothing else runs, so just poll. */
static void ata_read(uint32_t lba, uint32_t count, void *dst)
{
	uint16_t *p = dst;

	while (count) {
		uint32_t n = count > 256 ? 256 : count;
		uint32_t s;

		while (inb(0x1f7) & 0x80)
			;
		outb(0x1f6, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
		outb(0x1f2, (uint8_t)n); /* 0 means 256 */
		outb(0x1f3, (uint8_t)lba);
		outb(0x1f4, (uint8_t)(lba >> 8));
		outb(0x1f5, (uint8_t)(lba >> 16));
		outb(0x1f7, 0x20);
		for (s = 0; s < n; s++) {
			uint8_t st;

			do
				st = inb(0x1f7);
			while ((st & 0x80) || !(st & 0x09));
			if (st & 0x01)
				fail("ata read error at lba", lba + s);
			__asm__ volatile("rep insw"
					 : "+D"(p), "+c"((uint32_t){256})
					 : "d"(0x1f0)
					 : "memory");
		}
		lba += n;
		count -= n;
	}
}

/*
 * The disk holds records: a 512-byte header {magic, destination, sectors}
 * followed by that many sectors; a header with 0 sectors ends the list.
 */
static void load_disk(void)
{
	static uint64_t hdr[64];
	uint32_t lba = 0;

	for (;;) {
		ata_read(lba++, 1, hdr);
		if (hdr[0] != DISK_MAGIC)
			fail("bad disk record at lba", lba - 1);
		if (!hdr[2])
			return;
		ata_read(lba, (uint32_t)hdr[2], (void *)(uintptr_t)hdr[1]);
		lba += (uint32_t)hdr[2];
	}
}

/* Identity-map 4 GiB with 4 MiB pages: VMX operation needs CR0.PG. */
static void enable_host_paging(void)
{
	uint32_t *pd = (uint32_t *)HOST_PD;
	uint32_t i, cr;

	for (i = 0; i < 1024; i++)
		pd[i] = i << 22 | 0x83; /* present, writable, 4 MiB */
	__asm__ volatile("mov %0, %%cr3" ::"r"(HOST_PD));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr));
	cr |= 1u << 4; /* PSE */
	__asm__ volatile("mov %0, %%cr4" ::"r"(cr));
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr));
	cr |= 1u << 31;
	__asm__ volatile("mov %0, %%cr0" ::"r"(cr));
}

static void vmwrite(uint32_t field, uint32_t value)
{
	uint8_t bad;

	__asm__ volatile("vmwrite %1, %2; setna %0"
			 : "=q"(bad)
			 : "rm"(value), "r"(field)
			 : "cc");
	if (bad)
		fail("vmwrite", field);
}

static void vmwrite64(uint32_t field, uint64_t value)
{
	vmwrite(field, (uint32_t)value);
	vmwrite(field + 1, (uint32_t)(value >> 32));
}

static uint32_t vmread(uint32_t field)
{
	uint32_t v;

	__asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
	return v;
}

static uint64_t vmread64(uint32_t field)
{
	return vmread(field) | (uint64_t)vmread(field + 1) << 32;
}

/* A control value honouring the allowed-0/allowed-1 settings of its MSR. */
static uint32_t adjust_ctl(uint32_t msr, uint32_t want)
{
	uint64_t cap = rdmsr(msr);
	uint32_t v = (want | (uint32_t)cap) & (uint32_t)(cap >> 32);

	if ((v & want) != want)
		fail("vmx control not supported, msr", msr);
	return v;
}

static uint32_t read_cr(int n)
{
	uint32_t v = 0;

	if (n == 0)
		__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	else if (n == 3)
		__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	else
		__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static void vmx_on(void)
{
	uint32_t revision = (uint32_t)rdmsr(MSR_VMX_BASIC) & 0x7fffffff;
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	uint64_t region;
	uint32_t cr0 = read_cr(0), cr4 = read_cr(4);
	uint8_t bad;

	if (!(fc & 1))
		wrmsr(MSR_FEATURE_CONTROL, fc | 0x5);
	cr0 |= (uint32_t)rdmsr(MSR_VMX_CR0_FIXED0);
	cr4 |= (uint32_t)rdmsr(MSR_VMX_CR4_FIXED0) | 1u << 13;
	__asm__ volatile("mov %0, %%cr0" ::"r"(cr0));
	__asm__ volatile("mov %0, %%cr4" ::"r"(cr4));
	*(volatile uint32_t *)VMXON_REGION = revision;
	*(volatile uint32_t *)VMCS_REGION = revision;
	region = VMXON_REGION;
	__asm__ volatile("vmxon %1; setna %0" : "=q"(bad) : "m"(region) : "cc");
	if (bad)
		fail("vmxon", 0);
	region = VMCS_REGION;
	__asm__ volatile("vmclear %1; setna %0"
			 : "=q"(bad)
			 : "m"(region)
			 : "cc");
	if (bad)
		fail("vmclear", 0);
	__asm__ volatile("vmptrld %1; setna %0"
			 : "=q"(bad)
			 : "m"(region)
			 : "cc");
	if (bad)
		fail("vmptrld", 0);
}

static void setup_host_state(void)
{
	const uint8_t *gd = gdt_desc;
	uint32_t gdt_base =
		gd[2] | gd[3] << 8 | gd[4] << 16 | (uint32_t)gd[5] << 24;

	vmwrite(HOST_CR0, read_cr(0));
	vmwrite(HOST_CR3, read_cr(3));
	vmwrite(HOST_CR4, read_cr(4));
	vmwrite(HOST_CS_SEL, 0x08);
	vmwrite(HOST_SS_SEL, 0x10);
	vmwrite(HOST_DS_SEL, 0x10);
	vmwrite(HOST_ES_SEL, 0x10);
	vmwrite(HOST_FS_SEL, 0x10);
	vmwrite(HOST_GS_SEL, 0x10);
	vmwrite(HOST_TR_SEL, 0x18);
	vmwrite(HOST_FS_BASE, 0);
	vmwrite(HOST_GS_BASE, 0);
	vmwrite(HOST_TR_BASE, 0);
	vmwrite(HOST_GDTR_BASE, gdt_base);
	vmwrite(HOST_IDTR_BASE, 0);
	vmwrite(HOST_SYSENTER_CS, 0);
	vmwrite(HOST_SYSENTER_ESP, 0);
	vmwrite(HOST_SYSENTER_EIP, 0);
}

static void setup_guest_segment(int i, uint32_t sel, uint32_t ar)
{
	vmwrite(GUEST_ES_SEL + 2 * i, sel);
	vmwrite(GUEST_ES_BASE + 2 * i, 0);
	vmwrite(GUEST_ES_LIMIT + 2 * i, 0xffffffff);
	vmwrite(GUEST_ES_AR + 2 * i, ar);
}

static void setup_guest_state(void)
{
	int i;

	/* ES CS SS DS FS GS LDTR TR */
	for (i = 0; i < 6; i++)
		setup_guest_segment(i, i == 1 ? 0x08 : 0x10,
				    i == 1 ? 0xc09b : 0xc093);
	setup_guest_segment(6, 0, 0x10000); /* LDTR unusable */
	setup_guest_segment(7, 0x18, 0x8b); /* busy 32-bit TSS */
	vmwrite(GUEST_ES_LIMIT + 14, 0x67);
	vmwrite(GUEST_GDTR_BASE, 0);
	vmwrite(GUEST_GDTR_LIMIT, 0);
	vmwrite(GUEST_IDTR_BASE, 0);
	vmwrite(GUEST_IDTR_LIMIT, 0);
	/* Protected mode with PAE paging: PG NE ET PE; CR4 PAE (+VMXE). */
	vmwrite(GUEST_CR0, 0x80000031 | (uint32_t)rdmsr(MSR_VMX_CR0_FIXED0));
	vmwrite(GUEST_CR4, 0x20 | (uint32_t)rdmsr(MSR_VMX_CR4_FIXED0));
	vmwrite(GUEST_CR3, 0);
	/* With EPT and PAE paging the PDPTEs come from the VMCS: PD at GPA 0.
	 */
	vmwrite64(GUEST_PDPTE0, 0x1);
	vmwrite64(GUEST_PDPTE0 + 2, 0);
	vmwrite64(GUEST_PDPTE0 + 4, 0);
	vmwrite64(GUEST_PDPTE0 + 6, 0);
	vmwrite(GUEST_DR7, 0x400);
	vmwrite(GUEST_RSP, 0);
	vmwrite(GUEST_RFLAGS, 0x2);
	vmwrite(GUEST_PENDING_DBG, 0);
	vmwrite(GUEST_INTERRUPTIBILITY, 0);
	vmwrite(GUEST_ACTIVITY, 0);
	vmwrite(GUEST_SYSENTER_CS, 0);
	vmwrite(GUEST_SYSENTER_ESP, 0);
	vmwrite(GUEST_SYSENTER_EIP, 0);
	vmwrite64(GUEST_DEBUGCTL, 0);
	vmwrite64(VMCS_LINK_PTR, ~0ull);
}

static void setup_controls(uint64_t eptp)
{
	uint64_t basic = rdmsr(MSR_VMX_BASIC);

	if (!(basic & (1ull << 55)))
		fail("no true vmx control msrs", basic >> 32);
	vmwrite(PIN_CTLS, adjust_ctl(MSR_VMX_TRUE_PIN, 0));
	vmwrite(PROC_CTLS,
		adjust_ctl(MSR_VMX_TRUE_PROC, PROC_ACTIVATE_SECONDARY));
	vmwrite(PROC_CTLS2,
		adjust_ctl(MSR_VMX_PROCBASED2, PROC2_EPT | PROC2_UNRESTRICTED));
	vmwrite(EXIT_CTLS, adjust_ctl(MSR_VMX_TRUE_EXIT, 0));
	vmwrite(ENTRY_CTLS, adjust_ctl(MSR_VMX_TRUE_ENTRY, 0));
	vmwrite(EXIT_MSR_STORE_COUNT, 0);
	vmwrite(EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite(ENTRY_INTR_INFO, 0);
	/* Every guest exception exits: a guest #PF must not go unseen. */
	vmwrite(EXCEPTION_BITMAP, 0xffffffff);
	vmwrite(CR3_TARGET_COUNT, 0);
	vmwrite(CR0_MASK, 0);
	vmwrite(CR4_MASK, 0);
	vmwrite(CR0_SHADOW, 0);
	vmwrite(CR4_SHADOW, 0);
	vmwrite64(EPT_POINTER, eptp);
}

/* Guest PD -> PT; PT maps its own pages and the window, linear == GPA. */
static void setup_guest_memory(void)
{
	uint64_t *pd = (uint64_t *)GUEST_HPA;
	uint64_t *pt = (uint64_t *)(GUEST_HPA + 0x1000);
	uint8_t *stub = (uint8_t *)(GUEST_HPA + 0x2000);
	const uint8_t *s;
	int i;

	for (i = 0; i < 512; i++)
		pd[i] = pt[i] = 0;
	pd[0] = 0x1000 | 0x3;
	for (i = 0; i < 3; i++)
		pt[i] = (uint64_t)i << 12 | 0x3;
	for (s = guest_stub; s < guest_stub_end; s++)
		*stub++ = *s;
}

/*
 * status: 0 after VMCALL (value = what the guest read), else the exit
 * reason (48 EPT violation: value = GPA, extra = qualification; 49 EPT
 * misconfiguration) or, for a guest exception, 0x100 | vector with the
 * qualification (CR2 for #PF) as value and the error code as extra.
 */
static void exit_info(const struct guest_regs *regs, struct hw_access *out)
{
	uint32_t reason = vmread(EXIT_REASON);

	if (reason & 0x80000000u)
		fail("vm entry failed, reason", reason);
	switch (reason & 0xffff) {
	case EXIT_REASON_VMCALL:
		out->status = 0;
		out->value = (uint64_t)regs->edx << 32 | regs->eax;
		out->extra = 0;
		break;
	case EXIT_REASON_EXCEPTION:
		out->status = 0x100 | (vmread(EXIT_INTR_INFO) & 0xff);
		out->value = vmread(EXIT_QUALIFICATION);
		out->extra = vmread(EXIT_INTR_ERROR);
		break;
	default:
		out->status = reason;
		out->value = vmread64(GUEST_PHYS_ADDR);
		out->extra = vmread(EXIT_QUALIFICATION);
	}
}

static void guest_access(uint64_t gpa, const uint8_t *entry, uint64_t value,
			 struct hw_access *out)
{
	volatile uint64_t *window_pte =
		(uint64_t *)(GUEST_HPA + 0x1000 + (WINDOW_LA >> 12) * 8);
	struct guest_regs regs = {0};

	*window_pte = (gpa & ~0xfffull) | 0x3;
	regs.esi = WINDOW_LA + (uint32_t)(gpa & 0xfff);
	regs.eax = (uint32_t)value;
	regs.edx = (uint32_t)(value >> 32);
	vmwrite(GUEST_RIP, GUEST_STUB_LA + (uint32_t)(entry - guest_stub));
	if (vmx_enter(&regs, launched))
		fail(launched ? "vmresume, error" : "vmlaunch, error",
		     vmread(VM_INSTR_ERROR));
	launched = 1;
	exit_info(&regs, out);
}

void hw_read_probe(uint64_t gpa, struct hw_access *out)
{
	guest_access(gpa, guest_stub, 0, out);
}

void hw_write_probe(uint64_t gpa, uint64_t value, struct hw_access *out)
{
	guest_access(gpa, guest_stub_write, value, out);
}

int main(void);
int main(void)
{
	const struct hw_input *in = (const struct hw_input *)INPUT_ADDR;
	uint32_t ecx;

	load_disk();
	enable_host_paging();
	__asm__ volatile("cpuid" : "=c"(ecx) : "a"(1), "c"(0) : "ebx", "edx");
	if (!(ecx & (1u << 5)))
		fail("no vmx", ecx);
	vmx_on();
	setup_host_state();
	setup_guest_state();
	setup_controls(in->root);
	setup_guest_memory();
	hw_puts("HWRUNNER ");
	hw_puthex(vmread64(EPT_POINTER));
	hw_puts(" eptcap ");
	hw_puthex(rdmsr(MSR_VMX_EPT_VPID_CAP));
	hw_putc('\n');
	hw_run_probes(in);
	hw_exit();
	return 0;
}
