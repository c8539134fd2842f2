#!/usr/bin/python3
"""Golden counts for the baselines of tests/sampling/test_oversample.c, from imbalanced-learn itself
(Debian's python3-imblearn 0.10; run by hand, then commit the output):

  /usr/bin/python3 tests/golden/make_oversample_golden.py

A fixed embedding set (4 classes of 24/14/9/7 rows in 3-d, overlapping blobs, 3 decimals) goes
through SMOTE, BorderlineSMOTE (kind='borderline-1') and ADASYN with sampling_strategy='auto'
(every class up to the largest), once with imblearn's defaults (k_neighbors=5, m_neighbors=10,
n_neighbors=5) and once with k=3, m=6. Recorded per case: the per-class output counts; for
Borderline-SMOTE the danger set (global row indices, from imblearn's own _in_danger_noise as
fit_resample called it); for ADASYN the synthetic rows each input row makes (imblearn's
np.rint(ratio * n) as its np.repeat received it). The random interpolation draws are numpy's
and are not recorded: the C test checks where its own rows lie instead.

The set is redrawn (seed += 1) until no result can hinge on rounding: squared distances of each
row's nearest 12 (all classes and within its class) differ by more than 0.1 % (EOS-CL's float32
kNN and sklearn's float64 one rank them alike), and no ADASYN share is within 1e-6 of a .5
(np.rint and C's rint agree however the shares are summed). Every minority class has a danger
row and an ADASYN enemy, so imblearn and EOS-CL both grow every class (EOS-CL copies where
imblearn would skip a class or raise), and the danger rule leaves out both safe rows (fewer
than m/2 enemies) and noise rows (m enemies), so a wrong bound shows.

oversample_golden.txt: "eos-cl oversample golden 1", "set N DIM CLASSES SEED", N lines
"label f0 f1 f2", then per case "case METHOD K M", "counts c0 c1 c2 c3", and for borderline
"danger D i1 .. iD", for adasyn "made N m0 .. m(N-1)", and "end" at the close.
"""
import os

import numpy as np
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE
from imblearn.over_sampling import _adasyn

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [24, 14, 9, 7]
DIM = 3
CASES = [(5, 10), (3, 6)]  # (k, m): imblearn's defaults, then the flags' other values


def make_set(seed):
    rng = np.random.default_rng(seed)
    x, y = [], []
    for c, n in enumerate(SIZES):
        centre = np.array([1.6 * c, 0.5 * (c % 2), 0.0])
        x.append(np.round(rng.normal(centre, 0.8, (n, DIM)), 3))
        y.append(np.full(n, c))
    # float32 values, held in float64 for sklearn: both sides see the same numbers
    return np.concatenate(x).astype(np.float32).astype(np.float64), np.concatenate(y)


def ranks_are_clear(x, y):
    for i in range(len(x)):
        for pool in (np.arange(len(x)), np.flatnonzero(y == y[i])):
            d2 = np.sort(((x[pool] - x[i]) ** 2).sum(axis=1))[:13]  # itself (0), then 12
            if np.any(np.diff(d2) <= 1e-3 * d2[1:]):
                return False
    return True


class RecordingNumpy:
    """numpy, with np.repeat recording its counts: ADASYN's per-sample numbers as it uses them."""

    def __init__(self):
        self.repeats = []

    def __getattr__(self, name):
        return getattr(np, name)

    def repeat(self, a, counts, *args, **kw):
        self.repeats.append(np.array(counts))
        return np.repeat(a, counts, *args, **kw)


