"""Text samples of a model, as rows of samples.parquet: every sample rnnbench draws (during
training, of the final model at a grid's temperatures, the report's passage, ``rnnbench
sample``) is drawn by ``sample_row``, with one schema (SAMPLE_COLUMNS).

``kind`` says which: "training" (the recipe's samples every sample_every updates, from the
current hidden state, seeded by the next input character), "final" (the final model at each
temperature of a grid's ``samples:``), "passage" (a long sample of the final model, the one
the report shows), "best_passage" (a ``train`` run's: the best checkpoint's, from a zero
state, drawn when the run ends). Seeds: seeds.py.
"""
import math

import pandas as pd

from ..text.novelty import DEFAULT_N
from .seeds import FINAL_SAMPLE, PASSAGE_SEED, derived_seed

SAMPLE_COLUMNS = ["update", "temperature", "prime", "text", "novelty", "novelty_n", "kind"]
PASSAGE_LENGTH, PASSAGE_TEMPERATURE = 1000, 1.0  # the course's passage


def sample_row(model, prime, length, temperature, seed, h=None, *, update, kind, index=None,
               stop=None, greedy=False, top_k=0, shown_prime=None):
    """One sample as a samples.parquet row: ``model`` fed ``prime`` from state ``h`` (None: a
    zero state), then up to ``length`` characters drawn at ``temperature`` with ``seed``;
    drawing ``stop`` (a character; None: none) ends it. ``index`` (a novelty.NgramIndex of the
    training text) gives its novelty (NaN without one); ``shown_prime``: the prime the row
    names, when it differs from what was fed (a records model is fed its end symbol first)."""
    stop_id = -1 if stop is None else int(model.encode(stop)[0])
    ids = model.sample_ids(model.encode(prime), length, temperature, greedy, seed, h, top_k,
                           stop_id)
    text = model.decode(ids)
    return dict(update=update, temperature=temperature,
                prime=prime if shown_prime is None else shown_prime, text=text,
                novelty=index.novelty(text) if index is not None else math.nan,
                novelty_n=DEFAULT_N, kind=kind)


def start_text(prime, chars, end_symbol=None):
    """The text a sample starts from: ``prime`` (None: a newline, else the first of ``chars``);
    a records model's end symbol first (a record starts), then no newline it does not know."""
    if end_symbol:
        return end_symbol + ("" if prime is None or (prime == "\n" and "\n" not in chars)
                             else prime)
    if prime is None:
        return "\n" if "\n" in chars else chars[0]
    return prime


def final_state(result):
    """The state a sample of a run's final model starts from: stream 0 of the state training
    ended in; None (a zero state) for a records model, whose samples start a new record."""
    return None if result.model.end_symbol else result.optimizer_state["h"][:, 0]


def final_rows(result, settings, index):
    """Rows of kind "final": the final model of ``result`` at each temperature of a grid's
    ``samples:`` ``settings``, all with one seed so that only the temperature differs."""
    model = result.model
    seed = derived_seed(settings["seed"], FINAL_SAMPLE)
    prime = start_text(settings["prime"], model.chars, model.end_symbol)
    return [sample_row(model, prime, settings["length"], t, seed, final_state(result),
                       update=result.summary["updates"], kind="final", index=index,
                       stop=model.end_symbol, shown_prime=settings["prime"])
            for t in settings["temperatures"]]


def passage_row(result, index):
    """The row of kind "passage" of an ok run: PASSAGE_LENGTH characters of the final model
    of ``result`` at PASSAGE_TEMPERATURE with PASSAGE_SEED, from the state training ended in
    (a records model: a new record). ``rnnbench sample <run folder> --length 1000`` draws the
    same text from the saved checkpoint."""
    model = result.model
    return sample_row(model, start_text(None, model.chars, model.end_symbol), PASSAGE_LENGTH,
                      PASSAGE_TEMPERATURE, PASSAGE_SEED, final_state(result),
                      update=result.summary["updates"], kind="passage", index=index,
                      stop=model.end_symbol)


def with_extra_rows(result, rows):
    """``result``'s samples table with ``rows`` after its own."""
    if result.samples.empty:
        return rows_frame(rows)
    return pd.concat([result.samples, rows_frame(rows)], ignore_index=True)


def rows_frame(rows):
    """Sample rows as a table with SAMPLE_COLUMNS."""
    return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
