/* libFuzzer targets for the parsers that read user files: CIFAR-10 binary, IDX images and
 * labels, embedding CSV and safetensors. Built with -DEOS_FUZZ=ON (clang); each executable is
 * this file compiled with one EOS_FUZZ_<TARGET> defined. A parser may reject its input, but it
 * must never crash, leak or read out of bounds (AddressSanitizer + UBSan watch that). */
#include "eos/eos.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if defined(EOS_FUZZ_CIFAR)
    eos_split s;
    if (eos_cifar10_parse(data, size, "fuzz.bin", &s) == EOS_OK) eos_split_free(&s);
#elif defined(EOS_FUZZ_IDX)
    eos_split s;
    int h, w;
    if (eos_idx_parse_images(data, size, "fuzz-images", &s, &h, &w) == EOS_OK) eos_split_free(&s);
    int32_t *labels;
    size_t n;
    if (eos_idx_parse_labels(data, size, "fuzz-labels", &labels, &n) == EOS_OK) free(labels);
#elif defined(EOS_FUZZ_CSV)
    eos_embeddings e;
    if (eos_embeddings_parse_csv((const char *)data, size, "fuzz.csv", 10, &e) == EOS_OK) eos_embeddings_free(&e);
#elif defined(EOS_FUZZ_SAFETENSORS)
    eos_safetensors f;
    if (eos_safetensors_parse(data, size, "fuzz.safetensors", &f) == EOS_OK) eos_safetensors_free(&f);
#else
#error "define one of EOS_FUZZ_CIFAR, EOS_FUZZ_IDX, EOS_FUZZ_CSV, EOS_FUZZ_SAFETENSORS"
#endif
    return 0;
}
