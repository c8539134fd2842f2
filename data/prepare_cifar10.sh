#!/usr/bin/env bash
# Put CIFAR-10 where EOS-CL can read it.
#   data/prepare_cifar10.sh [DEST]             unpack the shared JPEG copy (../shared/data/
#                                              cifar10-jpg.tar.gz, checked against its sha256)
#                                              into DEST (default data/cifar10-jpg): DEST/train,
#                                              DEST/test, one folder per class
#   data/prepare_cifar10.sh --download [DEST]  download the official binary release instead
#                                              (DEST default data/cifar10-bin; needs network)
# Prints the folder to pass to `eos ... --data`. Does nothing when DEST is already complete.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
download=0
if [ "${1:-}" = "--download" ]; then download=1; shift; fi

if [ "$download" = 0 ]; then
    dest="${1:-$repo/data/cifar10-jpg}"
    archive="${EOS_CIFAR10_ARCHIVE:-$repo/../shared/data/cifar10-jpg.tar.gz}"
    sha=d3f12d0830166c807104cfe1ff8945f3171f39ac1a2ced17388c15779478dd10
    if [ -d "$dest/train/truck" ] && [ -d "$dest/test/truck" ] && [ "$(ls "$dest/test/truck" | wc -l)" = 1000 ]; then
        echo "$dest"; exit 0
    fi
    [ -f "$archive" ] || { echo "prepare_cifar10: no archive at $archive (use --download for the official release)" >&2; exit 1; }
    echo "$sha  $archive" | sha256sum -c --quiet - >&2 || { echo "prepare_cifar10: $archive is damaged (sha256 mismatch)" >&2; exit 1; }
    mkdir -p "$dest"
    tmp="$(mktemp -d "$dest/.unpack-XXXXXX")"
    tar xzf "$archive" -C "$tmp"
    rm -rf "$dest/train" "$dest/test"
    mv "$tmp/train" "$tmp/test" "$dest/" && rmdir "$tmp"
    echo "$dest"
else
    dest="${1:-$repo/data/cifar10-bin}"
    if [ -f "$dest/cifar-10-batches-bin/test_batch.bin" ]; then echo "$dest"; exit 0; fi
    mkdir -p "$dest"
    url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
    md5=c32a1d4ab5d03f1284b67883e8d87530
    curl -fL --retry 3 -o "$dest/cifar-10-binary.tar.gz" "$url"
    echo "$md5  $dest/cifar-10-binary.tar.gz" | md5sum -c --quiet - >&2
    tar xzf "$dest/cifar-10-binary.tar.gz" -C "$dest" && rm "$dest/cifar-10-binary.tar.gz"
    echo "$dest"
fi
