/* libFuzzer target: ExtenderArgs and ExtenderBindingArgs bodies: sched_filter, sched_prioritize, sched_bind (fuzz/fuzz_targets.c). */
#include "fuzz/fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_extender(data, size);
}
