"""What the bench says about the machine: the CPU, the cores, and which BLAS runs the kernels'
matrix products, with which of its kernels."""
import ctypes
import importlib
import os
import platform

from threadpoolctl import threadpool_info

from ..experiments.pool import default_jobs


def machine():
    """The CPU's name and the cores this process may use."""
    name = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {default_jobs()} cores"


def blas():
    """Which BLAS the kernels' np.dot calls (SciPy's) and which of its kernels are in force:
    OPENBLAS_CORETYPE, when set, overrides the CPU's own choice."""
    importlib.import_module("scipy.linalg")  # loads that library, so threadpoolctl sees it

    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    lib = next((i for i in libs if "scipy" in i["filepath"].split("/")[-2]), libs[0] if libs
               else None)
    if lib is None:
        return "BLAS unknown"
    text = f"{lib['internal_api']} {lib['version']}"
    if lib.get("architecture"):
        text += f", {lib['architecture']} kernels"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced and lib["internal_api"] == "openblas":
        text += f" (OPENBLAS_CORETYPE={forced})"
    return text


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory():
    """Make glibc keep freed memory in this process: no block served by mmap, the heap never
    trimmed. A contender that allocates tens of MB per call (XLA's temporaries; NumPy's) then
    reuses pages instead of faulting fresh ones in each time; set once, for every contender
    alike. Returns what the bench states about the allocator."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
    except (OSError, AttributeError):
        ok = False
    return ("glibc keeps freed memory (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=2 GB), "
            "for every contender" if ok else "the allocator's defaults (no glibc mallopt)")
