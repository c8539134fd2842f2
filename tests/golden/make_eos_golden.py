#!/usr/bin/python3
"""Golden rows for `--method eos` (the paper's definition) and `--method eos-ref` (the authors'
released EOS.py) in tests/sampling/test_oversample.c: numpy transcriptions of both, fed one fixed
neighbour list and fixed draws, so the C code fed the same (eos__resample_scripted) must give
the same rows. Run by hand, then commit the output:

  /usr/bin/python3 tests/golden/make_eos_golden.py

The set: 3 classes of 16/9/5 rows in 2-d (overlapping blobs, 3 decimals), k = 10, neighbours by
brute force in float64 (ranks checked free of near-ties). The draws, per new row in output order
(class 1's rows, then class 2's): bind, the base's place among its class's eligible bases (rows
with an enemy among their k neighbours, in row order); ni, a neighbour position 0..k-1 that holds
an enemy (EOS.py draws it with p = the enemy indicator over ind1[n][1:]); r, the gap (float32).

  eos      (paper)  new = x[b] + r (x[nbr[b, ni]] - x[b]): toward the chosen enemy
  eos-ref  (EOS.py) new = x[b] + r (x[ind2[b, ni]] - x[b]), ind2 = the 11-column search whose
                    column 0 is the point itself: toward the neighbour one rank nearer than the
                    chosen enemy, and x[b] itself (a copy) when ni = 0

The draws are chosen so that both of eos-ref's departures happen: ni = 0 (a copy) and a move
toward a same-class neighbour. Arithmetic in float32, as EOS-CL's.

eos_golden.txt: "eos-cl eos golden 1", "set N DIM CLASSES K", N lines "label f0 f1", N lines of
the K neighbour indices (nearest first, the point itself excluded), "draws D", D lines
"bind ni r", then "eos D" and "eos-ref D" each followed by D lines "label f0 f1", and "end".
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [16, 9, 5]
DIM = 2
K = 10


def make_set(rng):
    x, y = [], []
    for c, n in enumerate(SIZES):
        x.append(np.round(rng.normal([1.2 * c, 0.3 * c], 0.9, (n, DIM)), 3))
        y.append(np.full(n, c))
    return np.concatenate(x).astype(np.float32), np.concatenate(y)


def neighbours(x):
    """ind2 as sklearn's NearestNeighbors(n_neighbors=K+1).kneighbors(x) gives it, itself first;
    None when two ranks are too close to be sure of the order."""
    x64 = x.astype(np.float64)
    d2 = ((x64[:, None, :] - x64[None, :, :]) ** 2).sum(-1)
    ind2 = np.argsort(d2, axis=1, kind="stable")[:, :K + 1]
    for i in range(len(x)):
        s = d2[i, np.argsort(d2[i], kind="stable")[:K + 2]]
        if np.any(np.diff(s) <= 1e-3 * s[1:]) or ind2[i, 0] != i:
            return None
    return ind2


def draws_for(y, ind2, rng):
    """bind, ni, r per new row: what EOS.py's np.random.choice / choice(p=) / rand would draw."""
    counts = np.bincount(y)
    bind, ni, r = [], [], []
    for c in range(len(counts)):
        need = counts.max() - counts[c]
        if need == 0:
            continue
        bases = [i for i in np.flatnonzero(y == c) if np.any(y[ind2[i, 1:]] != c)]
        for _ in range(need):
            b = int(rng.integers(len(bases)))
            enemy_pos = np.flatnonzero(y[ind2[bases[b], 1:]] != c)
            bind.append(b)
            ni.append(int(rng.choice(enemy_pos)))
            r.append(np.float32(rng.random()))
    return np.array(bind), np.array(ni), np.array(r, dtype=np.float32)


def eos_paper(x, y, nbr, bind, ni, r):
    """The paper (GUIDE section 5), as tests/golden/eos_reference.py does it, the draws given."""
    counts = np.bincount(y)
    out_x, out_y, at = [], [], 0
    for c in range(len(counts)):
        need = counts.max() - counts[c]
        if need == 0:
            continue
        members = np.flatnonzero(y == c)
        bases = members[(y[nbr[members]] != c).any(axis=1)]
        for _ in range(need):
            b = bases[bind[at]]
            enemy = nbr[b][ni[at]]
            assert y[enemy] != c
            out_x.append(x[b] + r[at] * (x[enemy] - x[b]))
            out_y.append(c)
            at += 1
    return np.array(out_x, dtype=np.float32), np.array(out_y)


