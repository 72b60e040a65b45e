/* libFuzzer target: PE labels and annotations: place_pe_spec_parse, place_admit_pe and the engine on the PE (fuzz/fuzz_targets.c). */
#include "fuzz/fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_annotations(data, size);
}
