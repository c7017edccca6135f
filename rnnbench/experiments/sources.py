"""Samples to study: a saved model at several temperatures and seeds, each with its novelty.

Finds the model (a run folder, a checkpoint, or the best run of a grid's results folder) and
the text it was trained on, so that ``rnnbench sample`` and notebooks draw alike; every sample
is drawn by training.samples.sample_row.
"""
import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MAX_SAMPLE_LENGTH, SEED_LIMIT, TEMPERATURE_RANGE, RunConfig
from ..model.model import load_checkpoint
from ..text.corpus import Corpus, missing_chars, prepare_corpus
from ..text.novelty import DEFAULT_N, training_index
from ..training.recorder import validation_rows
from ..training.resume import Resume
from ..training.samples import sample_row, start_text
from .integrity import DamagedFile, read_regular
from .results import ResultsDir, is_grid_folder, ranked_ok, read_runs
from .run_folder import (CHECKPOINT, CONFIG, SUMMARY, BEST, check_run_folder, checkpoint_path,
                         load_run_tables, read_summary, read_tables)


class SampleError(ValueError):
    """A sampling request that cannot be served; the message is one line."""


@dataclass
class Source:
    """A model to sample from: where it came from, its weights and the state training ended in."""

    path: Path
    model: object
    h: object                   # stream 0's recurrent state, or None
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    run_id: str = None
    label: str = None

    def describe(self):
        loss = self.summary.get("final_val_loss_per_char")
        ok = isinstance(loss, (int, float)) and not isinstance(loss, bool) and math.isfinite(loss)
        corpus = self.summary.get("corpus")
        return dict(path=str(self.path), run_id=self.run_id, label=self.label,
                    corpus=corpus if isinstance(corpus, str) else None,
                    final_val_loss_per_char=loss if ok else None)


RUN_ID = re.compile(r"[0-9a-f]{12}")  # grid.run_id's form: never a path out of runs/


def best_run(root):
    """(run folder, row) of the run with the lowest final validation loss in a grid's runs table."""
    root = Path(root)
    if not is_grid_folder(root):
        raise SampleError(f"{root}: not a grid results folder (no runs.parquet); --best needs "
                          f"one, e.g. results/task4")
    try:
        runs = read_runs(root)
    except ValueError as exc:
        raise SampleError(str(exc)) from None
    ok = ranked_ok(runs)
    if "final_val_loss_per_char" in ok:
        ok = ok[ok["final_val_loss_per_char"].notna()]
    if ok.empty:
        raise SampleError(f"{root}: no finished runs to choose from (none with status ok in "
                          f"runs.parquet)")
    row = ok.iloc[0]
    if not isinstance(row["run_id"], str) or not RUN_ID.fullmatch(row["run_id"]):
        raise SampleError(f"{root / 'runs.parquet'}: not a run id: {str(row['run_id'])[:40]!r}")
    return ResultsDir(root).run_folder(row["run_id"]), row


def load_source(path, from_zero=False, run_id=None, label=None, checkpoint="last"):
    """The model saved at ``path`` (a run folder, whose ``checkpoint`` is "last" or "best",
    or a checkpoint file); samples continue from the hidden state saved with it."""
    path = Path(path)
    if is_grid_folder(path):
        raise SampleError(f"{path} is a grid results folder: add --best, or give one of its "
                          f"runs/<run_id> folders")
    try:
        ckpt = checkpoint_path(path, checkpoint)
    except ValueError as exc:
        raise SampleError(str(exc)) from None
    if not ckpt.exists():  # anything else there (a pipe, a device) is refused by name below
        raise SampleError(f"{path}: no checkpoint found (expected a run folder, a "
                          f"checkpoint.npz, or a grid results folder with --best)")
    model, arrays, info = load_checkpoint(ckpt)
    # a records model starts each sample as a new record: from its end symbol, zero state
    h = None if from_zero or model.end_symbol or "h" not in arrays else arrays["h"]
    if h is not None and h.ndim == 3:  # (state rows, streams, H): continue stream 0
        h = h[:, 0]
    summary = info.get("summary") or {}
    if path.is_dir() and (path / SUMMARY).exists():
        try:
            summary = read_summary(path)
        except ValueError as exc:
            raise SampleError(str(exc)) from None
    if run_id is None and path.is_dir() and path.parent.name == "runs":
        run_id = path.name  # a run folder of a grid's results
    return Source(path, model, h, info.get("config") or {}, summary, run_id, label)


