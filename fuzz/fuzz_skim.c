/* libFuzzer target: JSON text skimmed of managedFields, against cJSON (fuzz/fuzz_targets.c). */
#include "fuzz/fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_skim(data, size);
}
