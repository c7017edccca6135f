"""Grid files: a YAML experiment read, checked in full and expanded into resolved runs.

Everything a grid can get wrong (unknown keys, wrong types, empty lists, bad values, missing
texts, a text too short for a run) is found here, before anything runs or is written, and
reported as one GridError line naming the file and the key.
"""
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import (INT64_MAX, MAX_SAMPLE_LENGTH, SEED_LIMIT, TEMPERATURE_RANGE, ConfigError,
                     RunConfig, short_value, unknown_key_message)
from ..text.corpus import Corpus, CorpusError, missing_chars, prepare_corpus
from ..training.resources import PROCESS_BASE, available, check_run
from ..training.samples import start_text
from .grid_file import GridError, kind, read_yaml

TOP_KEYS = ("name", "description", "data", "base", "grid", "seeds", "cases", "plot", "samples",
            "baselines", "checkpoint_every")
# Updates between a grid run's checkpoints (experiments/checkpoints.py), 0 for none: a folder
# write per 10,000 updates costs nothing measurable, and a shorter run writes none.
CHECKPOINT_EVERY = 10_000
PLOT_KEYS = ("hue", "col", "row")
SAMPLE_KEYS = ("temperatures", "prime", "length", "seed")
SAMPLE_DEFAULTS = dict(prime="\n", length=300, seed=0)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
CORPUS_FIELDS = ("data", "val_fraction", "encoding", "newline", "min_char_count", "records")
MAX_RUNS = 100_000  # runs in one grid: days of work even for the tiniest models


@dataclass(frozen=True)
class RunSpec:
    """One resolved run of a grid: its config, its id, and the values that set it apart."""

    run_id: str
    config: RunConfig
    corpus_key: tuple          # CORPUS_FIELDS' values: which loaded corpus it trains on
    label: str                 # "hidden_size=64, seq_length=25" (seed excluded)
    case: str | None = None    # the case's own label when the grid has cases


@dataclass
class Grid:
    """A validated grid file: its settings, its runs in a fixed order, and its corpora."""

    name: str
    path: Path
    source: str                # the YAML text as written
    description: str
    runs: list
    swept: list                # config fields (or "case") that vary between runs, seed aside
    plot: dict
    samples: dict | None
    corpora: dict = field(repr=False)  # corpus_key -> Corpus, as read
    baselines: bool = True     # count-based baselines computed before the runs (see baselines.py)
    heads: dict = field(default_factory=dict, repr=False)  # run_id -> the corpus it trains on
    checkpoint_every: int = CHECKPOINT_EVERY  # updates between a run's checkpoints (0: none)

    def corpus(self, spec):
        """The corpus the run ``spec`` trains on (records parsed, data_limit applied), prepared
        once for all the runs that share it."""
        return self.heads[spec.run_id]

    def info(self):
        """What plots and reports need to know about the grid, as JSON-able data."""
        return dict(name=self.name, path=str(self.path), description=self.description,
                    source=self.source, swept=self.swept, plot=self.plot, samples=self.samples,
                    seeds=sorted({r.config.seed for r in self.runs}), n_runs=len(self.runs),
                    baselines=self.baselines)


# -- checks of the file's own keys -------------------------------------------------------------

class _Checker:
    """Type checks that raise GridError('<file>: <key>: <problem>')."""

    def __init__(self, path):
        self.path = path

    def fail(self, key, problem):
        raise GridError(f"{self.path}: {key}: {problem}")

    def mapping(self, key, value, valid=None):
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping, got {kind(value)}")
        for k in value:
            if not isinstance(k, str):
                self.fail(key, f"keys must be names, got {k!r}")
            if valid is not None and k not in valid:
                self.fail(key, unknown_key_message(k, valid))
        return value

    def nonempty_list(self, key, value):
        if not isinstance(value, list):
            self.fail(key, f"expected a list of values, got {kind(value)}")
        if not value:
            self.fail(key, "the list is empty")
        return value

    def text(self, key, value):
        if not isinstance(value, str) or not value:
            self.fail(key, f"expected a non-empty string, got {kind(value)}")
        return value

    def integer(self, key, value, minimum, maximum=INT64_MAX):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"expected an integer >= {minimum}, got {kind(value)}")
        if value > maximum:
            self.fail(key, f"expected an integer <= {maximum:,}, got {kind(value)}")
        return value


