# The Python package eoscl against the build tree's libeos-cl (ctest: EOSCL_LIBRARY and
# PYTHONPATH set by tests/CMakeLists.txt), run with Debian's /usr/bin/python3, python3-numpy,
# python3-sklearn, python3-imblearn and python3-pytest (imblearn's estimator checks import it).
# Exit 77 (SKIPPED) when numpy/imblearn are missing, or when only the estimator checks could
# not run for want of pytest (after everything else passed).
import sys
import unittest
import warnings
from collections import Counter

try:
    import numpy as np
    import imblearn
    from imblearn import over_sampling as ios
    from imblearn.pipeline import make_pipeline
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
except ImportError as e:
    print(f"SKIPPED: {e} (install python3-numpy python3-sklearn python3-imblearn)")
    sys.exit(77)

import eoscl

# imbalanced-learn warns when a dict asks for more rows than the majority has: the test does so
warnings.filterwarnings("ignore", message="After over-sampling, the number of samples")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def data(seed=0, n=600, weights=(0.65, 0.25, 0.1), dim=6):
    """three overlapping classes: every method has danger rows and enemies to work with"""
    X, y = make_classification(n_samples=n, n_features=dim, n_informative=4, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, weights=list(weights), class_sep=0.8, flip_y=0,
                               random_state=seed)
    return X, y


def knn(X, i, k, among):
    """the k nearest rows to row i among the index array `among` (itself left out), in float64"""
    among = among[among != i]
    d = ((X[among] - X[i]) ** 2).sum(1)
    return set(among[np.argsort(d, kind="stable")[:k]].tolist())


def enemies(X, y, i, k):
    nb = knn(X, i, k, np.arange(len(y)))
    return sum(y[j] != y[i] for j in nb)


def segment_ok(v, a, b):
    """v = a + r (b - a) with r in [0, 1], within float32 rounding"""
    d = b - a
    den = float(d @ d)
    if den == 0:
        return np.allclose(v, a, atol=1e-5)
    r = float((v - a) @ d) / den
    return -1e-5 <= r <= 1 + 1e-5 and np.allclose(v, a + r * d, rtol=1e-5, atol=1e-5)


def rows_allowed(name, s, X, y, X_res, y_res):
    """every new row: from a row of its class, toward a partner the method allows, on the segment"""
    n = len(y)
    bad = []
    k = getattr(s, "k_neighbors", None) or getattr(s, "n_neighbors", None)
    for t, (o, p) in enumerate(zip(s.origin_, s.partner_)):
        c, v = y_res[n + t], X_res[n + t]
        if y[o] != c:
            bad.append(f"row {t}: from row {o} of class {y[o]}, labelled {c}")
            continue
        if name == "RandomOverSampler":
            if p != -1 or not np.array_equal(v, X[o]):
                bad.append(f"row {t}: not a copy of row {o}")
            continue
        if name == "EOS":
            ok = y[p] != c and p in knn(X, o, k, np.arange(n))
        else:
            own = np.flatnonzero(y == c)
            ok = y[p] == c and p in knn(X, o, min(k, len(own) - 1), own)
            if name == "BorderlineSMOTE":
                e = enemies(X, y, o, s.m_neighbors)
                ok = ok and 2 * e >= s.m_neighbors and e < s.m_neighbors
            if name == "ADASYN":
                ok = ok and enemies(X, y, o, k) > 0
        if not ok:
            bad.append(f"row {t}: from row {o} toward row {p}, which {name} does not allow")
        elif not segment_ok(v, X[o], X[p]):
            bad.append(f"row {t}: not on the segment from row {o} to row {p}")
    check(not bad, f"{name}: every one of {len(s.origin_)} new rows on an allowed segment" +
          (f" ({len(bad)} not, first: {bad[0]})" if bad else ""))


# ---- devices ----------------------------------------------------------------------------
devs = eoscl.devices()
check(len(devs) > 0, f"devices(): {len(devs)} device(s), first {devs[0].name if devs else None!r}")
for d in devs:
    # fields from the start, middle and end of eos_device_info: a struct out of step with the
    # header reads garbage here
    check(d.type in ("CPU", "GPU", "other") and d.name and d.opencl_c_version.startswith("OpenCL C")
          and d.compute_units >= 1 and 0 < d.max_alloc_bytes <= d.global_mem_bytes and d.max_work_group_size >= 1,
          f"devices()[{d.index}]: {d.type} {d.name!r}, {d.opencl_c_version!r}, {d.compute_units} CUs")
check(eoscl.library_path().endswith(".so") or ".so." in eoscl.library_path(), f"library: {eoscl.library_path()}")

# ---- counts equal imbalanced-learn's, rows on allowed segments ---------------------------
X, y = data()
pairs = [(eoscl.SMOTE, ios.SMOTE), (eoscl.BorderlineSMOTE, ios.BorderlineSMOTE), (eoscl.ADASYN, ios.ADASYN),
         (eoscl.RandomOverSampler, ios.RandomOverSampler), (eoscl.EOS, ios.SMOTE)]
strategies = ["auto", "not minority", {1: 400, 2: 300}]
for ours, theirs in pairs:
    for strategy in strategies:
        s = ours(random_state=0, sampling_strategy=strategy)
        X_res, y_res = s.fit_resample(X, y)
        want = Counter(theirs(random_state=0, sampling_strategy=strategy).fit_resample(X, y)[1])
        got = Counter(y_res)
        label = f"{ours.__name__} sampling_strategy={strategy!r}"
        check(got == want, f"{label}: counts {dict(sorted(got.items()))}, imbalanced-learn's "
                           f"{'SMOTE ' if ours is eoscl.EOS else ''}{dict(sorted(want.items()))}")
        check(np.array_equal(X_res[:len(y)], X) and np.array_equal(y_res[:len(y)], y) and X_res.dtype == X.dtype,
              f"{label}: the input rows first, unchanged, dtype {X_res.dtype}")
        if strategy == "auto":
            rows_allowed(ours.__name__, s, X, y, X_res, y_res)

