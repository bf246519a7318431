/* SPDX-License-Identifier: MIT */
/* The README example: an EPT address space on the built-in host HAL. */
#include <aspace/aspace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                            \
	do {                                                                   \
		int err_ = (call);                                             \
		if (err_) {                                                    \
			fprintf(stderr, "%s: %d\n", #call, err_);              \
			return 1;                                              \
		}                                                              \
	} while (0)

int main(void)
{
	struct aspace_config cfg = {.format = ASPACE_FMT_EPT4,
				    .size = 1ull << 36}; /* GPAs 0..64 GiB */
	struct aspace *as;
	struct aspace_xlate x;
	struct aspace_hw_root hw;
	char msg[16] = "";
	/* Host memory to pass through; the host HAL's HPAs are pointers. */
	void *mmio = aligned_alloc(ASPACE_BLOCK_2M, ASPACE_BLOCK_2M);

	CHECK(aspace_create(&cfg, &as));
	/* 1 GiB of guest RAM, frames allocated on first touch. */
	CHECK(aspace_map_alloc(as, 0, ASPACE_BLOCK_1G,
			       ASPACE_READ | ASPACE_WRITE | ASPACE_EXEC,
			       false));
	/* 2 MiB of host memory at GPA 4 GiB, mapped eagerly. */
	CHECK(aspace_map_linear(as, 4ull << 30, (uintptr_t)mmio,
				ASPACE_BLOCK_2M, ASPACE_READ | ASPACE_WRITE));
	CHECK(aspace_hw_root(as, &hw)); /* load hw.eptp into the VMCS */
	/* An EPT violation on a guest write to GPA 0x1000: */
	CHECK(aspace_handle_fault(as, 0x1000, ASPACE_WRITE));
	CHECK(aspace_translate(as, 0x1000, &x));
	printf("EPTP %#llx; GPA 0x1000 -> HPA %#llx in a %llu KiB leaf\n",
	       (unsigned long long)hw.eptp, (unsigned long long)x.hpa,
	       (unsigned long long)x.leaf_size >> 10);
	/* Device emulation reads and writes guest memory: */
	CHECK(aspace_write(as, 0x1ffa, "hello", 6));
	CHECK(aspace_read(as, 0x1ffa, msg, 6));
	printf("read back \"%s\"\n", msg);
	aspace_destroy(as);
	free(mmio);
	return strcmp(msg, "hello") != 0;
}