def novelty_index(source, n=DEFAULT_N):
    """(NgramIndex of the run's training text, None) or (None, why not): the text is loaded
    again from the run's config and must still have the checksum the run recorded."""
    config = source.config
    if "data" not in config:
        return None, "the checkpoint does not say which text it was trained on"
    expected = source.summary.get("corpus_checksum")
    if not isinstance(expected, str) or not expected:
        # the text is read only to be compared with what the run recorded
        return None, "the run recorded no checksum of its training text"
    try:
        run_config = RunConfig.build(config)
        corpus = prepare_corpus(Corpus.from_config(run_config), run_config)
    except (OSError, ValueError) as exc:
        return None, f"its training text cannot be read ({exc})"
    if corpus.checksum != expected:
        return None, f"its training text {config['data']} has changed since the run"
    return training_index(corpus, n), None


def prime_of(model, prime):
    """The prime text of ``rnnbench sample``: ``start_text`` of ``prime`` (None: the default)
    for ``model``, or a SampleError when it is empty or outside the vocabulary."""
    if prime == "":
        raise SampleError("--prime must hold at least one character")
    prime = start_text(prime, model.chars, model.end_symbol)
    missing = missing_chars(prime, model.chars)
    if missing:
        raise SampleError(f"--prime holds characters not in the model's vocabulary: "
                          f"{missing!r}")
    return prime


MAX_COUNT = 1000            # samples per temperature
MAX_TEMPERATURES = 100
MAX_TOTAL = 10**7           # characters drawn in one call, all samples together
MAX_TOP_K = 2**31 - 1


def check_settings(temperatures, length, count, top_k, seed=0):
    """Raise a one-line SampleError for settings no sample can have, or that would not fit
    (every number has a range: the kernels take 64-bit integers and 32-bit seeds)."""
    low, high = TEMPERATURE_RANGE
    if not 1 <= len(temperatures) <= MAX_TEMPERATURES:
        raise SampleError(f"--temperature takes 1 to {MAX_TEMPERATURES} values, got "
                          f"{len(temperatures)}")
    for t in temperatures:
        if _bad_number(t, float):
            raise SampleError(f"--temperature must be a number, got {t!r}")
        if not t > 0:
            raise SampleError(f"--temperature must be > 0, got {t:g}")
        if not low <= t <= high:
            raise SampleError(f"--temperature must be from {low:g} to {high:g} (--greedy takes "
                              f"the likeliest character), got {t:g}")
    for name, value, lo, hi in (("length", length, 0, MAX_SAMPLE_LENGTH),
                                ("count", count, 1, MAX_COUNT), ("top-k", top_k, 0, MAX_TOP_K),
                                ("seed", seed, 0, SEED_LIMIT - 1)):
        if _bad_number(value, int):
            raise SampleError(f"--{name} must be an integer, got {value!r}")
        if value < lo:
            raise SampleError(f"--{name} must be >= {lo}, got {value}")
        if value > hi:
            raise SampleError(f"--{name} must be <= {hi}, got {value}")
    if seed + count - 1 >= SEED_LIMIT:
        raise SampleError(f"--seed + --count - 1 must be < {SEED_LIMIT} (seeds are 32-bit), "
                          f"got {seed + count - 1}")
    total = length * count * len(temperatures)
    if total > MAX_TOTAL:
        raise SampleError(f"--length x --count x temperatures is {total:,} characters, more "
                          f"than {MAX_TOTAL:,} in one call")


def _bad_number(value, kind):
    if isinstance(value, bool):
        return True
    return not isinstance(value, numbers.Integral if kind is int else numbers.Real)


