// Which of OpenBLAS's kernels run the matrix products (its DYNAMIC_ARCH build carries one set per
// processor family and picks one when the library loads).
#include <stdlib.h>
#include <strings.h>
#include "Kernels.h"

void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);
char *openblas_get_corename(void);

int ce_cpu_has_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    // What OpenBLAS's SkylakeX kernels use; the check includes the OS saving the 512-bit state.
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

// Only the kernel table is replaced (DYNAMIC_ARCH's dynamic init reads OPENBLAS_CORETYPE): a
// full restart (gotoblas_quit/init) also frees the buffers of threads that ran products, and a
// thread's next product then used freed memory (seen as crashes once products ran on several
// threads).
int ce_blas_switch_core(const char *core) {
    gotoblas_dynamic_quit();
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_init();
    return strcasecmp(openblas_get_corename(), core) == 0;
}

void blas_thread_shutdown_(void);

void ce_blas_stop_threads(void) { blas_thread_shutdown_(); }
