/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* vasprintf */
#include "hw_target.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GIB (1ull << 30)
#define MIB (1ull << 20)
#define RUN_TIMEOUT_S 120
#define DISK_MAGIC 0x6b73694457483168ull /* x86 runner's record magic */
#define DISK_UNIT (16 * 63 * 512)	 /* one cylinder of the Bochs disk */

/*
 * Memory maps. They must agree with the runners (INPUT_ADDR, GUEST_HPA,
 * link addresses) and leave the linear zone clear of runner, input and
 * buffer, since the runner tags words there.
 */
static const struct hw_target targets[HW_NTARGETS] = {
	[HW_QEMU_RISCV] =
		{
			.kind = HW_QEMU_RISCV,
			.name = "qemu-riscv64",
			/* RAM 0x80000000 + 3 GiB; runner at 0x80000000. */
			.buf_base = 0x88000000,
			.buf_size = 128 * MIB,
			.input_addr = 0x80200000,
			/* Holds the 1 GiB-aligned 0xc0000000 and 0x100000000;
			 * the device tree in the last 16 MiB is never used. */
			.lin_lo = 0x90000000,
			.lin_hi = 0x140000000,
			.reads_memory = true,
		},
	[HW_QEMU_ARM] =
		{
			.kind = HW_QEMU_ARM,
			.name = "qemu-aarch64",
			/* RAM 0x40000000 + 3 GiB; DTB at its start, runner
			   after. */
			.buf_base = 0x48000000,
			.buf_size = 128 * MIB,
			.input_addr = 0x40400000,
			/* AT S12E1R/W only translate: outputs may lie anywhere
			 * the output size allows, RAM or not. */
			.lin_lo = 0,
			.lin_hi = 1ull << 48,
		},
	[HW_BOCHS] =
		{
			.kind = HW_BOCHS,
			.name = "bochs",
			/* RAM 0 + 3 GiB. */
			.buf_base = 16 * MIB,
			.buf_size = 128 * MIB,
			.input_addr = 0x400000,
			.lin_lo = 256 * MIB,
			.lin_hi = 2 * GIB,
			/* The guest reaches GPAs through its PAE page tables,
			 * and Bochs' guest MAXPHYADDR is 40. */
			.probe_gpa_limit = 1ull << 40,
			.guest_gpa = 0,
			.guest_size = 0x4000,
			.guest_hpa = 0x200000,
			.reads_memory = true,
		},
};

const struct hw_target *hw_target_get(enum hw_target_kind kind)
{
	return &targets[kind];
}

const struct hw_target *hw_target_for_format(enum aspace_format fmt)
{
	switch (fmt) {
	case ASPACE_FMT_EPT4:
		return &targets[HW_BOCHS];
	case ASPACE_FMT_S2_4K:
		return &targets[HW_QEMU_ARM];
	case ASPACE_FMT_SV39X4:
	case ASPACE_FMT_SV48X4:
	case ASPACE_FMT_SV57X4:
		return &targets[HW_QEMU_RISCV];
	default:
		/* EPT5: Bochs 2.7 has no 5-level EPT. */
		return NULL;
	}
}

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int write_all(FILE *f, const void *buf, size_t n)
{
	return fwrite(buf, 1, n, f) == n ? 0 : -1;
}

static int write_input(FILE *f, const struct hw_run_spec *s)
{
	struct hw_input in = {
		.magic = HW_INPUT_MAGIC,
		.root = s->root,
		.aux = s->aux,
		.nprobes = s->nprobes,
		.guest_gpa = s->t->guest_gpa,
	};

	if (write_all(f, &in, sizeof(in)))
		return -1;
	return write_all(f, s->probes, s->nprobes * sizeof(*s->probes));
}

static int write_file(const char *path,
		      int (*fill)(FILE *f, const struct hw_run_spec *s),
		      const struct hw_run_spec *s)
{
	FILE *f = fopen(path, "wb");
	int rc;

	if (!f)
		return -1;
	rc = fill(f, s);
	if (fclose(f))
		rc = -1;
	return rc;
}

static int write_buffer(FILE *f, const struct hw_run_spec *s)
{
	uint64_t n = hw_hal_dump_size(s->hal);

	/* QEMU's loader wants at least one byte. */
	if (!n)
		return write_all(f, "", 1);
	return write_all(f, s->hal->mem, n);
}

static int disk_record(FILE *f, uint64_t dest, const void *data, uint64_t len)
{
	uint64_t hdr[64] = {DISK_MAGIC, dest, (len + 511) / 512};
	static const char zero[512];

	if (write_all(f, hdr, sizeof(hdr)) || write_all(f, data, len))
		return -1;
	return write_all(f, zero, (512 - len % 512) % 512);
}

