"""A grid run's checkpoints, kept by its worker: every ``every`` updates the run is written as
a stopped run folder (runs/<run_id>/, status "stopped"), and a worker that finds such a folder
continues that run from it (the same path as ``train --resume``), so an interrupted grid loses
at most ``every`` updates of each run it was training.

Only workers that share the parent's disk get a RunCheckpoints (``--jobs 1``, loky, a local dask
cluster); a remote dask cluster's runs start from zero. The parent holds the results folder's
lock for the whole grid and writes a run's final folder only after its worker has returned, so
two writers never meet in a run folder.
"""
from dataclasses import dataclass

from .integrity import DamagedFile, first_line
from .run_folder import check_run_folder, save_run
from .sources import read_resume

BUDGET = ("updates", "epochs")  # what may differ between a stopped run and the run to do


@dataclass(frozen=True)
class RunCheckpoints:
    """The run folder a worker keeps its run's checkpoints in, and how often (updates; the
    grid's ``checkpoint_every``, 0: only a stopped run found there is continued)."""

    folder: str
    every: int

    def resume(self, config, corpus):
        """(the Resume of the stopped run of ``config`` in the folder, or None; a note when a
        stopped run there cannot be continued and the run starts from update 0)."""
        try:
            summary = check_run_folder(self.folder)
        except (DamagedFile, OSError):
            return None, None  # the parent's plan has said so, and it runs again
        if summary is None or summary.get("status") != "stopped":
            return None, None
        try:
            resume = read_resume(self.folder)
        except (ValueError, OSError) as exc:
            return None, f"its checkpoint cannot be continued ({first_line(exc)}); it " \
                         f"starts from update 0"
        saved, wanted = resume.config.model_dump(), config.model_dump()
        differs = [k for k in wanted if k not in BUDGET and saved.get(k) != wanted[k]]
        if differs or resume.corpus_checksum != corpus.checksum \
                or resume.updates >= resume.config.updates:
            why = (f"its config differs in {differs[0]}" if differs else
                   "its text has changed" if resume.corpus_checksum != corpus.checksum else
                   "it has done its updates")
            return None, f"its checkpoint is not this run's ({why}); it starts from update 0"
        return resume, None

    def save(self, result):
        """Write the run so far (a RunResult of status "stopped") as the run folder."""
        save_run(result, self.folder, own=True)