# EOS's own parameters: k_neighbors reaches the library (the enemies are searched among k)
s = eoscl.EOS(k_neighbors=3, random_state=1)
X_res, y_res = s.fit_resample(X, y)
check(s.k_neighbors_ == 3, f"EOS(k_neighbors=3): k used {s.k_neighbors_}")
rows_allowed("EOS", s, X, y, X_res, y_res)

# string labels and float32 in, the same types out
ys = np.array(["a", "b", "c"], dtype=object)[y]
X_res, y_res = eoscl.EOS(random_state=0).fit_resample(X.astype(np.float32), ys)
check(X_res.dtype == np.float32 and y_res.dtype == object and Counter(y_res) == Counter({"a": 390, "b": 390, "c": 390}),
      f"EOS on float32 rows and string labels: {X_res.dtype}, {dict(Counter(y_res))}")

# ---- determinism --------------------------------------------------------------------------
for cls in (eoscl.EOS, eoscl.SMOTE, eoscl.ADASYN):
    a = cls(random_state=7).fit_resample(X, y)[0]
    b = cls(random_state=7).fit_resample(X, y)[0]
    c = cls(random_state=8).fit_resample(X, y)[0]
    check(np.array_equal(a, b) and not np.array_equal(a, c),
          f"{cls.__name__}: random_state=7 twice gives the same rows, 8 other rows")
rs = np.random.RandomState(3)
a = eoscl.EOS(random_state=rs).fit_resample(X, y)[0]
b = eoscl.EOS(random_state=np.random.RandomState(3)).fit_resample(X, y)[0]
check(np.array_equal(a, b), "EOS: random_state as a RandomState instance, reproducible")

# ---- inside an imbalanced-learn Pipeline ---------------------------------------------------
Xa, ya = data(seed=2, n=1200)
X2, y2, Xt, yt = Xa[::2], ya[::2], Xa[1::2], ya[1::2]  # train and held-out halves of one set
pipe = make_pipeline(eoscl.EOS(random_state=0), LogisticRegression(max_iter=1000))
pipe.fit(X2, y2)
X_bal, y_bal = eoscl.EOS(random_state=0).fit_resample(X2, y2)
direct = LogisticRegression(max_iter=1000).fit(X_bal, y_bal)
check(np.array_equal(pipe.predict(Xt), direct.predict(Xt)),
      "Pipeline(EOS, LogisticRegression): the same predictions as the classifier fitted on fit_resample's output")
check(len(pipe.predict(Xt)) == len(Xt) and pipe.score(Xt, yt) > 0.5,
      f"Pipeline: predicts the held-out set (accuracy {pipe.score(Xt, yt):.3f})")
pipe.set_params(eos__k_neighbors=5)
check(pipe.fit(X2, y2).steps[0][1].k_neighbors_ == 5, "Pipeline: set_params(eos__k_neighbors=5) reaches the sampler")

# ---- errors are the library's, with its message --------------------------------------------
try:
    eoscl.EOS(device="no-such-device-xyz", random_state=0).fit_resample(X, y)
    check(False, "device='no-such-device-xyz': refused")
except eoscl.EOSCLError as e:
    check("no-such-device-xyz" in str(e) and e.status_name == "EOS_ERR_NO_DEVICE",
          f"device='no-such-device-xyz': {e.status_name}, message names the spec")
try:
    eoscl.SMOTE(k_neighbors=65).fit_resample(X, y)
    check(False, "SMOTE(k_neighbors=65): refused")
except ValueError as e:
    check("k_neighbors" in str(e), "SMOTE(k_neighbors=65): ValueError naming k_neighbors")

# ---- imbalanced-learn's estimator checks -------------------------------------------------------
try:
    import pytest  # noqa: F401  (estimator_checks imports it)
    from imblearn.utils import estimator_checks as ec
except ImportError as e:
    print(f"SKIPPED: imblearn.utils.estimator_checks: {e} (install python3-pytest)")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    sys.exit(77)
# Every check _yield_all_checks picks for a sampler from its tags, plus check_param_validation.
# Not picked, by the tags: check_samplers_sparse (dense rows only: they go to the device as
# float32), check_samplers_string (numeric features only), check_samplers_nan (NaN is refused).
# Those needing pandas skip themselves when it is not installed.
ran, skipped = Counter(), Counter()
for est in (eoscl.EOS(random_state=0), eoscl.SMOTE(random_state=0), eoscl.BorderlineSMOTE(random_state=0),
            eoscl.ADASYN(random_state=0), eoscl.RandomOverSampler(random_state=0)):
    name = type(est).__name__
    for fn in list(ec._yield_all_checks(est)) + [ec.check_param_validation]:
        try:
            fn(name, est)
            ran[fn.__name__] += 1
        except (unittest.SkipTest, pytest.skip.Exception) as e:
            skipped[fn.__name__] += 1
        except Exception as e:  # noqa: BLE001 (report every failing check, then fail)
            check(False, f"{name}: {fn.__name__}: {type(e).__name__}: {e}")
check(len(ran) >= 10, f"estimator checks passed ({sum(ran.values())} runs): {', '.join(sorted(ran))}")
if skipped:
    print(f"     skipped (pandas not installed): {', '.join(sorted(skipped))}")

print(f"{len(failures)} check(s) failed" if failures else "all checks passed")
sys.exit(1 if failures else 0)
