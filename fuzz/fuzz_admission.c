/* libFuzzer target: AdmissionReview bodies: wh_review in both modes (fuzz/fuzz_targets.c). */
#include "fuzz/fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_admission(data, size);
}
