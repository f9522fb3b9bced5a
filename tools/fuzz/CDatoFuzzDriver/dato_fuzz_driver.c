#include "dato_fuzz_driver.h"

// libFuzzer's entry point for a program with its own main (compiler-rt, LLVM 11 and later). Weak, so that the
// driver still links without -sanitize=fuzzer and then only replays the files it is given.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size))
    __attribute__((weak));

int dato_fuzz_available(void) { return LLVMFuzzerRunDriver != 0; }

int dato_fuzz_run(int *argc, char ***argv, dato_fuzz_callback callback) {
    if (!LLVMFuzzerRunDriver) return -1;
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
