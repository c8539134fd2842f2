#!/usr/bin/python3
"""Golden tensors pinning EOS-CL's LDAM training of a whole ResNet-8 to PyTorch: the network
with LDAM-DRW's normalised head (linear.weight (64, 10), no bias), LDAM loss (margins from the
long-tailed counts, largest 0.5, s = 30) with the class-balanced weights DRW switches on.

  /usr/bin/python3 tests/golden/make_resnet_ldam_golden.py

writes, next to this script:
  resnet8_ldam_init.safetensors  the seeded network both sides start from
  resnet8_ldam_golden.bin        (EOSGOLD1, as make_resnet_golden.py) the batch (input (8, 3, 16, 16),
                                 labels), counts, weights; from one training forward/backward with
                                 the weights: cosines (8, 10), loss, the gradients of five tensors
                                 (grad.<name>); the losses of 3 SGD steps without weights then 2 with
                                 (losses5) and linear.weight after them.
tests/nn/test_resnet.c compares EOS-CL against every one of them.

  /usr/bin/python3 tests/golden/make_resnet_ldam_golden.py --tiny

writes only resnet8_ldam_tiny_golden.bin (same format, same network read from
resnet8_ldam_init.safetensors): 4 images of 8 x 8, the one forward/backward, no SGD steps; for
test_resnet's tiny mode (EOS_TEST_TINY=1, tests/oclgrind.sh), where the 8 images of 16 x 16
took over 5 minutes in Oclgrind's interpreter.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from make_resnet_golden import relu_margin, write_golden
from resnet_torch import ResNetS, save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTS = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50], dtype=np.float64)
GRADS = ["conv1.weight", "layer1.0.conv1.weight", "layer1.0.bn2.weight", "bn1.bias", "linear.weight"]


def ldam_loss(cos, y, weight, max_m=0.5, s=30.0):
    m = 1.0 / np.sqrt(np.sqrt(COUNTS))
    m = torch.tensor(m * (max_m / np.max(m)), dtype=torch.float32)
    index = torch.zeros_like(cos, dtype=torch.bool).scatter_(1, y.view(-1, 1), True)
    batch_m = (m[None, :] @ index.float().t()).view(-1, 1)
    return F.cross_entropy(s * torch.where(index, cos - batch_m, cos), y, weight=weight)


def one_step(model, batch, size, y):
    """The batch (the first seed whose every ReLU input is >= 5e-6 from zero), then one training
    forward/backward with the class weights: the tensors every golden file starts with."""
    for seed in range(3, 1000):
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))
        margin = relu_margin(model, x)
        if margin >= 5e-6:
            break
    print(f"input seed {seed}: smallest |ReLU input| {margin:.3g}")
    beta = 0.9999
    cw = (1 - beta) / (1 - np.power(beta, COUNTS))
    cw = torch.tensor(cw / cw.sum() * 10, dtype=torch.float32)
    out = [("input", x), ("labels", y.float()), ("counts", torch.tensor(COUNTS, dtype=torch.float32)), ("weights", cw)]

    model.train()
    cos = model(x)
    loss = ldam_loss(cos, y, cw)
    loss.backward()
    out += [("cos", cos.detach()), ("loss", loss.detach().reshape(1))]
    params = dict(model.named_parameters())
    for name in GRADS:
        out.append(("grad." + name, params[name].grad.detach().clone()))
    return x, cw, out


def tiny():
    from resnet_torch import load_safetensors
    model = ResNetS(1, num_classes=10, normed=True)
    model.load_state_dict(load_safetensors(os.path.join(HERE, "resnet8_ldam_init.safetensors")))
    _, _, out = one_step(model, 4, 8, torch.tensor([0, 9, 3, 0]))
    write_golden(os.path.join(HERE, "resnet8_ldam_tiny_golden.bin"), out)
    print(f"wrote {len(out)} tensors (tiny)")


def main():
    torch.manual_seed(321)
    model = ResNetS(1, num_classes=10, normed=True)
    save_safetensors(os.path.join(HERE, "resnet8_ldam_init.safetensors"), model.state_dict())
    x, cw, out = one_step(model, 8, 16, torch.tensor([0, 1, 2, 3, 9, 8, 7, 0]))
    y = torch.tensor([0, 1, 2, 3, 9, 8, 7, 0])

    # 5 SGD steps from the same start: 3 without weights, then 2 with (DRW's switch)
    model = ResNetS(1, num_classes=10, normed=True)
    from resnet_torch import load_safetensors
    model.load_state_dict(load_safetensors(os.path.join(HERE, "resnet8_ldam_init.safetensors")))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    losses = []
    for step in range(5):
        opt.zero_grad()
        loss = ldam_loss(model(x), y, cw if step >= 3 else None)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    out.append(("losses5", torch.tensor(losses)))
    out.append(("after5.linear.weight", model.linear.weight.detach().clone()))

    write_golden(os.path.join(HERE, "resnet8_ldam_golden.bin"), out)
    print(f"wrote {len(out)} tensors; losses of 5 steps: {[round(v, 5) for v in losses]}")


if __name__ == "__main__":
    import sys
    tiny() if sys.argv[1:] == ["--tiny"] else main()