def eos_released(x, labs, ind2, bind_all, ni_all, r_all):
    """EOS.py (github.com/dd1github/EOS, lines 47-159) line by line, with np.random's three
    draws replaced by the given ones and num_ex_ds by the set's counts."""
    feats = x
    num_nbs = K
    nds = np.bincount(labs)
    num_classes = len(nds)
    max_samp = np.max(nds)
    nsamp1 = max_samp - nds
    bases, probs, nbs, labels = [], [], [], []
    for d in range(num_classes):
        if nds[d] == max_samp:
            continue
        cf = feats[labs == d]
        # nn.kneighbors(cf) on the fitted set: the rows of class d in ind2
        ind1 = ind2[np.flatnonzero(labs == d)]
        for n in range(len(cf)):
            yy = labs[ind1[n][1:]]
            z = sum(yy != d)
            if z > 0:
                ybinary = np.where(yy == d, 0, 1)
                probs.append(ybinary / np.sum(ybinary))
                bases.append(ind1[n][0])
                nbs.append(ind1[n][1:])
                labels.append(d)
    basesn, probsn, labelsn = np.array(bases), np.array(probs), np.array(labels)
    samples, ysamp, at = [], [], 0
    for i in range(num_classes):
        if nds[i] == max_samp:
            continue
        base1 = basesn[labelsn == i]
        prob1 = probsn[labelsn == i]
        nsamp = nsamp1[i]
        bind = bind_all[at:at + nsamp]  # np.random.choice(list(range(len(lab1))), size=nsamp)
        base_indices = base1[bind]
        pb = prob1[bind]
        neighbor_indices = np.empty([nsamp], dtype=int)
        for n in range(nsamp):
            ni = ni_all[at + n]  # np.random.choice(list(range(0, num_nbs)), 1, p=pb[n])
            assert 0 <= ni < num_nbs and pb[n][ni] > 0, "a draw EOS.py could not make"
            neighbor_indices[n] = ni
        X_base = feats[base_indices]
        X_neighbor = feats[ind2[base_indices, neighbor_indices]]
        diff = X_neighbor - X_base
        r = r_all[at:at + nsamp].reshape(nsamp, 1)  # np.random.rand(nsamp, 1)
        samples.extend(X_base + np.multiply(r, diff))
        ysamp.extend(np.ones(nsamp, dtype=int) * i)
        at += nsamp
    return np.array(samples, dtype=np.float32), np.array(ysamp)


def main():
    seed = 1
    while True:
        rng = np.random.default_rng(seed)
        x, y = make_set(rng)
        ind2 = neighbours(x)
        if ind2 is not None:
            bind, ni, r = draws_for(y, ind2, rng)
            # eos-ref's two departures from the paper both occur: a copy (ni = 0) and a move
            # toward a same-class row (the rank before the enemy is a friend)
            bases = {c: [i for i in np.flatnonzero(y == c) if np.any(y[ind2[i, 1:]] != c)] for c in range(3)}
            cls = np.concatenate([np.full(max(SIZES) - n, c) for c, n in enumerate(SIZES) if n < max(SIZES)])
            b = np.array([bases[c][j] for c, j in zip(cls, bind)])
            friend = (ni > 0) & (y[ind2[b, ni]] == cls)
            if np.any(ni == 0) and np.any(friend):
                break
        seed += 1
    nbr = ind2[:, 1:]
    px, py = eos_paper(x, y, nbr, bind, ni, r)
    rx, ry = eos_released(x, y, ind2, bind, ni, r)
    assert np.array_equal(py, ry)
    path = os.path.join(HERE, "eos_golden.txt")
    with open(path, "w") as f:
        f.write("eos-cl eos golden 1\n")
        f.write(f"set {len(y)} {DIM} {len(SIZES)} {K}\n")
        for xi, yi in zip(x, y):
            f.write(f"{yi} " + " ".join(f"{v:.9g}" for v in xi) + "\n")
        for row in nbr:
            f.write(" ".join(str(int(v)) for v in row) + "\n")
        f.write(f"draws {len(bind)}\n")
        for bi, nii, ri in zip(bind, ni, r):
            f.write(f"{bi} {nii} {ri:.9g}\n")
        for name, ox, oy in (("eos", px, py), ("eos-ref", rx, ry)):
            f.write(f"{name} {len(oy)}\n")
            for xi, yi in zip(ox, oy):
                f.write(f"{yi} " + " ".join(f"{v:.9g}" for v in xi) + "\n")
        f.write("end\n")
    copies = int(np.sum(ni == 0))
    print(f"wrote {path} (seed {seed}): {len(bind)} new rows; eos-ref copies {copies}, "
          f"moves toward a same-class row {int(np.sum(friend))}")


if __name__ == "__main__":
    main()
