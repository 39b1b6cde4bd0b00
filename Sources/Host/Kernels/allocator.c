// Allocator settings for the whole process.
#include <malloc.h>

#include "Kernels.h"

// Buffers of 1 MB and more (activations, logits, reference log-probabilities) are mapped and
// unmapped on their own. Left alone, glibc raises this threshold after the first such free and
// keeps later buffers of that size in its heap, where freed space stays resident.
void ce_map_large_allocations(void) { mallopt(M_MMAP_THRESHOLD, 1 << 20); }
