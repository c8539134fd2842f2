#!/bin/sh
# Issue 15, items 1 and 4: a device that caps a work-item's loop trips (Mesa's llvmpipe: 65535,
# EOS_MAX_LOOP_TRIPS imitates it on any device) still gets whole kNN results, and where Mesa's
# rusticl is installed, its llvmpipe device validates kNN and agrees with PoCL on a training step.
eos="$1"
. "$(dirname "$0")/cli_common.sh"

expect "kNN under a loop cap of 3000 (one panel a launch) validates" 0 'eos-cl knn 600 x 16 k 10' \
    env EOS_MAX_LOOP_TRIPS=3000 "$eos" bench knn --n 600 --dim 16 --steps 1
expect "kNN under a cap no panel fits (the tiled path) validates" 0 'eos-cl knn 600 x 16 k 10' \
    env EOS_MAX_LOOP_TRIPS=1000 "$eos" bench knn --n 600 --dim 16 --steps 1
expect "a bad EOS_MAX_LOOP_TRIPS is an error" 2 "EOS_MAX_LOOP_TRIPS='12x': expected 0 \(no limit\) or a whole number" \
    env EOS_MAX_LOOP_TRIPS=12x "$eos" devices
if [ -e /etc/OpenCL/vendors/rusticl.icd ] && RUSTICL_ENABLE=llvmpipe "$eos" devices 2>/dev/null | grep -q llvmpipe; then
    # 3000 x 64: about 96 000 loop trips a work-item in one launch, over llvmpipe's 65535
    expect "kNN validates on llvmpipe past its loop limit" 0 'eos-cl knn 3000 x 64 k 10: .*llvmpipe' \
        env RUSTICL_ENABLE=llvmpipe "$eos" bench knn --n 3000 --steps 1 --device llvmpipe
    expect "a training step on llvmpipe agrees with PoCL" 0 'llvmpipe.*agrees' \
        env RUSTICL_ENABLE=llvmpipe POCL_DEVICES=pthread "$eos" bench train --arch resnet8 --batch 8 --steps 1 --device all
else
    echo "SKIPPED the llvmpipe checks: Mesa's rusticl (mesa-opencl-icd) is not installed"
fi

finish
