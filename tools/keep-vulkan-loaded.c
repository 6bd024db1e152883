/* Preloaded by the sanitizer lane (tools/test-sanitizers.sh). The Vulkan loader unloads the
 * driver (lavapipe) and the validation layer when the last instance is destroyed; what they had
 * allocated for the life of the process then looks leaked, from an "<unknown module>" that no
 * suppression can name. Keeping both mapped keeps their globals, and so those blocks, reachable,
 * while a leak of ours is still reported. RTLD_LOCAL: nothing of theirs interposes on the loader. */
#define _GNU_SOURCE
#include <dlfcn.h>

__attribute__((constructor)) static void keep_vulkan_modules_loaded(void) {
    dlopen("libvulkan_lvp.so", RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
    dlopen("libVkLayer_khronos_validation.so", RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
}
