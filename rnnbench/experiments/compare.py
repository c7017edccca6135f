"""Several results folders as one: their runs in one set of tables (runs, trace, samples,
baselines, configs), matched on their config fields, written into a folder of their own that
``rnnbench plot`` / ``report`` read as they read a grid's.

A field that one grid's runs table lacks (written before the field existed) takes its
RunConfig default, as those runs did. Configurations are matched on every config field and the
text's checksum: runs of two texts of the same name are different configurations. The same run
(same run id) found in two folders counts once, from the first folder named.
"""
from pathlib import Path

import pandas as pd

from ..analysis.analyse import described_by
from ..analysis.stats import config_fields, labels, varying_fields
from ..analysis.tables import with_defaults
from .results import load_tables

KIND = "Comparison"


class CompareError(ValueError):
    """Folders that cannot be compared; the message is one line."""


def read_results(folders):
    """(info, runs, trace, samples, baselines) of the results folders ``folders`` together;
    info describes the comparison as grid.json describes a grid."""
    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise CompareError("compare: name at least two results folders")
    if len({f.resolve() for f in folders}) < len(folders):
        raise CompareError("compare: a results folder is named twice")
    parts = [(f, load_tables(f)) for f in folders]
    runs, traces, samples, baselines, where = [], [], [], [], {}
    for folder, (info, r, t, s, b) in parts:
        if r.empty or "seed" not in r:
            continue
        r = r[~r["run_id"].isin(where)]  # the same run in two folders: the first one's
        where.update({run_id: str(folder.resolve() / "runs" / run_id) for run_id in r["run_id"]})
        runs.append(with_defaults(r).assign(results=info.get("name", folder.name)))
        traces.append(t[t["run_id"].isin(r["run_id"])] if "run_id" in t else t)
        samples.append(s[s["run_id"].isin(r["run_id"])] if "run_id" in s else s)
        baselines.append(b)
    if not runs:
        raise CompareError("compare: none of the results folders has a finished run")
    runs = pd.concat(runs, ignore_index=True)
    fields = config_fields(runs)
    named = described_by(runs, fields, _swept_order(parts))
    runs["label"] = labels(runs, named)
    info = _info(parts, runs, named, where)
    return (info, runs, _concat(traces), _concat(samples),
            _concat(baselines).drop_duplicates(ignore_index=True))


def _swept_order(parts):
    """The fields the grids swept, in the order their files list them, first grid first."""
    return list(dict.fromkeys(f for _, (info, *_) in parts for f in info.get("swept", [])))


def _info(parts, runs, named, where):
    swept = varying_fields(runs, named)
    infos = [info for _, (info, *_) in parts]
    names = [info.get("name", str(folder)) for folder, (info, *_) in parts]
    source = "\n\n".join(f"# {folder} ({info.get('name')}, {info.get('path')})\n"
                         f"{info.get('source', '')}" for folder, (info, *_) in parts)
    return dict(kind=KIND, name=" vs ".join(names), path=", ".join(str(f) for f, _ in parts),
                description=f"The runs of {len(parts)} results folders side by side ("
                            + "; ".join(f"{f}: grid {n}, {len(p[1])} runs"
                                        for (f, p), n in zip(parts, names))
                            + "), matched on their config fields (a field a grid did not "
                            "record takes its default).",
                source=source, swept=swept, plot={}, samples=infos[0].get("samples"),
                seeds=sorted({int(s) for s in runs["seed"]}), n_runs=len(runs),
                baselines=any(info.get("baselines") for info in infos), run_folders=where,
                compared=[str(f) for f, _ in parts])


def _concat(frames):
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run_id"])


def check_out(out, folders):
    """A one-line CompareError unless ``out`` can take a comparison: a new folder or an
    earlier comparison, never a file, a grid's own results or one of the folders compared."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CompareError(f"compare: {out} is a file, not a folder; choose another --out")
    if (out / "runs").is_dir():
        raise CompareError(f"compare: {out} holds a grid's runs; choose another --out")
    resolved = out.resolve()
    for folder in folders:
        if Path(folder).resolve() == resolved:
            raise CompareError(f"compare: --out {out} is one of the folders compared")
