#ifndef DATO_FUZZ_DRIVER_H
#define DATO_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's callback: one input, return 0.
typedef int (*dato_fuzz_callback)(const uint8_t *data, size_t size);

/// Whether libFuzzer is linked in (the binary was built with -sanitize=fuzzer).
int dato_fuzz_available(void);

/// Runs libFuzzer's driver (LLVMFuzzerRunDriver) with the given command line; -1 when libFuzzer is not linked.
int dato_fuzz_run(int *argc, char ***argv, dato_fuzz_callback callback);

#endif
