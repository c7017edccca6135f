"""A floor under an update's time on this machine, for any implementation: what bounds a speed
goal when the hardware does, not the BLAS.

At batch 1 each time step reads the whole recurrent matrix W_hh once forward and once back
(but the chunk's first step): those products stream W_hh from the cache that holds it, at the
read bandwidth measured there. Every other matrix product runs at best at the core's measured
matrix-product peak, and AdaGrad needs one square root and one division per parameter, timed
in the model's precision. Element-wise work (activations, softmax, clipping) is left out, so
the floor errs low: an update cannot be faster, but may have to be slower.
"""
from pathlib import Path

import numpy as np

from ..compiled import repeat_adagrad, repeat_sum
from ..model.layout import CACHE_LINE, on_cache_line, parameter_count
from ..variants import CELLS
from .flops import matrix_products
from .profile import interleaved_us

SYSFS_CACHES = Path("/sys/devices/system/cpu/cpu0/cache")
STEP_FORMS = ("mv", "vm")  # flops.matrix_products' batch-1 recurrence products
ADAGRAD_SIZE = 16384  # parameters per timed AdaGrad sweep: its three arrays stay in L2
UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}


def parse_size(text):
    """Bytes of a sysfs cache size ("32K", "1M", "512"); None when it reads otherwise."""
    text = text.strip().upper()
    scale = UNITS.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in UNITS else text
    return int(digits) * scale if digits.isdigit() and int(digits) > 0 else None


def cache_sizes(root=SYSFS_CACHES):
    """{"L1d": bytes, "L2": bytes, ...}: cpu0's data caches from sysfs, innermost first, up to
    the first level it does not tell (a gap would misplace every working set past it); {}
    where sysfs says nothing (another OS, a container that hides it)."""
    found = {}
    try:
        folders = sorted(Path(root).glob("index*"))
    except OSError:
        return {}
    for folder in folders:
        try:
            level = int((folder / "level").read_text())
            kind = (folder / "type").read_text().strip()
            size = parse_size((folder / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size:
            found[level] = size
    caches = {}
    for level in range(1, len(found) + 1):
        if level not in found:
            break
        caches["L1d" if level == 1 else f"L{level}"] = found[level]
    return caches


def level_of(nbytes, caches):
    """Where a working set of ``nbytes`` lives: the innermost cache that holds it, "memory"
    past the last, or (cache sizes not known) the working set itself."""
    for name, size in caches.items():
        if nbytes <= size:
            return name
    return "memory" if caches else f"a {nbytes / 1024:.0f} KB working set (caches not known)"


def probe_bytes(where, caches, nbytes):
    """The working set at which to measure ``where``'s read bandwidth: half the L1; a quarter
    of an outer cache but at least twice the one inside (so it misses that one); four times
    the last cache for memory; the working set itself where the caches are not known."""
    names = list(caches)
    if where == "memory":
        return 4 * caches[names[-1]]
    if where not in caches:
        return nbytes
    i = names.index(where)
    if i == 0:
        return caches[where] // 2
    return max(caches[where] // 4, 2 * caches[names[i - 1]])


def w_hh_bytes(cfg):
    """Bytes of one layer's recurrent matrix W_hh (G*H x H) in the row's dtype."""
    H = cfg.hidden_size
    return CELLS[cfg.cell].n_gates * H * H * np.dtype(cfg.dtype).itemsize


def machine_floor(configs, peaks, caches=None, target_s=0.05, repeats=5):
    """What the floors of ``configs`` need, measured once for all of them, interleaved
    (the fastest of ``repeats`` of about ``target_s``: noise only slows a loop down, and a
    floor must err low): the read bandwidth (bytes/s) of each cache
    their W_hh streams from at batch 1, and AdaGrad's seconds per parameter in each dtype;
    with the cache sizes and ``peaks`` (GFLOP/s per dtype, flops.peak_gflops)."""
    caches = cache_sizes() if caches is None else caches
    probes = {}
    for cfg in configs:
        if cfg.batch_size == 1:
            where = level_of(w_hh_bytes(cfg), caches)
            probes.setdefault(where, probe_bytes(where, caches, w_hh_bytes(cfg)))
    dtypes = sorted({cfg.dtype for cfg in configs})
    rng = np.random.default_rng(0)
    timed = [(repeat_sum, (on_cache_line(np.ones(-(-n // CACHE_LINE) * CACHE_LINE // 8)),))
             for n in probes.values()]
    for dtype in dtypes:
        theta, grad = (rng.standard_normal(ADAGRAD_SIZE).astype(dtype) for _ in range(2))
        kind = np.dtype(dtype).type
        timed.append((repeat_adagrad, (theta, grad, np.ones(ADAGRAD_SIZE, dtype), kind(0.1),
                                       kind(1e-8))))
    us = interleaved_us(timed, target_s, repeats, stat=np.min)
    read = {where: timed[i][1][0].nbytes / (us[i] * 1e-6) for i, where in enumerate(probes)}
    return dict(caches=caches, probe_bytes={w: timed[i][1][0].nbytes
                                            for i, w in enumerate(probes)},
                read_bytes_per_s=read, peak_gflops=dict(peaks),
                adagrad_s_per_param={d: u * 1e-6 / ADAGRAD_SIZE
                                     for d, u in zip(dtypes, us[len(probes):])})


def floor_us(cfg, vocab_size, figures):
    """Microseconds per update that no implementation can beat on the machine ``figures``
    describe (machine_floor), in parts: ``floor_stream_us`` the batch-1 recurrence (per
    product the longer of streaming W_hh and its flops at peak), ``floor_products_us`` every
    other matrix product at peak (at batch > 1 the recurrence's too), ``floor_adagrad_us``."""
    itemsize = np.dtype(cfg.dtype).itemsize
    peak = figures["peak_gflops"][cfg.dtype] * 1e9
    stream = products = 0.0
    where = bandwidth = None
    for _, form, m, n, k, count in matrix_products(cfg.cell, vocab_size, cfg.hidden_size,
                                                   cfg.num_layers, cfg.seq_length,
                                                   cfg.batch_size):
        flops = 2.0 * m * n * k
        if form in STEP_FORMS:  # one vector through W_hh: the whole matrix read for it
            nbytes = m * n * k * itemsize
            where = level_of(nbytes, figures["caches"])
            if where not in figures["read_bytes_per_s"]:
                raise ValueError(f"{cfg.label}: no read bandwidth measured for {where} (pass "
                                 "this configuration to machine_floor)")
            bandwidth = figures["read_bytes_per_s"][where]
            stream += count * max(nbytes / bandwidth, flops / peak)
        else:
            products += count * flops / peak
    adagrad = (parameter_count(cfg.cell, vocab_size, cfg.hidden_size, cfg.num_layers)
               * figures["adagrad_s_per_param"][cfg.dtype])
    return dict(floor_us=(stream + products + adagrad) * 1e6, floor_stream_us=stream * 1e6,
                floor_products_us=products * 1e6, floor_adagrad_us=adagrad * 1e6,
                floor_stream_from=where,
                floor_stream_gbs=None if bandwidth is None else bandwidth / 1e9)

