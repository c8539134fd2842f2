#!/usr/bin/python3
"""Golden files for the safetensors round trip between PyTorch and EOS-CL.

  /usr/bin/python3 tests/golden/make_safetensors.py write
      writes tests/golden/resnet8_torch.safetensors (a seeded ResNet-8 state dict, BN
      statistics made non-trivial) and resnet8_torch.txt (name, numel, sum, first, last per
      tensor), which tests/data/test_checkpoint.c compares against what EOS-CL reads.
  /usr/bin/python3 tests/golden/make_safetensors.py check FILE
      loads a ResNet-8 file written by EOS-CL (test_checkpoint writes one to
      $EOS_TEST_TMP/resnet8_eos.safetensors) into the PyTorch model with strict=True and checks
      every value against the pattern the C test wrote: F32 element i of tensor k is
      sin(0.001 * i + k) in float32, I64 tensors hold k.
"""
import math
import os
import sys

import torch

from resnet_torch import ResNetS, load_safetensors, save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))


def write():
    torch.manual_seed(0)
    model = ResNetS(1, num_classes=10)
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            m.num_batches_tracked.fill_(7)
    sd = model.state_dict()
    save_safetensors(os.path.join(HERE, "resnet8_torch.safetensors"), sd)
    with open(os.path.join(HERE, "resnet8_torch.txt"), "w") as f:
        f.write("# name numel sum first last (from make_safetensors.py write)\n")
        for name, t in sd.items():
            flat = t.flatten().double()
            f.write(f"{name} {flat.numel()} {flat.sum().item():.9g} {flat[0].item():.9g} {flat[-1].item():.9g}\n")
    print(f"wrote {len(sd)} tensors")


def check(path):
    sd = load_safetensors(path)
    model = ResNetS(1, num_classes=10)
    model.load_state_dict(sd, strict=True)  # every name and shape must match PyTorch's
    bad = 0
    for k, (name, t) in enumerate(model.state_dict().items()):
        if t.dtype == torch.int64:
            ok = bool((t == k).all())
        else:
            i = torch.arange(t.numel(), dtype=torch.float64)
            want = torch.sin(0.001 * i + k).float().reshape(t.shape)
            ok = torch.equal(t, want)
        if not ok:
            print("MISMATCH", name)
            bad += 1
    n = len(model.state_dict())
    print(f"{path}: {n} tensors loaded into PyTorch ResNet-8 (strict), {n - bad} match, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "write":
        write()
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    else:
        print(__doc__)
        sys.exit(2)
