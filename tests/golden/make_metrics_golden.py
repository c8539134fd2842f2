#!/usr/bin/python3
"""Golden values for tests/train/test_metrics.c from scikit-learn and imbalanced-learn (Debian's
python3-sklearn and python3-imblearn; run by hand):

  /usr/bin/python3 tests/golden/make_metrics_golden.py

writes metrics_cases.txt: per case a line "case C n", a line of true labels, a line of
predictions, then "acc bac gm fm" and the per-class recall, from accuracy_score,
balanced_accuracy_score, imblearn geometric_mean_score(average='macro'),
f1_score(average='macro') and recall_score(average=None).
"""
import os
import warnings

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rng = np.random.default_rng(2024)
    cases = []
    for C, n, skill in [(2, 40, 0.8), (3, 30, 0.5), (10, 500, 0.6), (10, 200, 0.1), (5, 60, 0.9), (4, 25, 0.0)]:
        y = rng.integers(0, C, n)
        noise = rng.integers(0, C, n)
        p = np.where(rng.random(n) < skill, y, noise)
        cases.append((C, y, p))
    # long-tailed truth, and a class that is never predicted
    C = 6
    y = np.repeat(np.arange(C), [50, 25, 12, 6, 3, 2])
    p = np.where(rng.random(len(y)) < 0.7, y, 0)
    p[p == 5] = 0
    cases.append((C, y, p))
    warnings.simplefilter("ignore")
    with open(os.path.join(HERE, "metrics_cases.txt"), "w") as f:
        for C, y, p in cases:
            labels = list(range(C))
            acc = accuracy_score(y, p)
            bac = balanced_accuracy_score(y, p)
            gm = geometric_mean_score(y, p, average="macro", labels=labels)
            fm = f1_score(y, p, average="macro", labels=labels, zero_division=0)
            rec = recall_score(y, p, average=None, labels=labels, zero_division=0)
            f.write(f"case {C} {len(y)}\n")
            f.write(" ".join(map(str, y)) + "\n")
            f.write(" ".join(map(str, p)) + "\n")
            f.write(f"{acc:.12g} {bac:.12g} {gm:.12g} {fm:.12g}\n")
            f.write(" ".join(f"{r:.12g}" for r in rec) + "\n")
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