static bool page_is_zero(const uint8_t *p)
{
	size_t i;

	for (i = 0; i < 4096; i++)
		if (p[i])
			return false;
	return true;
}

/* Only pages the HAL handed out and that hold something: Bochs RAM starts
 * zeroed, and reading the disk with PIO is not free. */
static int write_image_records(FILE *f, const struct hw_run_spec *s)
{
	struct hw_hal *h = s->hal;
	uint64_t n = hw_hal_dump_size(h) / 4096, p = 0;

	while (p < n) {
		uint64_t q = p;

		while (q < n && hw_hal_page_allocated(h, h->base + q * 4096) &&
		       !page_is_zero(h->mem + q * 4096))
			q++;
		if (q > p && disk_record(f, h->base + p * 4096,
					 h->mem + p * 4096, (q - p) * 4096))
			return -1;
		p = q + 1;
	}
	return 0;
}

static int write_disk(FILE *f, const struct hw_run_spec *s)
{
	size_t in_len =
		sizeof(struct hw_input) + s->nprobes * sizeof(*s->probes);
	uint8_t *in = malloc(in_len);
	struct hw_input *hdr = (struct hw_input *)in;
	long pos;
	int rc;

	if (!in)
		return -1;
	*hdr = (struct hw_input){
		.magic = HW_INPUT_MAGIC,
		.root = s->root,
		.aux = s->aux,
		.nprobes = s->nprobes,
		.guest_gpa = s->t->guest_gpa,
	};
	memcpy(hdr + 1, s->probes, s->nprobes * sizeof(*s->probes));
	rc = disk_record(f, s->t->input_addr, in, in_len);
	free(in);
	if (rc || write_image_records(f, s) || disk_record(f, 0, NULL, 0))
		return -1;
	/* Bochs derives the geometry from whole cylinders. */
	pos = ftell(f);
	if (pos < 0)
		return -1;
	while (pos % DISK_UNIT) {
		static const char zero[512];

		if (write_all(f, zero, 512))
			return -1;
		pos += 512;
	}
	return 0;
}

static int write_bochsrc(const char *work, const char *runner_rom)
{
	char *rc_path = path_in(work, "bochsrc");
	char *disk = path_in(work, "disk.img");
	struct stat st;
	FILE *f;
	int rc = -1;

	if (stat(disk, &st))
		goto out;
	f = fopen(rc_path, "w");
	if (!f)
		goto out;
	fprintf(f,
		"cpu: model=corei7_haswell_4770, count=1, ips=50000000\n"
		"memory: guest=3072, host=2048\n"
		"romimage: file=%s, address=0xffff0000\n"
		"vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest\n"
		"ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14\n"
		"ata0-master: type=disk, path=%s, mode=flat, cylinders=%lld, "
		"heads=16, spt=63\n"
		"display_library: term\n"
		"speaker: enabled=0\n"
		"sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy\n"
		"port_e9_hack: enabled=1\n"
		"clock: sync=none\n"
		"log: %s/bochs.log\n"
		"panic: action=fatal\nerror: action=report\n"
		"info: action=ignore\ndebug: action=ignore\n",
		runner_rom, disk, (long long)(st.st_size / DISK_UNIT), work);
	rc = fclose(f) ? -1 : 0;
out:
	free(rc_path);
	free(disk);
	return rc;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) ? -1 : 0;
}

#define MAX_ARGS 32

struct argv_builder {
	char *argv[MAX_ARGS];
	char *owned[MAX_ARGS];
	int argc, nowned;
};

static void arg(struct argv_builder *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	b->owned[b->nowned++] = s;
	b->argv[b->argc++] = s;
	b->argv[b->argc] = NULL;
}

static void free_args(struct argv_builder *b)
{
	int i;

	for (i = 0; i < b->nowned; i++)
		free(b->owned[i]);
}