def load_grid(path):
    """Read, check and expand the grid file at ``path``; raises GridError on any problem."""
    path = Path(path)
    source, doc = read_yaml(path)
    check = _Checker(path)
    for key in doc:
        if key not in TOP_KEYS:
            check.fail(key, unknown_key_message(key, TOP_KEYS) + " at the top level")

    name = check.text("name", doc["name"]) if "name" in doc else path.stem
    if not NAME_PATTERN.match(name):
        check.fail("name", f"use letters, digits, '_', '.' and '-' only (it names the results "
                   f"folder), got {name!r}")
    description = doc.get("description") or ""
    if not isinstance(description, str):
        check.fail("description", f"expected text, got {kind(description)}")

    base = dict(check.mapping("base", doc.get("base") or {}, RunConfig.model_fields))
    grid = dict(check.mapping("grid", doc.get("grid") or {}, RunConfig.model_fields))
    for key, values in grid.items():
        check.nonempty_list(f"grid.{key}", values)
        if len(set(map(_hashable, values))) != len(values):
            check.fail(f"grid.{key}", f"a value is listed twice: {values!r}")

    if "data" in doc:
        data = doc["data"]
        if "data" in base or "data" in grid:
            check.fail("data", "given both at the top level and in base/grid; keep one")
        if isinstance(data, list):
            check.nonempty_list("data", data)
            for i, d in enumerate(data):
                check.text(f"data[{i}]", d)
            grid = {"data": data, **grid}
        else:
            base["data"] = check.text("data", data)

    seeds = _seeds(check, doc, base, grid)
    cases = _cases(check, doc.get("cases"), grid)
    samples = _samples(check, doc.get("samples"))

    # Every value is checked where it was written, so the message names that key.
    _build(base, f"{path}: base: ")
    for key, values in grid.items():
        for v in values:
            _build({**base, key: v}, f"{path}: grid.{key}: ", key)
    for i, case in enumerate(cases or []):
        _build({**base, **case}, f"{path}: cases[{i}]: ")

    n_runs = len(cases or [None]) * math.prod(map(len, grid.values())) * len(seeds)
    if n_runs > MAX_RUNS:
        check.fail("grid", f"{n_runs:,} runs (cases x grid values x seeds), more than "
                   f"{MAX_RUNS:,}")
    runs_values = _expand(base, grid, cases, seeds)
    swept = _swept(grid, cases)
    plot = _plot(check, doc.get("plot"), swept)

    free = available() - PROCESS_BASE  # each run in a worker process of its own
    corpora, runs, heads = {}, [], {}
    for values, case_label in runs_values:
        config = _build(values, f"{path}: run {_label(values, swept, case_label)}: ")
        key = tuple(getattr(config, f) for f in CORPUS_FIELDS)
        corpus = corpora.get(key)
        if corpus is None:
            corpus = corpora[key] = _load_corpus(check, config, grid, cases)
        head = _prepared(check, corpus, config, samples, swept, case_label, free)
        runs.append(RunSpec(run_id(config, corpus.source_checksum, samples), config, key,
                            _label(values, swept, case_label), case_label))
        heads[runs[-1].run_id] = head
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        check.fail("cases", "two runs resolve to the same configuration")
    baselines = doc.get("baselines", True)
    if not isinstance(baselines, bool):
        check.fail("baselines", f"expected true or false, got {kind(baselines)}")
    every = check.integer("checkpoint_every", doc.get("checkpoint_every", CHECKPOINT_EVERY), 0)
    return Grid(name, path, source, description, runs, swept, plot, samples, corpora, baselines,
                heads, every)


def _hashable(value):
    return json.dumps(value, sort_keys=True, default=str)


def _build(values, where, key=None):
    try:
        return RunConfig.build(values, where=where)
    except ConfigError as exc:
        message = str(exc)
        if key and message.startswith(f"{where}{key}: "):  # "grid.cell: cell: ..." says it twice
            message = where + message[len(f"{where}{key}: "):]
        raise GridError(message) from None


def _seeds(check, doc, base, grid):
    if "seed" in grid:
        check.fail("grid.seed", "list seeds with the top-level 'seeds' key instead")
    if "seeds" not in doc:
        return [base.get("seed", 0)]
    if "seed" in base:
        check.fail("base.seed", "given with the top-level 'seeds' key; keep one")
    seeds = doc["seeds"]
    if isinstance(seeds, list):
        check.nonempty_list("seeds", seeds)
        for i, s in enumerate(seeds):
            check.integer(f"seeds[{i}]", s, 0, SEED_LIMIT - 1)
        if len(set(seeds)) != len(seeds):
            check.fail("seeds", f"a seed is listed twice: {seeds!r}")
        return seeds
    # A count n means the seeds 0 .. n-1: fixed before dispatch, readable in tables and plots.
    return list(range(check.integer("seeds", seeds, 1, MAX_RUNS)))


def _cases(check, cases, grid):
    if cases is None:
        return None
    check.nonempty_list("cases", cases)
    for i, case in enumerate(cases):
        check.mapping(f"cases[{i}]", case, RunConfig.model_fields)
        if not case:
            check.fail(f"cases[{i}]", "the case is empty")
        for key in case:
            if key in grid:
                check.fail(f"cases[{i}].{key}", "also swept in 'grid'; keep one")
            if key == "seed":
                check.fail(f"cases[{i}].seed", "list seeds with the top-level 'seeds' key")
    return cases


