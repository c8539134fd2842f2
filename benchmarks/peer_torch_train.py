#!/usr/bin/python3
"""The same workload as benchmarks/bench_train.c in PyTorch on the CPU: ResNet-s (the golden
tests' model, tests/golden/resnet_torch.py), a fixed random batch, SGD lr 0.05 momentum 0.9
weight decay 2e-4; 3 warm-up steps, then --steps timed training steps and inference passes.
Run with Debian's python3-torch: /usr/bin/python3 benchmarks/peer_torch_train.py --threads 2
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from resnet_torch import ARCHS, ResNetS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet32")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    m = ResNetS(ARCHS[a.arch], 10)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.arange(a.batch) % 10
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4)
    m.train()
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    tt = (time.perf_counter() - t0) / a.steps
    m.eval()
    with torch.no_grad():
        m(x)
        t0 = time.perf_counter()
        for _ in range(a.steps):
            m(x)
        ti = (time.perf_counter() - t0) / a.steps
    print(f"pytorch train {a.arch} batch {a.batch}: {1e3 * tt:.1f} ms/step  {a.batch / tt:.1f} images/s  threads={a.threads}")
    print(f"pytorch infer {a.arch} batch {a.batch}: {1e3 * ti:.1f} ms/batch  {a.batch / ti:.1f} images/s  threads={a.threads}")


if __name__ == "__main__":
    main()
