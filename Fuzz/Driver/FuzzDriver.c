#include "FuzzDriver.h"
#include <stdio.h>

// Provided by libclang_rt.fuzzer_no_main when scripts/fuzz.sh links it; absent in a plain build.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t)) __attribute__((weak));

int fuzz_driver_run(int argc, char **argv, int (*callback)(const uint8_t *, size_t)) {
    if (!LLVMFuzzerRunDriver) {
        fprintf(stderr, "canonedit-fuzz was built without libFuzzer; build and run it with scripts/fuzz.sh\n");
        return 2;
    }
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}
