# imbalanced-learn compatible over-samplers over eos_resample_with (include/eos/oversample.h):
# EOS and the baselines with imbalanced-learn's parameter names and defaults where they map,
# the neighbour searches on the OpenCL device, drawing and interpolation in the library.
import ctypes
import numbers

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from imblearn.utils._param_validation import Interval, StrOptions
from sklearn.utils import check_random_state

from . import _lib
from ._lib import check, library, lock

__all__ = ["EOS", "SMOTE", "BorderlineSMOTE", "ADASYN", "RandomOverSampler"]

_KNN_MAX_K = 64  # EOS_KNN_MAX_K

# One runtime per device spec, opened on first use and kept for the process: opening one builds
# (or loads from the kernel cache) the neighbour-search programs, which a Pipeline refitting in
# a loop should not pay every time. Calls are serialised by _lib.lock.
_runtimes = {}


def _runtime(device):
    lib = library()
    key = "" if device is None else str(device)
    rt = _runtimes.get(key)
    if rt is None:
        rt = ctypes.c_void_p()
        check(lib.eos_runtime_init(ctypes.byref(rt), None if device is None else key.encode()),
              f"eoscl: opening the OpenCL device {key or '(default)'}")
        _runtimes[key] = rt
    return rt


class _Sampler(BaseOverSampler):
    """The common part: labels to 0..C-1, sampling_strategy_ to per-class targets, one library
    call, the new rows appended to the untouched input (in its dtype)."""

    _method = None        # the library's method name (eos_resample_parse)
    _needs_device = True  # random over-sampling searches no neighbours

    _parameter_constraints = {
        **BaseOverSampler._parameter_constraints,
        "device": [str, numbers.Integral, None],
    }

    def _config(self):
        return 0, 0  # k, m: the method's defaults

    def _check_X_y(self, X, y, accept_sparse=None):
        # dense floats only: the library works in float32 on the device (the input rows are
        # returned as given; only the new rows pass through float32)
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = self._validate_data(X, y, reset=True, accept_sparse=False, dtype=[np.float64, np.float32])
        return X, y, binarize_y

    def _more_tags(self):
        return {"X_types": ["2darray", "dataframe"]}

    def _seed(self):
        rs = self.random_state
        if isinstance(rs, numbers.Integral):
            return int(rs) % (1 << 64)  # an int is the seed itself: the CLI's --seed gives the same rows
        return int(check_random_state(rs).randint(0, np.iinfo(np.int64).max, dtype=np.int64))

    def _fit_resample(self, X, y):
        lib = library()
        classes, codes = np.unique(y, return_inverse=True)
        counts = np.bincount(codes, minlength=len(classes))
        target = counts.astype(np.uintp)
        for cls, n_new in self.sampling_strategy_.items():
            target[np.searchsorted(classes, cls)] += n_new
        x32 = np.ascontiguousarray(X, dtype=np.float32)
        lab = np.ascontiguousarray(codes, dtype=np.int32)
        n, dim = x32.shape
        method = ctypes.c_int()
        check(lib.eos_resample_parse(self._method.encode(), ctypes.byref(method)), "eoscl")
        k, m = self._config()
        cfg = _lib.ResampleConfig(k=k, m=m, adasyn_remainder=0,
                                  target=target.ctypes.data_as(ctypes.POINTER(ctypes.c_size_t)))
        inp = _lib.Embeddings(n=n, dim=dim, labels=lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                              x=x32.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        out, rep = _lib.Embeddings(), _lib.ResampleReport()
        with lock:
            rt = _runtime(self.device) if self._needs_device else None
            st = lib.eos_resample_with(rt, ctypes.byref(inp), len(classes), method.value, ctypes.byref(cfg),
                                       self._seed(), ctypes.byref(out), ctypes.byref(rep))
            try:
                check(st, f"eoscl.{type(self).__name__}.fit_resample")
                s = rep.synthetic
                new_x = np.ctypeslib.as_array(out.x, shape=(out.n * dim,))[n * dim:].reshape(s, dim) if s else \
                    np.empty((0, dim), np.float32)
                new_y = np.ctypeslib.as_array(out.labels, shape=(out.n,))[n:].copy() if s else np.empty(0, np.int32)
                origin = np.ctypeslib.as_array(rep.origin, shape=(s,)).astype(np.intp) if s else np.empty(0, np.intp)
                partner = np.ctypeslib.as_array(rep.partner, shape=(s,)).astype(np.intp) if s else np.empty(0, np.intp)
                new_x = new_x.astype(X.dtype, copy=True)
                copies = partner < 0  # copies are the input rows themselves, not their float32 rounding
                new_x[copies] = X[origin[copies]]
                self.device_ = (lib.eos_runtime_device(rt).contents.name.decode(errors="replace")
                                if rt is not None else None)
                self.k_neighbors_ = rep.k if self._needs_device else None
            finally:
                lib.eos_embeddings_free(ctypes.byref(out))
                lib.eos_resample_report_free(ctypes.byref(rep))
        # where each new row came from: new row i = X[origin_[i]] + r (X[partner_[i]] - X[origin_[i]]),
        # partner_ -1 for a copy (random over-sampling, or a class the method had no base in)
        self.origin_, self.partner_ = origin, partner
        return np.vstack((X, new_x)), np.hstack((y, classes[new_y]))


class EOS(_Sampler):
    """Expansive Over-Sampling (Dablain, Krawczyk, Chawla): for each class short of its target,
    new rows base + r (enemy - base), the base drawn among the class's rows that have another
    class's row (an enemy) among their k_neighbors nearest, the enemy among those, r ~ U(0, 1).

    Parameters: sampling_strategy (imbalanced-learn's), random_state (an int is the seed
    itself, as `eos resample --seed`), k_neighbors (1..64, the paper's 10), device (None:
    $EOS_DEVICE, else the first GPU, else the first CPU).
    Fitted: sampling_strategy_, origin_, partner_ (the rows each new row lies between),
    device_ (the device's name), k_neighbors_ (the k used: at most the rows less one).
    """
    _method = "eos"
    _parameter_constraints = {**_Sampler._parameter_constraints,
                              "k_neighbors": [Interval(numbers.Integral, 1, _KNN_MAX_K, closed="both")]}

    def __init__(self, *, sampling_strategy="auto", random_state=None, k_neighbors=10, device=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.k_neighbors = k_neighbors
        self.device = device

    def _config(self):
        return self.k_neighbors, 0


class SMOTE(_Sampler):
    """SMOTE as imbalanced-learn's (k_neighbors=5): base + r (neighbour - base), the neighbour
    among the base's k_neighbors nearest of its own class. Where imbalanced-learn raises (a class
    with at most k_neighbors rows) EOS-CL takes the neighbours the class has."""
    _method = "smote"
    _parameter_constraints = EOS._parameter_constraints

    def __init__(self, *, sampling_strategy="auto", random_state=None, k_neighbors=5, device=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.k_neighbors = k_neighbors
        self.device = device

    def _config(self):
        return self.k_neighbors, 0


class BorderlineSMOTE(_Sampler):
    """Borderline-SMOTE 1 as imbalanced-learn's kind="borderline-1": SMOTE (k_neighbors=5) from
    the "danger" rows, those with m/2 <= m' < m enemies among their m_neighbors=10 nearest.
    A class without a danger row gets copies (imbalanced-learn adds nothing there)."""
    _method = "borderline"
    _parameter_constraints = {**_Sampler._parameter_constraints,
                              "k_neighbors": [Interval(numbers.Integral, 1, _KNN_MAX_K, closed="both")],
                              "m_neighbors": [Interval(numbers.Integral, 1, _KNN_MAX_K, closed="both")],
                              "kind": [StrOptions({"borderline-1"})]}

    def __init__(self, *, sampling_strategy="auto", random_state=None, k_neighbors=5, m_neighbors=10,
                 kind="borderline-1", device=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.k_neighbors = k_neighbors
        self.m_neighbors = m_neighbors
        self.kind = kind
        self.device = device

    def _config(self):
        return self.k_neighbors, self.m_neighbors


class ADASYN(_Sampler):
    """ADASYN as imbalanced-learn's (n_neighbors=5, counts by np.rint, so a class ends within a
    few rows of its target): SMOTE where row i makes a share of the new rows proportional to
    its fraction of enemies among its n_neighbors nearest. A class without an enemy gets copies
    (imbalanced-learn raises there)."""
    _method = "adasyn"
    _parameter_constraints = {**_Sampler._parameter_constraints,
                              "n_neighbors": [Interval(numbers.Integral, 1, _KNN_MAX_K, closed="both")]}

    def __init__(self, *, sampling_strategy="auto", random_state=None, n_neighbors=5, device=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.n_neighbors = n_neighbors
        self.device = device

    def _config(self):
        return self.n_neighbors, 0


class RandomOverSampler(_Sampler):
    """Random over-sampling: copies of uniformly drawn rows of the class. It searches no
    neighbours, so it opens no device (device= is accepted for symmetry and unused).
    Fitted sample_indices_ as imbalanced-learn's: the input row behind every output row."""
    _method = "ros"
    _needs_device = False

    def __init__(self, *, sampling_strategy="auto", random_state=None, device=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.device = device

    def _fit_resample(self, X, y):
        X_res, y_res = super()._fit_resample(X, y)
        self.sample_indices_ = np.concatenate([np.arange(X.shape[0]), self.origin_])
        return X_res, y_res

    def _more_tags(self):
        return {"X_types": ["2darray", "dataframe"], "sample_indices": True}
