import contextlib
import signal
from pathlib import Path

import pytest

# A suite started in the background of a script (`cmd &`) inherits Ctrl-C ignored, and so would
# every process it starts (an ignored signal stays ignored across exec): the tests of Ctrl-C
# need it delivered. A handler here gives this process Python's KeyboardInterrupt and its
# children the default disposition, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SHARED_SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def pytest_configure(config):
    config.addinivalue_line("markers", "plot_helper: a grid's plots drawn with the plot helper "
                                       "process beside this one, as the command line does")


@contextlib.contextmanager
def _no_plot_helper():
    yield None


REAL_PLOT_HELPER = []  # draw.plot_helper, while the session replaces it


@pytest.fixture(scope="session", autouse=True)
def _plots_drawn_in_this_process():
    """A grid's plots drawn in this process alone, not with a helper process beside it (as
    rnnbench does on a second core): here seaborn is imported already, so the helper's start
    costs about 3 s a report for nothing. The plots are the same either way; the helper is
    tested by the tests marked plot_helper and by every rnnbench started in a subprocess."""
    from rnnbench.views.plots import draw
    REAL_PLOT_HELPER.append(draw.plot_helper)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(draw, "plot_helper", _no_plot_helper)
        yield


@pytest.fixture(autouse=True)
def _plot_helper_when_marked(request, monkeypatch):
    if request.node.get_closest_marker("plot_helper"):
        from rnnbench.views.plots import draw
        monkeypatch.setattr(draw, "plot_helper", REAL_PLOT_HELPER[0])


@pytest.fixture(scope="session")
def corpus():
    from rnnbench.text.corpus import Corpus
    return Corpus.load("pydoc")


@pytest.fixture
def small_model(corpus):
    from rnnbench.model.model import Model
    return Model.create("rnn", corpus.vocab_size, 16, seed=3, chars=corpus.chars)


@pytest.fixture(scope="session")
def shakespeare_path():
    if not SHARED_SHAKESPEARE.exists():
        pytest.skip("../shared/data/tinyshakespeare.txt is not present")
    return SHARED_SHAKESPEARE


@pytest.fixture(scope="session")
def lines_file(tmp_path_factory):
    """A text of short records, one a line (records: lines): the built-in corpus's first 800
    non-empty lines."""
    from rnnbench.text.corpus import Corpus
    text = Corpus.load("pydoc").text
    path = tmp_path_factory.mktemp("records") / "lines.txt"
    path.write_text("\n".join([s for s in text.splitlines() if s.strip()][:800]) + "\n")
    return str(path)


def run_cli(*args):
    """Run the CLI in-process; returns (exit code, stdout, stderr) via capsys-free capture."""
    import contextlib
    import io

    from rnnbench.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()
