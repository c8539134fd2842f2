#!/usr/bin/python3
"""Golden tensors pinning EOS-CL's ResNet-s training to PyTorch (GUIDE section 3.8).

  /usr/bin/python3 tests/golden/make_resnet_golden.py

writes, next to this script:
  resnet8_init.safetensors  a seeded ResNet-8 (10 classes) that both sides start from
  resnet8_golden.bin        magic "EOSGOLD1", u32 version 1, u32 count, then per tensor:
                            u32 name length, name, u32 ndim, u32 dims[ndim], float32 data
holding: the fixed batch (input, labels); from one training-mode forward/backward: logits, loss,
the gradient of every parameter (grad.<name>) and the BN running statistics after it
(state.<name>); the losses of 5 SGD steps (lr 0.1, momentum 0.9, weight decay 2e-4) on that
batch (losses5) and two weights after them (after5.<name>); and the evaluation-mode logits of
resnet8_torch.safetensors on the batch (eval_logits), for the "trained in PyTorch, evaluated in
EOS-CL" check. tests/nn/test_resnet.c compares EOS-CL against every one of them.

  /usr/bin/python3 tests/golden/make_resnet_golden.py --tiny

writes only resnet8_tiny_golden.bin (same format), for test_resnet's tiny mode (EOS_TEST_TINY=1,
under Oclgrind, which interprets every work-item): the same checks from the same
resnet8_init.safetensors (read, not rewritten) on 2 images of 8 x 8, with 2 SGD steps (losses2,
after2.<name>) in place of 5.
"""
import copy
import os
import struct
import sys

import torch
import torch.nn.functional as F

from resnet_torch import ResNetS, load_safetensors, save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))


def relu_margin(model, x):
    """The smallest |input| of any ReLU in a training-mode forward (on a copy of the model).
    A value nearer zero than float32 rounding would let the two sides disagree on the ReLU
    mask there, a legitimate difference that a golden test cannot tolerate."""
    m = copy.deepcopy(model).train()
    low = [float("inf")]

    def seen(t):
        low[0] = min(low[0], t.abs().min().item())

    with torch.no_grad():
        pre = m.bn1(m.conv1(x))
        seen(pre)
        out = F.relu(pre)
        for layer in (m.layer1, m.layer2, m.layer3):
            for blk in layer:
                a = blk.bn1(blk.conv1(out))
                seen(a)
                pre = blk.bn2(blk.conv2(F.relu(a))) + blk.shortcut(out)
                seen(pre)
                out = F.relu(pre)
    return low[0]


def write_golden(path, out):
    with open(path, "wb") as f:
        f.write(b"EOSGOLD1")
        f.write(struct.pack("<II", 1, len(out)))
        for name, t in out:
            t = t.float().contiguous()
            f.write(struct.pack("<I", len(name)) + name.encode())
            f.write(struct.pack("<I", t.dim()) + b"".join(struct.pack("<I", d) for d in t.shape))
            f.write(t.numpy().tobytes())


def first_clear_input(model, shape):
    """the first random batch (seeds 7, 8, ...) whose every ReLU input is at least 5e-6 from zero"""
    for seed in range(7, 1000):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(*shape, generator=g)
        margin = relu_margin(model, x)
        if margin >= 5e-6:
            break
    return seed, x, margin


def record(model, x, y, steps, path):
    """one training-mode step's outputs and gradients, the losses of `steps` SGD steps and two
    weights after them, and resnet8_torch.safetensors's evaluation-mode logits, to path"""
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out = [("input", x), ("labels", y.float()), ("logits", logits.detach()), ("loss", loss.detach().reshape(1))]
    for name, p in model.named_parameters():
        out.append(("grad." + name, p.grad.detach().clone()))
    for name, b in model.named_buffers():
        if "running" in name:
            out.append(("state." + name, b.detach().clone()))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    losses = [loss.item()]
    opt.step()
    for _ in range(steps - 1):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    out.append((f"losses{steps}", torch.tensor(losses)))
    out.append((f"after{steps}.linear.weight", model.linear.weight.detach().clone()))
    out.append((f"after{steps}.conv1.weight", model.conv1.weight.detach().clone()))
    trained = ResNetS(1, num_classes=10)
    trained.load_state_dict(load_safetensors(os.path.join(HERE, "resnet8_torch.safetensors")))
    trained.eval()
    with torch.no_grad():
        out.append(("eval_logits", trained(x)))
    write_golden(path, out)
    print(f"wrote {len(out)} tensors; losses of {steps} steps: {[round(v, 5) for v in losses]}")


def tiny():
    model = ResNetS(1, num_classes=10)
    model.load_state_dict(load_safetensors(os.path.join(HERE, "resnet8_init.safetensors")))
    seed, x, margin = first_clear_input(model, (2, 3, 8, 8))
    print(f"tiny input seed {seed}: smallest |ReLU input| {margin:.3g}")
    record(model, x, torch.tensor([3, 8]), 2, os.path.join(HERE, "resnet8_tiny_golden.bin"))


def main():
    torch.manual_seed(123)
    model = ResNetS(1, num_classes=10)
    save_safetensors(os.path.join(HERE, "resnet8_init.safetensors"), model.state_dict())
    seed, x, margin = first_clear_input(model, (8, 3, 32, 32))
    print(f"input seed {seed}: smallest |ReLU input| {margin:.3g}")
    record(model, x, torch.tensor([0, 1, 2, 3, 4, 5, 6, 7]), 5, os.path.join(HERE, "resnet8_golden.bin"))


if __name__ == "__main__":
    tiny() if sys.argv[1:] == ["--tiny"] else main()
