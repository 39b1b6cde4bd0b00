// Runs libFuzzer on a callback when the binary was linked with libFuzzer (scripts/fuzz.sh);
// otherwise says how to build it and returns 2.
#include <stddef.h>
#include <stdint.h>
int fuzz_driver_run(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));
