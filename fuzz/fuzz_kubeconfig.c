/* libFuzzer target: kubeconfig YAML: kapi_kubeconfig_parse (fuzz/fuzz_targets.c). */
#include "fuzz/fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_kubeconfig(data, size);
}
