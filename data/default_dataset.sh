#!/usr/bin/env bash
# The dataset of the README's main command: the shared CIFAR-10 copy unpacked into
# data/cifar10-jpg when the archive is there (../shared/data/cifar10-jpg.tar.gz), else a small
# generated dataset in data/synthetic (`eos synth`). Prints the folder.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
archive="${EOS_CIFAR10_ARCHIVE:-$repo/../shared/data/cifar10-jpg.tar.gz}"
if [ -f "$archive" ]; then
    exec "$repo/data/prepare_cifar10.sh"
fi
if [ ! -d "$repo/data/synthetic/test" ]; then
    "${EOS_BIN:-$repo/build/eos}" synth --out "$repo/data/synthetic" >&2
fi
echo "$repo/data/synthetic"
