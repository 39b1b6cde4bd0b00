// The open-file flag for direct I/O, which Swift's Glibc module does not export.
#define _GNU_SOURCE
#include <fcntl.h>
#include "Kernels.h"

int ce_direct_io_flag(void) {
#ifdef O_DIRECT
    return O_DIRECT;
#else
    return 0;
#endif
}
