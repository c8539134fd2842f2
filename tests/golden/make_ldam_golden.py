#!/usr/bin/python3
"""Golden values for LDAM (tests/nn/test_ldam.c), from PyTorch: LDAM-DRW's NormedLinear head
(weight (in, out), out = normalize(x, dim=1) @ normalize(w, dim=0)) and LDAMLoss (margins
proportional to n_c^(-1/4), largest 0.5, s = 30), with and without class weights.

  /usr/bin/python3 tests/golden/make_ldam_golden.py

writes ldam_golden.bin (EOSGOLD1 format): x (12, 64), w (64, 10), labels, counts, weights, and for
each variant the loss and the gradients with respect to x and w.
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def ldam(cos, y, counts, weight, max_m=0.5, s=30.0):
    m = 1.0 / np.sqrt(np.sqrt(counts))
    m = m * (max_m / np.max(m))
    m = torch.tensor(m, dtype=torch.float32)
    index = torch.zeros_like(cos, dtype=torch.bool).scatter_(1, y.view(-1, 1), True)
    batch_m = (m[None, :] @ index.float().t()).view(-1, 1)
    out = torch.where(index, cos - batch_m, cos)
    return F.cross_entropy(s * out, y, weight=weight)


def main():
    g = torch.Generator().manual_seed(11)
    x = torch.relu(torch.randn(12, 64, generator=g))  # embeddings are non-negative after the pool
    w = torch.empty(64, 10).uniform_(-1, 1, generator=g).renorm_(2, 1, 1e-5).mul_(1e5)
    y = torch.randint(0, 10, (12,), generator=g)
    counts = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50], dtype=np.float64)
    beta = 0.9999
    cw = (1 - beta) / (1 - np.power(beta, counts))
    cw = torch.tensor(cw / cw.sum() * 10, dtype=torch.float32)
    out = [("x", x), ("w", w), ("labels", y.float()), ("counts", torch.tensor(counts, dtype=torch.float32)),
           ("weights", cw)]
    for name, weight in [("plain", None), ("weighted", cw)]:
        xa, wa = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        cos = F.normalize(xa, dim=1).mm(F.normalize(wa, dim=0))
        loss = ldam(cos, y, counts, weight)
        loss.backward()
        out += [(name + ".loss", loss.detach().reshape(1)), (name + ".dx", xa.grad.clone()), (name + ".dw", wa.grad.clone())]
        print(f"{name}: loss {loss.item():.6f}")
    with open(os.path.join(HERE, "ldam_golden.bin"), "wb") as f:
        f.write(b"EOSGOLD1")
        f.write(struct.pack("<II", 1, len(out)))
        for name, t in out:
            t = t.float().contiguous()
            f.write(struct.pack("<I", len(name)) + name.encode())
            f.write(struct.pack("<I", t.dim()) + b"".join(struct.pack("<I", d) for d in t.shape))
            f.write(t.numpy().tobytes())


if __name__ == "__main__":
    main()
