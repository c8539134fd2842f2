# The layer check is live (docs/ARCHITECTURE.md): a probe that calls one layer up (runtime -> nn)
# fails to link against the runtime's check library with --no-undefined, and links once the
# layers up to nn are given, so the check libraries hold their own layer and no more.
# Usage: tests/test_layer_check.sh CC LAYER_CHECK_DIR INCLUDE_DIR
cc="$1" dir="$2" inc="$3"
eos=""
. "$(dirname "$0")/cli_common.sh"
t=$(tmpdir layer-check)
cat > "$t/probe.c" <<'C'
#include "eos/eos.h"
/* what a runtime/ file calling up into nn/ would need */
const char *eos__probe(void) { return eos_conv_algo_name(EOS_CONV_GEMM); }
C
link() { "$cc" -shared -fPIC -DCL_TARGET_OPENCL_VERSION=120 -I"$inc" "$t/probe.c" -o "$t/probe.so" \
             -Wl,--no-undefined -L"$dir" "$@" -Wl,-rpath,"$dir"; }
expect "a call from runtime into nn is a link error" 1 "undefined reference to .eos_conv_algo_name" \
    link -leos_layer_runtime_check
expect "the same call links with nn below it" 0 "" \
    link -leos_layer_nn_check -leos_layer_data_check -leos_layer_runtime_check
expect "the runtime's check library does not hold nn's objects" 1 "" \
    sh -c "nm -D --defined-only '$dir/libeos_layer_runtime_check.so' | grep -q ' eos_conv_algo_name\$'"
rm -rf "$t"
finish
