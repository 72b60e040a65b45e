/* libFuzzer target: HostPool objects: kobj_pool_from_json, place_pool_validate, place_state_put_pool (fuzz/fuzz_targets.c). */
#include "fuzz/fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_hostpool(data, size);
}
