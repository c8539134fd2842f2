# eoscl: EOS-CL from Python. imbalanced-learn compatible over-samplers (EOS and the baselines)
# whose neighbour searches run on an OpenCL device through the shared library libeos-cl
# (ctypes, no compiled extension), and the list of OpenCL devices.
"""EOS-CL from Python: Expansive Over-Sampling and its baselines on any OpenCL device.

    import numpy as np, eoscl
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=1000, weights=[0.9, 0.1], flip_y=0, random_state=0)
    print([d.name for d in eoscl.devices()])
    X_res, y_res = eoscl.EOS(k_neighbors=10, random_state=0).fit_resample(X, y)
    print(np.bincount(y), "->", np.bincount(y_res))   # [900 100] -> [900 900]

The samplers (EOS, SMOTE, BorderlineSMOTE, ADASYN, RandomOverSampler) subclass
imbalanced-learn's BaseOverSampler: fit_resample, sampling_strategy, random_state and the
Pipeline work as there; device= picks the OpenCL device ("cpu", "gpu", an index from
eoscl.devices(), part of a name; None: $EOS_DEVICE, else the first GPU, else the first CPU).

The library is found through $EOSCL_LIBRARY, else next to this package in an installed tree,
else on the system's library path (ctypes.util.find_library("eos-cl")).
"""
from collections import namedtuple

from ._lib import EOSCLError, EOSCLValueError, check, library, library_path, lock
from . import _lib

__version__ = "0.1.0"
__all__ = ["devices", "Device", "EOS", "SMOTE", "BorderlineSMOTE", "ADASYN", "RandomOverSampler", "EOSCLError",
           "EOSCLValueError", "library_path"]

Device = namedtuple("Device", [
    "index", "type", "name", "platform", "vendor", "driver_version", "device_version", "opencl_c_version",
    "compute_units", "clock_mhz", "global_mem_bytes", "max_alloc_bytes", "local_mem_bytes", "max_work_group_size"])
Device.__doc__ = "One OpenCL device as EOS-CL sees it (`eos devices`); index is what device= takes."


def devices():
    """Every OpenCL device of every platform, in `eos devices` order ([] when there is none)."""
    lib = library()
    arr = _lib.ctypes.POINTER(_lib.DeviceInfo)()
    count = _lib.ctypes.c_int(0)
    with lock:
        st = lib.eos_devices_list(_lib.ctypes.byref(arr), _lib.ctypes.byref(count))
        if st == _lib._EOS_ERR_NO_PLATFORM:
            return []
        check(st, "eoscl.devices")
        try:
            out = []
            for i in range(count.value):
                d = arr[i]
                out.append(Device(
                    index=d.index, type=lib.eos_device_type_str(d.type).decode(), name=d.name.decode(errors="replace"),
                    platform=d.platform_name.decode(errors="replace"), vendor=d.vendor.decode(errors="replace"),
                    driver_version=d.driver_version.decode(errors="replace"),
                    device_version=d.device_version.decode(errors="replace"),
                    opencl_c_version=d.opencl_c_version.decode(errors="replace"), compute_units=d.compute_units,
                    clock_mhz=d.clock_mhz, global_mem_bytes=d.global_mem_bytes, max_alloc_bytes=d.max_alloc_bytes,
                    local_mem_bytes=d.local_mem_bytes, max_work_group_size=d.max_work_group_size))
            return out
        finally:
            lib.eos_devices_free(arr)


_SAMPLERS = ("EOS", "SMOTE", "BorderlineSMOTE", "ADASYN", "RandomOverSampler")


def __getattr__(name):
    # the samplers need scikit-learn and imbalanced-learn; devices() does not, so they are
    # imported on first use (PEP 562)
    if name in _SAMPLERS:
        from . import samplers
        return getattr(samplers, name)
    raise AttributeError(f"module 'eoscl' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_SAMPLERS))
