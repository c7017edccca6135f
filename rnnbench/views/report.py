"""A grid's report, report.md and a standalone report.html, written from its tables alone.

It says what was run, shows the plots, the best configurations, every run's samples over
training, the best final model's samples at several temperatures with their novelty (when the
grid asks for them) and a 1,000-character passage from the best model's checkpoint. Both files are built from one list
of blocks, so they say the same thing.
"""
import base64
import html
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..text.novelty import DEFAULT_N
from .plots import PLOTS
from ..experiments.results import ResultsDir, load_tables, short_value
from ..experiments.run_folder import atomic_write_bytes, checkpoint_path

PASSAGE_LENGTH, PASSAGE_SEED, PASSAGE_TEMPERATURE = 1000, 0, 1.0
SAMPLES_PER_RUN = 4  # training samples shown per run: update 0, the last, and evenly between
PLOT_CAPTIONS = {
    "loss_vs_updates.png": "Loss per character against updates",
    "loss_vs_chars.png": "Loss per character against characters seen (fair across seq_length)",
    "final_val_loss.png": "Final validation loss",
    "speed.png": "Training speed",
}


def write_report(root, tables=None):
    """Write report.md and report.html into the results folder ``root`` (``tables``: its
    load_tables, if read already); returns their paths."""
    root = Path(root)
    info, runs, trace, samples, baselines = tables or load_tables(root)
    blocks = report_blocks(root, info, runs, samples, baselines)
    md, page = root / "report.md", root / "report.html"
    atomic_write_bytes(md, to_markdown(blocks).encode("utf-8"))
    atomic_write_bytes(page, to_html(blocks, info["name"], root).encode("utf-8"))
    return [md, page]


# -- content -----------------------------------------------------------------------------------

def report_blocks(root, info, runs, samples, baselines):
    """The report as a list of (kind, payload) blocks."""
    b = [("h1", f"Grid {info['name']}")]
    if info.get("description"):
        b.append(("p", info["description"].strip()))
    b += _what_was_run(info, runs)
    b += _baselines(baselines)
    b.append(("h2", "Plots"))
    for name, caption in PLOT_CAPTIONS.items():
        if (root / PLOTS / name).exists():
            b.append(("img", (f"{PLOTS}/{name}", caption)))
    b += _best(info, runs)
    b += _failures(runs)
    b += _passage(root, info, runs)
    b += _temperature(info, runs, samples)
    b += _training_samples(info, runs, samples)
    return b


def _what_was_run(info, runs):
    counts = runs["status"].value_counts()
    statuses = ", ".join(f"{counts[s]} {s}" for s in ("ok", "diverged", "failed") if s in counts)
    done = len(runs)
    b = [("h2", "What was run"),
         ("p", f"{done} of {info['n_runs']} runs finished ({statuses or 'none yet'}), from "
               f"`{info['path']}`. Swept: {', '.join(info['swept']) or 'nothing'}; seeds: "
               f"{', '.join(map(str, info['seeds']))}.")]
    if len(runs):
        r0 = runs.iloc[0]
        corpora = runs.drop_duplicates("corpus")
        b.append(("p", "Texts: " + "; ".join(
            f"{c.corpus} (vocabulary {c.vocab_size}, {c.train_chars:,} training and "
            f"{c.val_chars:,} validation characters{_records(c)})"
            for c in corpora.itertuples()) + "."))
        b.append(("p", f"rnnbench {r0['rnnbench_version']}, Numba {r0['numba_version']}. "
                  "Losses are in nats per character (bits = nats / ln 2). Same machine, same "
                  "tables; across CPUs only statistically the same."))
    b.append(("details", ("The grid file", info["source"])))
    return b


def _baselines(baselines):
    if baselines.empty:
        return []
    table = baselines.pivot_table(index="corpus", columns="baseline", values="loss_per_char",
                                  sort=False)
    rows = [[c] + [f"{table.loc[c, k]:.3f} ({table.loc[c, k] / math.log(2):.2f})"
                   for k in table.columns] for c in table.index]
    return [("h2", "Baselines"),
            ("p", "Validation loss per character in nats (bits) of count-based models fitted "
                  "on the same training text: what a model gets without learning much. Unigram "
                  "and bigram use add-one smoothing; the 5-gram reads four characters of context "
                  "with interpolated Kneser-Ney smoothing."),
            ("table", (["text", *table.columns], rows))]