def _samples(check, samples):
    if samples is None:
        return None
    check.mapping("samples", samples, SAMPLE_KEYS)
    if "temperatures" not in samples:
        check.fail("samples", "needs 'temperatures' (a list of numbers > 0)")
    temps = check.nonempty_list("samples.temperatures", samples["temperatures"])
    low, high = TEMPERATURE_RANGE
    for i, t in enumerate(temps):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not low <= t <= high:
            check.fail(f"samples.temperatures[{i}]", f"expected a number > 0 (from {low:g} to "
                       f"{high:g}), got {kind(t)}")
    out = {**SAMPLE_DEFAULTS, **samples, "temperatures": [float(t) for t in temps]}
    check.text("samples.prime", out["prime"])
    check.integer("samples.length", out["length"], 1, MAX_SAMPLE_LENGTH)
    check.integer("samples.seed", out["seed"], 0, SEED_LIMIT - 1)
    return out


def _expand(base, grid, cases, seeds):
    """[(values, case label)] in a fixed order: cases, then the grid's product, then seeds."""
    keys = list(grid)
    rows = []
    for case in cases or [None]:
        for combo in itertools.product(*(grid[k] for k in keys)):
            for seed in seeds:
                values = {**base, **(case or {}), **dict(zip(keys, combo)), "seed": seed}
                rows.append((values, _case_label(case)))
    return rows


def _case_label(case):
    if case is None:
        return None
    return ", ".join(f"{k}={short_value(v)}" for k, v in case.items())


def _swept(grid, cases):
    """Fields that take more than one value, in the order written; cases count as one field."""
    swept = [k for k, v in grid.items() if len(v) > 1]
    if cases is not None and len(cases) > 1:
        swept.insert(0, "case")
    return swept


def _plot(check, plot, swept):
    if plot is None:
        return {}
    check.mapping("plot", plot, PLOT_KEYS)
    for key, value in plot.items():
        if value not in swept:
            choices = ", ".join(swept) or "none: nothing is swept"
            check.fail(f"plot.{key}", f"{value!r} is not a swept field (swept: {choices})")
    if len(set(plot.values())) != len(plot):
        check.fail("plot", "a field is used twice")
    return dict(plot)


def _label(values, swept, case_label):
    parts = [case_label] if "case" in swept and case_label else []
    parts += [f"{k}={short_value(values[k])}" for k in swept if k != "case"]
    return ", ".join(parts) or "base"


def _load_corpus(check, config, grid, cases):
    key = "data" if "data" not in grid else "grid.data"
    if cases and any("data" in c for c in cases):
        key = "cases.data"
    key += "".join(f" / grid.{f}" for f in CORPUS_FIELDS[1:] if f in grid)
    try:
        return Corpus.from_config(config)
    except CorpusError as exc:
        check.fail(key, str(exc))


def _prepared(check, corpus, config, samples, swept, case_label, free):
    """The corpus a run trains on (``corpus`` after records and data_limit), checked: it must
    hold a chunk (or a record), the sample prime its characters, and the memory ``free`` the
    run (resources.check_run)."""
    where = f"run {_label(config.model_dump(), swept, case_label)}"
    try:
        head = prepare_corpus(corpus, config)
        head.check_length(config.seq_length, config.batch_size)
        check_run(config, head, free=free)
    except (CorpusError, ConfigError) as exc:
        check.fail(where, str(exc))
    if samples is not None:
        prime = start_text(samples["prime"], head.chars, head.end_symbol)
        missing = missing_chars(prime, head.chars)
        if missing:
            check.fail("samples.prime", f"characters not in the vocabulary of {head.name}: "
                       f"{missing!r}")
    return head


# The RunConfig fields when run ids were first written: always part of the id. A field added
# since is part of it only when set away from its default, which must compute what runs did
# before the field existed (and never change), so that results folders made earlier still
# resume and no run id changes when a field is added.
FIRST_FIELDS = (
    "data", "cell", "activation", "hidden_size", "num_layers", "dropout", "seq_length",
    "learning_rate", "optimizer", "momentum", "decay", "beta1", "beta2", "eps", "clip_mode",
    "clip", "init_scale", "forget_bias", "updates", "batch_size", "dtype", "data_limit",
    "val_fraction", "trace_every", "eval_every", "sample_every", "sample_length", "temperature",
    "seed")


def run_id(config, corpus_checksum, samples=None):
    """A stable 12-hex-digit id of what a run computes: its config, its text, extra samples."""
    fields = {k: v for k, v in config.model_dump().items()
              if k in FIRST_FIELDS or v != RunConfig.model_fields[k].default}
    payload = {"config": fields, "corpus_checksum": corpus_checksum}
    if samples is not None:
        payload["samples"] = samples
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
