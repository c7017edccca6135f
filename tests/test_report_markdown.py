"""report.md shows the user's text (grid description, names, paths, primes, samples) as text:
no HTML from a grid file, a file name or a sample ever reaches a Markdown renderer as HTML."""
import re
import textwrap

from conftest import run_cli
from rnnbench.text.corpus import Corpus
from rnnbench.views.report.render import to_markdown

HOSTILE = ("<script>alert(1)</script> `a`<img src=x onerror=alert(2)>`` <b>`x` *y* "
           "[z](javascript:1)")
OUR_TAGS = re.compile(r"</?(code|br|details|summary)>")


def html_outside_fences(markdown):
    """The '<' that a Markdown renderer would read as HTML: outside code fences, and not one of
    the few tags the report writes itself."""
    body = re.sub(r"(?ms)^(`{3,})text\n.*?\n\1$", "", markdown)
    return [m.group(0) for m in re.finditer(r"<[^>\n]*>?", body)
            if not OUR_TAGS.fullmatch(m.group(0))]


def test_every_block_escapes_html():
    blocks = [("h1", f"Grid {HOSTILE}"), ("p", HOSTILE + "\n    - " + HOSTILE + "\n1. x"),
              ("img", ("plots/a.png", HOSTILE)), ("table", (["h" + HOSTILE], [[HOSTILE]])),
              ("table", (["t", "text"], [[HOSTILE, HOSTILE + "\n" + HOSTILE]], 1)),
              ("pre", HOSTILE + "\n```\n" + HOSTILE), ("details", (HOSTILE, HOSTILE + "```"))]
    markdown = to_markdown(blocks)
    assert html_outside_fences(markdown) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "\n- " not in markdown and "\n    " not in markdown and "\n1. " not in markdown


GRID = """
name: hostile
description: "{hostile}"
data: ["{a}", "{b}"]
base: {{hidden_size: 8, updates: 20, eval_every: 10, sample_every: 10, sample_length: 20}}
samples: {{temperatures: [1.0], length: 20, prime: "<b>"}}
"""


def test_report_md_of_a_grid_with_hostile_names(tmp_path):
    text = Corpus.load("pydoc").text[:20000]
    names = [tmp_path / "a<img src=x onerror=1>.txt", tmp_path / "b<script>.txt"]
    for path in names:
        path.write_text(text + "<b>")
    grid = tmp_path / "hostile.yaml"
    grid.write_text(textwrap.dedent(GRID).format(hostile=HOSTILE.replace('"', "'"),
                                                  a=names[0], b=names[1]))
    out = tmp_path / "out"
    code, _, stderr = run_cli("run", grid, "--out", out, "--jobs", "1", "--quiet", "--no-report")
    assert code == 0, stderr
    # links planted where the report and a plot go are replaced, never written through
    planted = [out / "report.md", out / "plots" / "speed.png"]
    (out / "plots").mkdir()
    for k, link in enumerate(planted):
        (tmp_path / f"precious{k}").write_text("keep me")
        link.symlink_to(tmp_path / f"precious{k}")
    assert run_cli("report", out)[0] == 0
    for k, link in enumerate(planted):
        assert (tmp_path / f"precious{k}").read_text() == "keep me"
        assert not link.is_symlink() and link.stat().st_size > 0

    markdown = (out / "report.md").read_text()
    assert html_outside_fences(markdown) == []
    for shown in ("&lt;script&gt;alert(1)", "a&lt;img src=x onerror=1&gt;.txt",
                  "b&lt;script&gt;.txt", "prime '&lt;b&gt;'"):
        assert shown in markdown, shown