def _best(info, runs):
    ok = runs[runs["status"] == "ok"]
    if ok.empty:
        return []
    keys = [f for f in info["swept"] if f in runs.columns] or ["label"]
    grouped = ok.groupby(keys, sort=False, dropna=False).agg(
        val=("final_val_loss_per_char", "mean"), val_sd=("final_val_loss_per_char", "std"),
        best=("best_val_loss_per_char", "mean"), train=("final_loss_per_char", "mean"),
        chars_s=("chars_per_s", "mean"), seeds=("seed", "nunique"),
        run_id=("run_id", "first")).reset_index().sort_values("val", kind="stable")
    header = [*keys, "final val nats/char", "bits/char", "best val", "train", "chars/s",
              "seeds", "run"]
    rows = []
    for r in grouped.head(10).itertuples(index=False):
        d = r._asdict()
        spread = f" ± {_num(d['val_sd'])}" if d["seeds"] > 1 else ""
        rows.append([short_value(d[k]) for k in keys]
                    + [f"{_num(d['val'])}{spread}", _num(d["val"] / math.log(2)),
                       _num(d["best"]), _num(d["train"]), _num(d["chars_s"], 0, 1e12),
                       str(d["seeds"]), d["run_id"]])
    more = f" (the best 10 of {len(grouped)})" if len(grouped) > 10 else ""
    return [("h2", "Best configurations"),
            ("p", f"Ranked by final validation loss, mean over seeds (± their standard "
                  f"deviation){more}. 'run' is the first seed's folder under runs/."),
            ("table", (header, rows))]


def _failures(runs):
    """Every run that diverged (the update and the rule that stopped it) or failed."""
    from ..divergence import FACTOR, WINDOW
    bad = runs[runs["status"] != "ok"]
    if bad.empty:
        return []
    at = bad["diverged_at"] if "diverged_at" in bad else pd.Series(np.nan, index=bad.index)
    rule = bad["diverged_rule"] if "diverged_rule" in bad else pd.Series(None, index=bad.index)
    rows = [[r.label, str(r.seed), r.status, f"{int(u):,}" if pd.notna(u) else "",
             k if isinstance(k, str) else "", r.error or "", r.run_id]
            for r, u, k in zip(bad.itertuples(), at, rule)]
    b = [("h2", "Diverged and failed runs")]
    if (bad["status"] == "diverged").any():
        b.append(("p", "A run diverges when its loss becomes NaN or infinite (rule non_finite), "
                       f"or when the median of its last {WINDOW} updates' training losses per "
                       f"character is above {FACTOR:g} x ln V, {FACTOR:g} times what uniform "
                       "guessing gives, or above that many times its first update's loss if "
                       "that is higher (rule above_guessing). It stops at that update; its "
                       "losses are left out of the tables' rankings and of every plot's scale."))
    if (bad["status"] == "failed").any():
        b.append(("p", "A failed run raised an error (its error.txt holds the traceback); the "
                       "next `rnnbench run` of the grid tries it again."))
    b.append(("table", (["run", "seed", "status", "update", "rule", "error", "run id"], rows)))
    return b


def _records(c):
    """', in 275 and 30 records' for a run in records mode, else ''."""
    n = getattr(c, "train_records", None)
    if n is None or pd.isna(n):
        return ""
    return f", in {int(n):,} and {int(c.val_records):,} records, each from a zero state"


def _passage(root, info, runs):
    from ..experiments.sources import load_source, prime_of, ranked_ok
    ok = ranked_ok(runs)
    if ok.empty:
        return []
    best = ok.iloc[0]
    folder = ResultsDir(root).run_folder(best["run_id"])
    if not checkpoint_path(folder).exists():
        return [("h2", "A passage from the best model"),
                ("p", f"The checkpoint of run {best['run_id']} is missing.")]
    src = load_source(folder)  # stream 0's state; a records model: zero state, end symbol
    model = src.model
    text = model.sample(prime_of(model, None), PASSAGE_LENGTH, PASSAGE_TEMPERATURE,
                        seed=PASSAGE_SEED, h=src.h)
    return [("h2", "A passage from the best model"),
            ("p", f"{PASSAGE_LENGTH:,} characters from run {best['run_id']} ({best['label']}, "
                  f"seed {best['seed']}; final validation loss "
                  f"{_num(best['final_val_loss_per_char'])} nats/char), sampled from its "
                  f"checkpoint at temperature {PASSAGE_TEMPERATURE:g} with seed "
                  f"{PASSAGE_SEED}, " + ("starting a record from the end symbol and a zero "
                  "state." if model.end_symbol else "continuing from the hidden state training "
                  "ended in.")),
            ("pre", text)]


