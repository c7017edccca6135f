"""The report's blocks written as report.md and a standalone report.html (a grid's, from
content.py, and a run's, from run.py).

Everything a user wrote (description, names, paths, primes, samples) is shown literally: HTML is
escaped in both files, and Markdown's syntax in report.md. Plain Python only: a run's report
imports neither seaborn nor the grid's analysis.
"""
import base64
import html
import re
from pathlib import Path

from ...disk.writing import atomic_write_bytes


def plot_blocks(folder, plots, captions):
    """The "Plots" heading and an image block for each file of ``captions`` ({name: caption})
    that exists in ``folder``/``plots``."""
    return [("h2", "Plots")] + [("img", (f"{plots}/{name}", caption))
                                for name, caption in captions.items()
                                if (Path(folder) / plots / name).exists()]


def write_blocks(folder, blocks, title):
    """Write ``blocks`` as report.md and report.html (titled ``title``, its images embedded
    from ``folder``) into ``folder``; returns their paths."""
    folder = Path(folder)
    md, page = folder / "report.md", folder / "report.html"
    atomic_write_bytes(md, to_markdown(blocks).encode("utf-8"))
    atomic_write_bytes(page, to_html(blocks, title, folder).encode("utf-8"))
    return [md, page]


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


def _text_cols(text_col):
    """The columns that hold literal text: one index, several, or none."""
    if text_col is None:
        return ()
    return tuple(text_col) if isinstance(text_col, (tuple, list)) else (text_col,)


def _md_table(header, rows, text_col=None):
    """A Markdown table; the ``text_col`` column(s) hold literal, possibly multi-line, text."""
    text_cols = _text_cols(text_col)
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_text(c) if i in text_cols else _md_cell(c)
                                for i, c in enumerate(row)) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(blocks):
    out = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
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
        if kind in ("h1", "h2", "h3"):
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
    """An HTML table; the ``text_col`` column(s) are preformatted text."""
    esc = html.escape
    text_cols = _text_cols(text_col)

    def cell(i, c):
        return (f"<td><pre>{esc(str(c))}</pre></td>" if i in text_cols
                else f"<td>{esc(str(c))}</td>")
    return ("<table><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr>"
            + "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>"
                      for row in rows) + "</table>")


def _inline_code(escaped):
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
