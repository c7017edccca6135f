"""Downloads of named texts into data/: Project Gutenberg books and tinyshakespeare.

Only the standard library (urllib) is used, with a timeout. Each source URL can be pointed
elsewhere (a mirror, or a local server in the tests) by an environment variable or ``url=``.
A text is stored only when it downloaded, verified and stripped cleanly, and atomically.
"""
import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .data import CorpusError
from .texts import (DATA_DIR, GUTENBERG, TINYSHAKESPEARE, download_filename, sha256_file, sidecar,
                    sidecar_line)

GUTENBERG_URL = "https://www.gutenberg.org/cache/epub/{id}/pg{id}.txt"
GUTENBERG_PATH = "/cache/epub/{id}/pg{id}.txt"
TINYSHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                       "tinyshakespeare/input.txt")
TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
ENV_GUTENBERG, ENV_TINYSHAKESPEARE = "RNNBENCH_GUTENBERG_URL", "RNNBENCH_TINYSHAKESPEARE_URL"
TIMEOUT = 30.0
MAX_BYTES = 64 * 2**20  # the largest Gutenberg books are under 20 MB

# "*** START OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***", and older spellings:
# "THIS PROJECT", "EBOOK" / "E-BOOK", no space after the asterisks.
_MARK = r"^[ \t]*\*\*\*[ \t]*WHERE OF (?:THE |THIS )?PROJECT GUTENBERG E-?BOOK\b[^\n]*\n?"
START = re.compile(_MARK.replace("WHERE", "START"), re.IGNORECASE | re.MULTILINE)
END = re.compile(_MARK.replace("WHERE", "END"), re.IGNORECASE | re.MULTILINE)


class FetchError(CorpusError):
    """A download that failed or was refused; one line, and nothing was stored."""


def source_url(spec, url=None):
    """The URL ``spec`` is downloaded from: ``url``, else the environment's, else the default.

    RNNBENCH_GUTENBERG_URL is a template with ``{id}``, or else a mirror's base URL, to which
    Gutenberg's own path (/cache/epub/<id>/pg<id>.txt) is added.
    """
    match = GUTENBERG.match(spec)
    if match and url:
        return url
    if match:
        template = os.environ.get(ENV_GUTENBERG) or GUTENBERG_URL
        if "{id}" not in template:
            template = template.rstrip("/") + GUTENBERG_PATH
        return template.replace("{id}", str(int(match.group(1))))
    if spec == TINYSHAKESPEARE:
        return url or os.environ.get(ENV_TINYSHAKESPEARE) or TINYSHAKESPEARE_URL
    raise FetchError(f"{spec!r} is not a text rnnbench can download (gutenberg:<id>, e.g. "
                     f"gutenberg:1342, or {TINYSHAKESPEARE})")


def get(spec, folder=DATA_DIR, url=None, timeout=TIMEOUT, force=False):
    """Download ``spec`` into ``folder`` unless it is there; returns (path, sha256, downloaded)."""
    source = source_url(spec, url)
    path = Path(folder) / download_filename(spec)
    if path.exists() and not force:
        return path, sha256_file(path), False
    raw = download(source, timeout)
    if spec == TINYSHAKESPEARE:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != TINYSHAKESPEARE_SHA256:
            raise FetchError(f"{spec}: the download from {source} has sha256 {digest}, expected "
                             f"{TINYSHAKESPEARE_SHA256}; nothing stored")
    else:
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise FetchError(f"{spec}: the download from {source} is not UTF-8 text (byte "
                             f"0x{raw[exc.start]:02x} at offset {exc.start})") from None
        raw = strip_gutenberg(text, f"{spec} ({source})").encode("utf-8")
        digest = hashlib.sha256(raw).hexdigest()
    store(path, raw, digest)
    return path, digest, True


def download(url, timeout=TIMEOUT):
    """The bytes at ``url``, or a FetchError that says in one line why not."""
    request = urllib.request.Request(url, headers={"User-Agent": "rnnbench"})
    host = urllib.parse.urlsplit(url).netloc or url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP error {exc.code} ({exc.reason})") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise FetchError(f"{url}: no answer within {timeout:g} s") from None
        if not isinstance(exc.reason, OSError):  # "unknown url type" and the like
            raise FetchError(f"{url}: download failed ({_reason(exc.reason)})") from None
        raise FetchError(f"cannot reach {host} ({_reason(exc.reason)}); are you offline?") from None
    except TimeoutError:
        raise FetchError(f"{url}: no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(f"{url}: download failed ({_reason(exc)})") from None
    if len(raw) > MAX_BYTES:
        raise FetchError(f"{url}: more than {MAX_BYTES // 2**20} MB; not a text to train on")
    return raw


def _reason(exc):
    return " ".join(str(getattr(exc, "strerror", None) or exc or type(exc).__name__).split())


def strip_gutenberg(text, name="the text"):
    """The book between Project Gutenberg's "*** START OF ..." and "*** END OF ..." lines."""
    start = START.search(text)
    if start is None:
        raise FetchError(f"{name}: no '*** START OF THE PROJECT GUTENBERG EBOOK ... ***' line; "
                         f"is it a Project Gutenberg text?")
    end = END.search(text, start.end())
    if end is None:
        raise FetchError(f"{name}: no '*** END OF THE PROJECT GUTENBERG EBOOK ... ***' line "
                         f"after the START line; is the download cut short?")
    body = text[start.end():end.start()]
    body = body[re.match(r"\s*(?:\n|$)", body).end():].rstrip()  # blank lines, keep indents
    if not body:
        raise FetchError(f"{name}: nothing between the START and END lines")
    return body + ("\r\n" if "\r\n" in body else "\n")


def store(path, raw, digest):
    """Write the text and its .sha256 beside it, each to a temporary name renamed into place."""
    from .store import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(sidecar(path), sidecar_line(path, digest).encode("ascii"))
    atomic_write_bytes(path, raw)