def _temperature(info, runs, samples):
    """One model's final samples at every temperature side by side, with their novelty; then
    the novelty per temperature over every run, and the other runs' samples folded away."""
    kind = samples["kind"] if "kind" in samples else pd.Series("training", index=samples.index)
    final = samples[kind == "final"]
    if final.empty:
        return []
    settings = info.get("samples") or {}
    ranked = runs[runs["run_id"].isin(final["run_id"])].sort_values("final_val_loss_per_char",
                                                                    kind="stable")
    best = ranked.iloc[0]
    n = _novelty_n(final)
    b = [("h2", "Temperature"),
         ("p", f"The final model of run {best['run_id']} ({best['label']}, seed {best['seed']}; "
               f"the lowest final validation loss, {_num(best['final_val_loss_per_char'])} "
               f"nats/char) at each temperature: {settings.get('length')} characters after the "
               f"prime {settings.get('prime')!r}, all with the same seed so that only the "
               f"temperature differs (lower: more conservative, higher: more varied). "
               f"Novelty: the share of the sample's {n}-grams that never occur in the training "
               f"text (0: every piece copied, 1: all new; empty when shorter than {n})."),
         ("table", (["temperature", "sample", "novelty"], _sample_rows(final, best), 1))]
    if len(ranked) > 1 and "novelty" in final:
        stats = final.groupby("temperature")["novelty"].agg(["mean", "min", "max"])
        b.append(("p", f"Novelty per temperature over the {len(ranked)} runs with final "
                       f"samples:"))
        b.append(("table", (["temperature", "mean novelty", "min", "max"],
                            [[f"{t:g}", *(_novelty(r[k]) for k in ("mean", "min", "max"))]
                             for t, r in stats.iterrows()])))
    if len(ranked) > 1:
        for r in ranked.iloc[1:].itertuples():
            rows = _sample_rows(final, r._asdict())
            b.append(("details", (f"{r.label}, seed {r.seed}", "\n\n".join(
                f"--- temperature {t}, novelty {nov} ---\n{text}" for t, text, nov in rows))))
    return b


def _sample_rows(final, run):
    mine = final[final["run_id"] == run["run_id"]].sort_values("temperature", kind="stable")
    return [[f"{s.temperature:g}", s.prime + s.text, _novelty(getattr(s, "novelty", math.nan))]
            for s in mine.itertuples()]


def _novelty_n(samples):
    ns = samples["novelty_n"].dropna().unique() if "novelty_n" in samples else []
    return int(ns[0]) if len(ns) else DEFAULT_N


def _num(value, decimals=3, big=1e6):
    """A number for a table: ``decimals`` decimals, three significant digits with an exponent
    from ``big`` up (never a 24-digit number), empty when missing."""
    if value is None or pd.isna(value):
        return ""
    value = float(value)
    if not math.isfinite(value) or abs(value) >= big:
        return f"{value:.3g}"
    return f"{value:,.{decimals}f}" if decimals == 0 else f"{value:.{decimals}f}"


def _novelty(value):
    return "" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _training_samples(info, runs, samples):
    if len(samples) == 0:
        return []
    training = samples[samples["kind"] == "training"] if "kind" in samples else samples
    b = [("h2", "Samples over training"),
         ("p", "Each run's own samples as it trained (the recipe's: from the current hidden "
               "state, seeded by the next input character), before the first update and at "
               f"intervals; at most {SAMPLES_PER_RUN} per run here, all in samples.parquet.")]
    for r in runs.itertuples():
        mine = training[training["run_id"] == r.run_id]
        if mine.empty:
            continue
        updates = sorted(mine["update"].unique())
        pick = sorted({updates[int(round(i))] for i in
                       np.linspace(0, len(updates) - 1, min(SAMPLES_PER_RUN, len(updates)))})
        shown = mine[mine["update"].isin(pick)]
        b.append(("details", (f"{r.label}, seed {r.seed} ({r.status})",
                              "\n\n".join(f"--- update {s.update:,}{_novelty_note(s)} ---\n"
                                          f"{s.prime}{s.text}" for s in shown.itertuples()))))
    return b


