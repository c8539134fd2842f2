#!/usr/bin/python3
"""The workloads of `eos bench` in PyTorch and scikit-learn on the CPU, the peer EOS-CL is
measured against (benchmarks/compare.sh runs both, alternating):

  /usr/bin/python3 benchmarks/peer_torch.py train|infer|knn|eos [--arch resnet32] [--batch 128]
                   [--steps 5] [--threads 2] [--layout channels_last|nchw] [--emb FILE.csv]
                   [--n 12406] [--k 10] [--cuda]

train/infer: ResNet-s as GUIDE section 5 defines it (tests/golden/resnet_torch.py, the network the
golden tests pin EOS-CL to), a fixed random batch, SGD lr 0.05 (0.01 from 18 blocks a stage) momentum 0.9 weight decay 2e-4,
3 warm-up steps then --steps timed ones (inference: evaluation mode, no_grad). The peer is measured
at its best: channels_last tensors by default (faster than NCHW for PyTorch on this CPU, about +7%
training), --layout nchw for the plain layout; the layout is printed with the result. knn: scikit-learn
NearestNeighbors (k + 1, the point itself dropped) of every embedding among all. eos: the same
search plus EOS generation in numpy (tests/golden/eos_reference.py, the independent reference
implementation). Embeddings: --emb, else exp:100 over 10 classes generated like `eos bench`'s.
Prints lines shaped like `eos bench`'s. Run with Debian's python3-torch and python3-sklearn.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "golden"))


def resnet(a):
    import torch
    import torch.nn.functional as F
    from resnet_torch import ARCHS, ResNetS

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dev = "cuda" if a.cuda else "cpu"
    fmt = torch.channels_last if a.layout == "channels_last" else torch.contiguous_format
    m = ResNetS(ARCHS[a.arch], 10).to(dev).to(memory_format=fmt)
    x = torch.randn(a.batch, 3, 32, 32, device=dev).contiguous(memory_format=fmt)
    y = (torch.arange(a.batch) % 10).to(dev)
    sync = torch.cuda.synchronize if a.cuda else (lambda: None)
    where = (torch.cuda.get_device_name(0) if a.cuda else f"cpu threads={a.threads}") + f" layout={a.layout}"
    if a.what == "train":
        lr = 0.01 if ARCHS[a.arch] >= 18 else 0.05  # as `eos bench` (He et al.'s ResNet-110 warm-up rate)
        opt = torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9, weight_decay=2e-4)
        m.train()

        def step():
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
    else:
        m.eval()

        def step():
            with torch.no_grad():
                m(x)
    for _ in range(3):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync()
    t = (time.perf_counter() - t0) / a.steps
    print(f"pytorch {a.what} {a.arch} batch {a.batch}: {1e3 * t:.1f} ms/step  {a.batch / t:.1f} images/s  device={where}")


def embeddings(a):
    import numpy as np

    if a.emb:
        data = np.loadtxt(a.emb, delimiter=",", skiprows=1, dtype=np.float64)
        return data[:, 1:].astype(np.float32), data[:, 0].astype(np.int64), "file"
    raw = sum(0.01 ** (c / 9) for c in range(10))
    counts = [max(2, int(a.n * 0.01 ** (c / 9) / raw)) for c in range(10)]
    counts[0] += max(0, a.n - sum(counts))  # exactly n rows, as `eos bench`
    rng = np.random.default_rng(7)
    y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    x = rng.normal(size=(len(y), a.dim)).astype(np.float32)
    for c in range(10):
        x[y == c, c::10] += 3.0
    return x, y, f"{len(y)} x {a.dim}"


def neighbours(a):
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    from eos_reference import eos

    x, y, what = embeddings(a)
    times = []
    for _ in range(a.steps + 1):  # the first call warms up
        t0 = time.perf_counter()
        if a.what == "knn":
            NearestNeighbors(n_neighbors=a.k + 1).fit(x).kneighbors(x)
        else:
            eos(x, y, a.k, np.random.default_rng(1))
        times.append(time.perf_counter() - t0)
    t = float(np.median(times[1:]))
    print(f"sklearn {a.what} {what} k {a.k}: median {1e3 * t:.1f} ms  device=cpu")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["train", "infer", "knn", "eos"])
    ap.add_argument("--arch", default="resnet32")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layout", choices=["channels_last", "nchw"], default="channels_last")
    ap.add_argument("--emb")
    ap.add_argument("--n", type=int, default=12406)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--cuda", action="store_true")
    a = ap.parse_args()
    if a.what in ("train", "infer"):
        resnet(a)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
        neighbours(a)


if __name__ == "__main__":
    main()
