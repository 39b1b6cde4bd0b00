// canonedit plugin ABI. The full contract is written in the plugin-ABI issue; until then this
// header only fixes the version constants so that the host and tests can name them.
#ifndef CANONEDIT_PLUGIN_H
#define CANONEDIT_PLUGIN_H
#include <stdint.h>
#define CE_PLUGIN_API_MAJOR 0u
#define CE_PLUGIN_API_MINOR 1u
#endif