static int prepare(const struct hw_run_spec *s, struct argv_builder *b,
		   char *err, size_t errsz)
{
	const char *w = s->work_dir, *r = s->runner_dir;
	char *in = path_in(w, "input.bin"), *tables = path_in(w, "tables.bin");
	char *disk = path_in(w, "disk.img");
	int rc = 0;

	switch (s->t->kind) {
	case HW_QEMU_RISCV:
	case HW_QEMU_ARM:
		if (write_file(in, write_input, s) ||
		    write_file(tables, write_buffer, s)) {
			rc = -1;
			break;
		}
		if (s->t->kind == HW_QEMU_RISCV) {
			arg(b, "qemu-system-riscv64");
			arg(b, "-machine");
			arg(b, "virt");
			arg(b, "-cpu");
			arg(b, "rv64,h=true%s",
			    s->svpbmt ? ",svpbmt=true" : "");
			arg(b, "-kernel");
			arg(b, "%s/riscv.elf", r);
			arg(b, "-bios");
			arg(b, "none");
		} else {
			arg(b, "qemu-system-aarch64");
			arg(b, "-machine");
			arg(b, "virt,virtualization=on");
			arg(b, "-cpu");
			arg(b, "max");
			arg(b, "-nic");
			arg(b, "none");
			arg(b, "-kernel");
			arg(b, "%s/arm64.elf", r);
		}
		arg(b, "-m");
		arg(b, "3G");
		arg(b, "-nographic");
		arg(b, "-device");
		arg(b, "loader,file=%s,addr=0x%" PRIx64 ",force-raw=on", tables,
		    s->t->buf_base);
		arg(b, "-device");
		arg(b, "loader,file=%s,addr=0x%" PRIx64 ",force-raw=on", in,
		    s->t->input_addr);
		break;
	case HW_BOCHS: {
		char *rom = path_in(r, "x86.rom"), *rcfile = path_in(w, "rc");

		if (write_file(disk, write_disk, s) || write_bochsrc(w, rom) ||
		    write_text(rcfile, "c\nquit\n"))
			rc = -1;
		arg(b, "bochs");
		arg(b, "-q");
		arg(b, "-f");
		arg(b, "%s/bochsrc", w);
		arg(b, "-rc");
		arg(b, "%s", rcfile);
		free(rom);
		free(rcfile);
		break;
	}
	default:
		rc = -1;
	}
	if (rc)
		set_err(err, errsz, "cannot write the run files in %s: %s", w,
			strerror(errno));
	free(in);
	free(tables);
	free(disk);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs argv with stdout/stderr into files; returns the wait status or -1. */
static int spawn(char *const argv[], const char *out, const char *errf,
		 char *err, size_t errsz)
{
	double deadline = now_s() + RUN_TIMEOUT_S;
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		set_err(err, errsz, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int n = open("/dev/null", O_RDONLY);

		if (o < 0 || e < 0 || n < 0)
			_exit(126);
		dup2(n, 0);
		dup2(o, 1);
		dup2(e, 2);
		setenv("TERM", "dumb", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		if (w < 0) {
			set_err(err, errsz, "waitpid: %s", strerror(errno));
			return -1;
		}
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			set_err(err, errsz, "%s timed out after %d s", argv[0],
				RUN_TIMEOUT_S);
			return -1;
		}
		usleep(5000);
	}
}

static int parse_output(const char *path, size_t n, struct hw_result *res,
			uint64_t *root_loaded, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t seen = 0;
	bool done = false;

	if (!f) {
		set_err(err, errsz, "no output file %s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[7];
		char *p;

		if ((p = strstr(line, "HWERROR"))) {
			set_err(err, errsz, "runner: %s", p);
			fclose(f);
			return -1;
		}
		if (strstr(line, "HWDONE"))
			done = true;
		if ((p = strstr(line, "HWRUNNER ")))
			*root_loaded = strtoull(p + 9, NULL, 16);
		if (line[0] != 'P' || line[1] != ' ')
			continue;
		if (sscanf(line + 2, "%llx %llx %llx %llx %llx %llx %llx",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6]) != 7 ||
		    v[0] != seen || seen >= n) {
			set_err(err, errsz, "garbled runner line: %s", line);
			fclose(f);
			return -1;
		}
		res[seen] =
			(struct hw_result){v[1], v[2], v[3], v[4], v[5], v[6]};
		seen++;
	}
	fclose(f);
	if (!done || seen != n) {
		set_err(err, errsz,
			"runner stopped after %zu of %zu probes "
			"(see %s)",
			seen, n, path);
		return -1;
	}
	return 0;
}

int hw_run(struct hw_run_spec *s, struct hw_result *res, char *err,
	   size_t errsz)
{
	struct argv_builder b = {.argc = 0};
	char *out = path_in(s->work_dir, "out.txt");
	char *errf = path_in(s->work_dir, "err.txt");
	int rc = -1, status;

	if (prepare(s, &b, err, errsz))
		goto done;
	status = spawn(b.argv, out, errf, err, errsz);
	if (status == -1)
		goto done;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		set_err(err, errsz, "cannot run %s", b.argv[0]);
		goto done;
	}
	/* Bochs ends through its shutdown port with status 1 and a PANIC
	 * line: expected. QEMU exits 0. Either way the output decides. */
	rc = parse_output(out, s->nprobes, res, &s->root_loaded, err, errsz);
done:
	free_args(&b);
	free(out);
	free(errf);
	return rc;
}
