# The shared library libeos-cl through ctypes: where it is found, the C structs mirrored field
# for field from include/eos/{runtime,embeddings,oversample}.h, and the status -> exception
# mapping. Loaded on first use, so `import eoscl` works (and says why) without the library.
import ctypes
import ctypes.util
import os
import threading

__all__ = ["EOSCLError", "library", "library_path", "check", "lock"]

# EOS-CL's status codes (include/eos/status.h) that map onto Python's own exceptions
_EOS_ERR_INVALID_ARG = 1
_EOS_ERR_NO_PLATFORM = 2
_EOS_ERR_OUT_OF_MEMORY = 5


class EOSCLError(RuntimeError):
    """A failing EOS-CL call: the library's message (what, where, a hint) and its status."""

    def __init__(self, message, status=0, status_name=""):
        super().__init__(message)
        self.status = status
        self.status_name = status_name


class EOSCLValueError(EOSCLError, ValueError):
    """EOS_ERR_INVALID_ARG: the input or a parameter, as scikit-learn's ValueError."""


# ---- the C structs (keep in step with the headers named above) ---------------------------

class DeviceInfo(ctypes.Structure):  # eos_device_info
    _fields_ = [
        ("index", ctypes.c_int),
        ("platform", ctypes.c_void_p),
        ("device", ctypes.c_void_p),
        ("type", ctypes.c_int),
        ("platform_name", ctypes.c_char * 128),
        ("platform_version", ctypes.c_char * 128),
        ("name", ctypes.c_char * 256),
        ("vendor", ctypes.c_char * 128),
        ("driver_version", ctypes.c_char * 128),
        ("device_version", ctypes.c_char * 128),
        ("opencl_c_version", ctypes.c_char * 128),
        ("compute_units", ctypes.c_uint),
        ("clock_mhz", ctypes.c_uint),
        ("global_mem_bytes", ctypes.c_ulonglong),
        ("max_alloc_bytes", ctypes.c_ulonglong),
        ("local_mem_bytes", ctypes.c_ulonglong),
        ("max_work_group_size", ctypes.c_size_t),
        ("max_work_item_sizes", ctypes.c_size_t * 3),
    ]


class Embeddings(ctypes.Structure):  # eos_embeddings
    _fields_ = [
        ("n", ctypes.c_size_t),
        ("dim", ctypes.c_size_t),
        ("labels", ctypes.POINTER(ctypes.c_int32)),
        ("x", ctypes.POINTER(ctypes.c_float)),
    ]


class ResampleReport(ctypes.Structure):  # eos_resample_report
    _fields_ = [
        ("classes", ctypes.c_int),
        ("before", ctypes.POINTER(ctypes.c_size_t)),
        ("after", ctypes.POINTER(ctypes.c_size_t)),
        ("eligible", ctypes.POINTER(ctypes.c_size_t)),
        ("fallback", ctypes.POINTER(ctypes.c_int)),
        ("synthetic", ctypes.c_size_t),
        ("k", ctypes.c_int),
        ("m", ctypes.c_int),
        ("candidate", ctypes.POINTER(ctypes.c_ubyte)),
        ("origin", ctypes.POINTER(ctypes.c_int32)),
        ("partner", ctypes.POINTER(ctypes.c_int32)),
    ]


class ResampleConfig(ctypes.Structure):  # eos_resample_config
    _fields_ = [
        ("k", ctypes.c_int),
        ("m", ctypes.c_int),
        ("adasyn_remainder", ctypes.c_int),
        ("target", ctypes.POINTER(ctypes.c_size_t)),
    ]


_SIGNATURES = {
    # name: (restype, argtypes)
    "eos_status_str": (ctypes.c_char_p, [ctypes.c_int]),
    "eos_last_error_message": (ctypes.c_char_p, []),
    "eos_devices_list": (ctypes.c_int, [ctypes.POINTER(ctypes.POINTER(DeviceInfo)), ctypes.POINTER(ctypes.c_int)]),
    "eos_devices_free": (None, [ctypes.POINTER(DeviceInfo)]),
    "eos_device_type_str": (ctypes.c_char_p, [ctypes.c_int]),
    "eos_runtime_init": (ctypes.c_int, [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]),
    "eos_runtime_free": (None, [ctypes.c_void_p]),
    "eos_runtime_device": (ctypes.POINTER(DeviceInfo), [ctypes.c_void_p]),
    "eos_resample_parse": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "eos_resample_with": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(Embeddings), ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(ResampleConfig), ctypes.c_uint64, ctypes.POINTER(Embeddings),
                                         ctypes.POINTER(ResampleReport)]),
    "eos_resample_report_free": (None, [ctypes.POINTER(ResampleReport)]),
    "eos_embeddings_free": (None, [ctypes.POINTER(Embeddings)]),
}

_lib = None
_path = None
# One call into the library at a time: an eos_runtime_t is not thread-safe (runtime.h), and the
# runtimes are shared between samplers (see samplers.py).
lock = threading.RLock()


def _candidates():
    """Where the library is looked for, in order, as (path, how it was found)."""
    env = os.environ.get("EOSCL_LIBRARY")
    if env:
        return [(env, "EOSCL_LIBRARY")]
    out = []
    try:  # written by `cmake --install` next to the package: the library relative to it
        from . import _install
        out.append((os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), _install.LIBRARY)),
                     "the install prefix"))
    except ImportError:
        pass
    found = ctypes.util.find_library("eos-cl")
    if found:
        out.append((found, "the system's library path"))
    return out


def library_path():
    """The path of the libeos-cl in use (loading it if need be)."""
    library()
    return _path


def library():
    """The loaded library, its functions typed. EOSCLError when it cannot be found or loaded."""
    global _lib, _path
    if _lib is not None:
        return _lib
    with lock:
        if _lib is not None:
            return _lib
        tried = []
        for path, how in _candidates():
            if how != "the system's library path" and not os.path.exists(path):
                tried.append(f"{path} (from {how}: no such file)")
                continue
            try:
                lib = ctypes.CDLL(path)
            except OSError as e:
                tried.append(f"{path} (from {how}: {e})")
                continue
            for name, (res, args) in _SIGNATURES.items():
                try:
                    fn = getattr(lib, name)
                except AttributeError:
                    raise EOSCLError(f"{path} has no {name}: not an EOS-CL library of this version") from None
                fn.restype, fn.argtypes = res, args
            _lib, _path = lib, path
            return lib
        raise EOSCLError(
            "eoscl: the shared library libeos-cl was not found"
            + (": tried " + "; ".join(tried) if tried else "")
            + ". Set EOSCL_LIBRARY to its path (a build folder has build/libeos-cl.so), or install EOS-CL "
            "(cmake --install build --prefix P) and import eoscl from P/lib/python3/dist-packages.")


def check(status, what):
    """Raise the library's last error when status is not EOS_OK."""
    if status == 0:
        return
    lib = library()
    name = (lib.eos_status_str(status) or b"?").decode()
    msg = (lib.eos_last_error_message() or b"").decode(errors="replace")
    text = f"{what}: {msg}" if msg else f"{what}: {name} ({status})"
    if status == _EOS_ERR_INVALID_ARG:
        raise EOSCLValueError(text, status, name)
    if status == _EOS_ERR_OUT_OF_MEMORY:
        raise MemoryError(text)
    raise EOSCLError(text, status, name)
