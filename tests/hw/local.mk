# tests/hw: hardware conformance (QEMU, Bochs)