def _novelty_note(sample):
    value = _novelty(getattr(sample, "novelty", math.nan))
    return f", novelty {value}" if value else ""


# -- renderers ---------------------------------------------------------------------------------

def _fence(text):
    """A code fence longer than any run of backticks inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_cell(text):
    return _md_escape(text).replace("\r", "").replace("\n", " ")


def _md_text(text):
    """Literal text in a Markdown table cell: HTML and Markdown syntax escaped, lines as <br>."""
    return _md_escape(text).replace("\r", "").replace("\n", "<br>")


def _md_escape(text):
    """Text shown as it is in Markdown: HTML escaped (it may come from the user: names,
    paths, descriptions, primes, samples) and Markdown's inline syntax backslash-escaped."""
    escaped = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*_\[\]|~#!])", r"\\\1", escaped)


def _md_prose(text):
    """A paragraph: every character literal (``_md_escape``) except its `code` spans, which
    become <code> elements of escaped text (a backtick in a name cannot open raw HTML)."""
    parts = re.split(r"`([^`\n]+)`", str(text))
    prose = "".join(f"<code>{_md_escape(part)}</code>" if i % 2 else _md_escape(part)
                    for i, part in enumerate(parts))
    # no line may start a code block, list, heading underline or numbered item
    prose = re.sub(r"(?m)^[ \t]+", "", prose)
    prose = re.sub(r"(?m)^([-+=])", r"\\\1", prose)
    return re.sub(r"(?m)^(\d+)([.)])", r"\1\\\2", prose)


def _md_table(header, rows, text_col=None):
    """A Markdown table; column ``text_col`` holds literal, possibly multi-line, text."""
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_text(c) if i == text_col else _md_cell(c)
                                for i, c in enumerate(row)) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(blocks):
    out = []
    for kind, payload in blocks:
        if kind in ("h1", "h2"):
            out.append("#" * int(kind[1]) + " " + _md_cell(payload))
        elif kind == "p":
            out.append(_md_prose(payload))
        elif kind == "img":
            src, caption = payload
            out.append(f"![{_md_cell(caption)}]({src})\n\n*{_md_cell(caption)}*")
        elif kind == "table":
            out.append(_md_table(*payload))
        elif kind == "pre":
            fence = _fence(payload)
            out.append(f"{fence}text\n{payload}\n{fence}")
        elif kind == "details":
            summary, text = payload
            fence = _fence(text)
            out.append(f"<details><summary>{html.escape(summary)}</summary>\n\n"
                       f"{fence}text\n{text}\n{fence}\n\n</details>")
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
img { max-width: 100%; border: 1px solid #ddd; }
figure { margin: 1.5em 0; } figcaption { color: #555; font-style: italic; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 0.8em; white-space: pre-wrap; word-break: break-word;
      font-size: 0.85em; border: 1px solid #e3e3e3; }
td pre { margin: 0; padding: 0.3em; }
summary { cursor: pointer; margin: 0.3em 0; }
"""


def to_html(blocks, title, root):
    """One standalone page: the images are inline data URIs, so it opens anywhere."""
    esc = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
           f"<style>{CSS}</style></head><body>"]
    for kind, payload in blocks:
        if kind in ("h1", "h2"):
            out.append(f"<{kind}>{esc(payload)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline_code(esc(payload))}</p>")
        elif kind == "img":
            src, caption = payload
            data = base64.b64encode((Path(root) / src).read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{esc(caption)}</figcaption></figure>")
        elif kind == "table":
            out.append(_html_table(*payload))
        elif kind == "pre":
            out.append(f"<pre>{esc(payload)}</pre>")
        elif kind == "details":
            summary, text = payload
            out.append(f"<details><summary>{esc(summary)}</summary><pre>{esc(text)}</pre>"
                       f"</details>")
    out.append("</body></html>")
    return "\n".join(out)


def _html_table(header, rows, text_col=None):
    """An HTML table; column ``text_col`` is preformatted text."""
    esc = html.escape

    def cell(i, c):
        return f"<td><pre>{esc(str(c))}</pre></td>" if i == text_col else f"<td>{esc(str(c))}</td>"
    return ("<table><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr>"
            + "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>"
                      for row in rows) + "</table>")


def _inline_code(escaped):
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