def draw(source, prime, length, temperatures, count=1, seed=0, greedy=False, top_k=0,
         stop=None, index=None):
    """[{temperature, seed, text, novelty}]: ``count`` samples (seeds seed .. seed+count-1) per
    temperature, each ``text`` continuing ``prime`` (not included); novelty NaN without index."""
    check_settings(temperatures, length, count, top_k, seed)
    if stop is not None and stop not in source.model.chars:
        raise SampleError(f"--stop {stop!r} is not one character of the model's vocabulary")
    model = source.model
    stop = model.end_symbol if stop is None else stop  # a records model stops at its end
    out = []
    for t in temperatures:
        for s in range(seed, seed + count):
            row = sample_row(model, prime, length, t, s, source.h, update=None, kind="sample",
                             index=index, stop=stop, greedy=greedy, top_k=top_k)
            out.append(dict(temperature=t, seed=s, text=row["text"], novelty=row["novelty"]))
    return out


def to_json(source, settings, samples):
    """One JSON document: the run, the settings and the samples (NaN novelty as null)."""
    clean = [dict(s, novelty=None if math.isnan(s["novelty"]) else s["novelty"])
             for s in samples]
    return json.dumps(dict(run=source.describe(), settings=settings, samples=clean),
                      ensure_ascii=False, default=_plain)


def _plain(obj):
    item = getattr(obj, "item", None)
    if item is None:
        raise TypeError(f"cannot write {type(obj).__name__} as JSON")
    value = item()
    return None if isinstance(value, float) and math.isnan(value) else value


def read_resume(folder):
    """The run in ``folder`` as a training.resume.Resume, checked whole first; a one-line
    ValueError when it cannot be continued (not a run, failed or diverged, damaged, or
    written before exact resume)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such run folder")
    try:
        summary = check_run_folder(folder)
    except DamagedFile as exc:
        raise ValueError(f"{folder}: damaged, cannot resume ({exc})") from None
    if summary is None:
        raise ValueError(f"{folder}: not a run folder (no {SUMMARY})")
    if summary["status"] not in ("ok", "stopped"):
        raise ValueError(f"{folder}: the run {summary['status']}; only a stopped or finished "
                         f"(ok) run can be continued")
    model, arrays, info = load_checkpoint(folder / CHECKPOINT)
    if "loop" not in info or "recent" not in arrays:
        raise ValueError(f"{folder}: written before exact resume (its checkpoint keeps no "
                         f"loop state); it cannot be continued exactly")
    best, best_arrays = load_checkpoint(folder / BEST)[:2] if (folder / BEST).exists() \
        else (None, {})
    config = RunConfig.build(json.loads(read_regular(folder / CONFIG, CONFIG)),
                             f"{folder / CONFIG}: ")
    parts = info["loop"].get("parts", 1)
    if type(parts) is not int or parts < 1 or config.batch_size % parts:
        raise ValueError(f"{folder}: damaged, cannot resume (its checkpoint splits a batch of "
                         f"{config.batch_size} into {parts!r} parts)")
    trace, samples = read_tables(folder)
    return Resume(config, model, arrays, info["loop"], trace, samples, best, best_arrays,
                  summary["status"], summary.get("corpus_checksum"))


@dataclass
class LoadedRun:
    """A run folder read back (``load_run``): the RunConfig, the summary, the trace, samples
    and baselines tables, and the model of the checkpoint asked for ("last" or "best")."""

    path: Path
    config: RunConfig
    summary: dict
    trace: object
    samples: object
    baselines: object
    model: object
    checkpoint: str = "last"

    @property
    def validation(self):
        """The trace rows where the validation loss was measured (the trace holds NaN
        between evaluations): plot these, e.g. ``run.validation.plot(x="update",
        y="val_loss_per_char")``."""
        return validation_rows(self.trace)


def load_run(path, checkpoint="last"):
    """The run in the folder ``path`` (written by ``rnnbench train`` or a grid's
    runs/<run_id>), checked whole, with the model of its ``checkpoint``: "last" (where
    training ended or stopped) or "best" (best.npz, the lowest validation loss)."""
    path = Path(path)
    tables = load_run_tables(path)  # ValueError / DamagedFile in one line
    model = load_checkpoint(checkpoint_path(path, checkpoint))[0]
    return LoadedRun(path, RunConfig.build(tables.config, f"{path / CONFIG}: "),
                     tables.summary, tables.trace, tables.samples, tables.baselines, model,
                     checkpoint)
