#!/usr/bin/env bash
# EOS-CL set-up: install the Debian/Ubuntu packages the build needs (only those missing),
# then configure and build into build/. Safe to run again: it only does what is left to do.
#   ./setup.sh                      # Release build with the tests
#   EOS_CMAKE_ARGS="-DEOS_SANITIZE=ON" ./setup.sh
set -euo pipefail
cd "$(dirname "$0")"

# mesa-opencl-icd (rusticl's llvmpipe device) and oclgrind: two more OpenCL implementations the
# tests run the kernels on (the *_rusticl tests, tests/oclgrind.sh); eos itself needs only one.
# python3-numpy, python3-imblearn (with scikit-learn) and python3-pytest (imbalanced-learn's
# estimator checks import it): the Python package's test, tests/python/test_eoscl.py
# libopenmpi-dev and openmpi-bin: `mpirun -np N eos train` (EOS_MPI, host/runtime/dist.c) and tests/test_mpi.sh
packages=(build-essential cmake pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
          libclblast-dev libcmocka-dev libstb-dev libmatio-dev zlib1g-dev mesa-opencl-icd oclgrind
          libopenmpi-dev openmpi-bin python3-numpy python3-imblearn python3-pytest)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build="${EOS_BUILD_DIR:-build}"
# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${EOS_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
echo "setup: built $build/eos"
