#!/usr/bin/python3
"""An independent implementation of phases 2 and 3 (GUIDE section 5) with numpy and
scikit-learn, to check EOS-CL's `eos resample --method eos` + `eos finetune` end to end:

  /usr/bin/python3 tests/golden/eos_reference.py TRAIN_EMB.csv TEST_EMB.csv [--seeds 3]

EOS: k = 10 neighbours of every training embedding over all classes (sklearn
NearestNeighbors, Euclidean); for each class below the largest, bases = its samples with an
enemy among their neighbours; n_max - n_c draws: base uniform with replacement, one of its
enemies uniform, gap r ~ U(0, 1), base + r (enemy - base). Head: a new 64 -> C linear layer
(Kaiming-normal weight, uniform bias), 10 epochs, batch 128, SGD lr 0.1 with the 5-epoch linear
warm-up, momentum 0.9, weight decay 2e-4 (PyTorch semantics), in numpy. Prints the test BAC
of each seed and their mean, and the time of the neighbour search and of the generation.
"""
import argparse
import time

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.neighbors import NearestNeighbors


def read_csv(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return data[:, 1:].astype(np.float32), data[:, 0].astype(np.int64)


def eos(x, y, k, rng):
    t0 = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
    _, idx = nn.kneighbors(x)
    t_knn = time.perf_counter() - t0
    t0 = time.perf_counter()
    nbr = idx[:, 1:]  # drop the point itself
    counts = np.bincount(y)
    n_max = counts.max()
    new_x, new_y = [x], [y]
    for c in range(len(counts)):
        need = n_max - counts[c]
        if need == 0:
            continue
        members = np.where(y == c)[0]
        enemy_mask = y[nbr[members]] != c
        bases = members[enemy_mask.any(axis=1)]
        if len(bases) == 0:  # no enemies anywhere near: copies (EOS-CL does the same)
            pick = rng.choice(members, need)
            new_x.append(x[pick])
            new_y.append(np.full(need, c))
            continue
        b = rng.choice(bases, need)
        enemies = np.array([rng.choice(nbr[i][y[nbr[i]] != c]) for i in b])
        r = rng.random((need, 1)).astype(np.float32)
        new_x.append(x[b] + r * (x[enemies] - x[b]))
        new_y.append(np.full(need, c))
    t_gen = time.perf_counter() - t0
    return np.concatenate(new_x), np.concatenate(new_y), t_knn, t_gen


def train_head(x, y, classes, rng, epochs=10, batch=128, lr=0.1, momentum=0.9, wd=2e-4):
    d = x.shape[1]
    w = rng.normal(0, np.sqrt(2.0 / d), (classes, d)).astype(np.float32)
    b = rng.uniform(-1 / np.sqrt(d), 1 / np.sqrt(d), classes).astype(np.float32)
    mw, mb = np.zeros_like(w), np.zeros_like(b)
    n = len(y)
    for e in range(epochs):
        rate = lr * (e + 1) / 5 if e + 1 <= 5 else lr
        order = rng.permutation(n)
        for s in range(0, n, batch):
            i = order[s:s + batch]
            z = x[i] @ w.T + b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(i)), y[i]] -= 1
            p /= len(i)
            gw = p.T @ x[i] + wd * w
            gb = p.sum(axis=0) + wd * b
            mw = momentum * mw + gw
            mb = momentum * mb + gb
            w -= rate * mw
            b -= rate * mb
    return w, b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    x, y = read_csv(a.train)
    xt, yt = read_csv(a.test)
    classes = int(max(y.max(), yt.max())) + 1
    bacs = []
    for seed in range(a.seeds):
        rng = np.random.default_rng(seed)
        xb, yb, t_knn, t_gen = eos(x, y, a.k, rng)
        w, b = train_head(xb, yb, classes, rng)
        bac = balanced_accuracy_score(yt, np.argmax(xt @ w.T + b, axis=1))
        bacs.append(bac)
        print(f"seed {seed}: {len(y)} -> {len(yb)} rows, test BAC {bac:.4f}  "
              f"(sklearn kNN {t_knn:.3f} s, numpy generation {t_gen:.3f} s)")
    print(f"mean test BAC over {a.seeds} seeds: {np.mean(bacs):.4f} (std {np.std(bacs):.4f})")


if __name__ == "__main__":
    main()