def run_cases(x, y):
    """[(method, k, m, counts, extra)] or None when a case would hinge on rounding."""
    out = []
    counts_in = np.bincount(y)
    for k, m in CASES:
        sm = SMOTE(k_neighbors=k, random_state=0)
        _, ys = sm.fit_resample(x, y)
        out.append(("smote", k, 0, np.bincount(ys), None))

        bl = BorderlineSMOTE(k_neighbors=k, m_neighbors=m, kind="borderline-1", random_state=0)
        danger = []
        original = bl._in_danger_noise

        def record(nn, samples, target_class, yy, kind="danger"):
            flags = original(nn, samples, target_class, yy, kind=kind)
            danger.extend(np.flatnonzero(y == target_class)[flags])
            return flags

        bl._in_danger_noise = record
        _, yb = bl.fit_resample(x, y)
        per_class = np.bincount(y[np.array(danger, dtype=int)], minlength=len(SIZES))
        if np.any(per_class[counts_in < counts_in.max()] == 0):
            return None
        # the rule must decide something: minority rows left out of the danger set as safe
        # (fewer than m/2 enemies) and as noise (m enemies) both occur
        minority = np.flatnonzero(counts_in[y] < counts_in.max())
        nn = np.argsort(((x[minority][:, None, :] - x[None, :, :]) ** 2).sum(-1), axis=1)[:, 1:m + 1]
        enemies = (y[nn] != y[minority][:, None]).sum(axis=1)
        if not (np.any(2 * enemies < m) and np.any(enemies == m)):
            return None
        assert sorted(minority[(2 * enemies >= m) & (enemies < m)]) == sorted(danger)
        out.append(("borderline", k, m, np.bincount(yb), sorted(int(i) for i in danger)))

        rec = RecordingNumpy()
        saved = _adasyn.np
        _adasyn.np = rec
        try:
            ad = ADASYN(n_neighbors=k, random_state=0)
            _, ya = ad.fit_resample(x, y)
        finally:
            _adasyn.np = saved
        made = np.zeros(len(y), dtype=int)
        grown = [c for c in range(len(SIZES)) if counts_in[c] < counts_in.max()]
        assert len(rec.repeats) == len(grown)
        for c, counts in zip(grown, rec.repeats):
            made[y == c] = counts
            # the shares again, as imblearn computes them: none may sit on a .5
            nn = np.argsort(((x[y == c][:, None, :] - x[None, :, :]) ** 2).sum(-1), axis=1)[:, 1:k + 1]
            ratio = (y[nn] != c).sum(axis=1) / k
            if ratio.sum() == 0:
                return None
            share = ratio / ratio.sum() * (counts_in.max() - counts_in[c])
            if np.any(np.abs(share - np.floor(share) - 0.5) < 1e-6):
                return None
            assert np.array_equal(np.rint(share).astype(int), counts)
        assert np.array_equal(np.bincount(ya), counts_in + np.bincount(y, weights=made).astype(int))
        out.append(("adasyn", k, 0, np.bincount(ya), made))
    return out


def main():
    seed = 1
    while True:
        x, y = make_set(seed)
        if ranks_are_clear(x, y):
            cases = run_cases(x, y)
            if cases is not None:
                break
        seed += 1
    path = os.path.join(HERE, "oversample_golden.txt")
    with open(path, "w") as f:
        f.write("eos-cl oversample golden 1\n")
        f.write(f"set {len(y)} {DIM} {len(SIZES)} {seed}\n")
        for xi, yi in zip(x, y):
            f.write(f"{yi} " + " ".join(f"{v:.9g}" for v in xi) + "\n")
        for method, k, m, counts, extra in cases:
            f.write(f"case {method} {k} {m}\n")
            f.write("counts " + " ".join(str(int(c)) for c in counts) + "\n")
            if method == "borderline":
                f.write(f"danger {len(extra)} " + " ".join(str(i) for i in extra) + "\n")
            if method == "adasyn":
                f.write(f"made {len(extra)} " + " ".join(str(int(v)) for v in extra) + "\n")
        f.write("end\n")
    print(f"wrote {path} (set seed {seed})")
    for method, k, m, counts, extra in cases:
        print(f"  {method:10s} k {k} m {m}: counts {list(map(int, counts))}"
              + (f", danger {len(extra)} rows" if method == "borderline" else "")
              + (f", {int(sum(extra))} made" if method == "adasyn" else ""))


if __name__ == "__main__":
    main()
