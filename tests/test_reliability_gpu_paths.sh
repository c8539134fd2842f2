#!/bin/sh
# Issue 14, item 6 (launch part): `eos check` and `eos devices` say in one line whether the
# GPU-shaped kernels and launch shapes are in use, so a CI log shows that EOS_GPU_PATHS=1 took.
eos="$1"
. "$(dirname "$0")/cli_common.sh"

expect "devices says GPU paths are forced" 0 '^GPU-shaped paths: on \(EOS_GPU_PATHS=1\)$' env EOS_GPU_PATHS=1 "$eos" devices
expect "devices prints the line only when forced" 1 '^$' sh -c 'EOS_GPU_PATHS=0 "$1" devices | grep "GPU-shaped"' _ "$eos"
expect "check says GPU paths are forced" 0 '^GPU-shaped paths: on \((EOS_GPU_PATHS=1|a GPU)\)$' env EOS_GPU_PATHS=1 "$eos" check
expect "check says when they are off" 0 '^GPU-shaped paths: (off \(EOS_GPU_PATHS=1 forces them\)|on \(a GPU\))$' env EOS_GPU_PATHS=0 "$eos" check
expect "a bad EOS_GPU_PATHS is an error" 2 "EOS_GPU_PATHS='yes': expected 1" env EOS_GPU_PATHS=yes "$eos" devices

finish
