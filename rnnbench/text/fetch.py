"""Downloads of named texts into data/: Project Gutenberg books and tinyshakespeare.

Only the standard library (urllib) is used, with two limits: ``timeout`` for any one wait on
the server (connecting, or the next bytes), and ``deadline`` for the whole download, so that a
server trickling a byte a second cannot hold it forever. Each source URL can be pointed
elsewhere (a mirror, or a local server in the tests) by an environment variable or ``url=``.
A text is stored only when it downloaded, verified and stripped cleanly, and atomically.
"""
import hashlib
import http.client
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..disk.writing import atomic_write_bytes
from .loading import CorpusError
from .names import (DATA_DIR, GUTENBERG, TINYSHAKESPEARE, download_filename, sha256_file, sidecar,
                    sidecar_line)

GUTENBERG_URL = "https://www.gutenberg.org/cache/epub/{id}/pg{id}.txt"
GUTENBERG_PATH = "/cache/epub/{id}/pg{id}.txt"
TINYSHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                       "tinyshakespeare/input.txt")
TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
ENV_GUTENBERG, ENV_TINYSHAKESPEARE = "RNNBENCH_GUTENBERG_URL", "RNNBENCH_TINYSHAKESPEARE_URL"
TIMEOUT = 30.0
DEADLINE = 600.0  # a 20 MB book at 35 kB/s; tinyshakespeare needs 2 kB/s
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


def get(spec, folder=DATA_DIR, url=None, timeout=TIMEOUT, force=False, deadline=DEADLINE):
    """Download ``spec`` into ``folder`` unless it is there; returns (path, sha256, downloaded)."""
    source = source_url(spec, url)
    path = Path(folder) / download_filename(spec)
    if path.exists() and not force:
        return path, sha256_file(path), False
    raw = download(source, timeout, deadline)
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


def download(url, timeout=TIMEOUT, deadline=DEADLINE):
    """The bytes at ``url``, or a FetchError that says in one line why not.

    The download runs in a thread; past ``deadline`` seconds its sockets are shut down (which
    ends any wait of that thread at once) and the download is refused.
    """
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if not 0 < value < float("inf"):
            raise FetchError(f"{name} must be a number of seconds > 0, got {value}")
    sockets, outcome = _Sockets(), {}

    def work():
        try:
            outcome["raw"] = _download(url, timeout, sockets, deadline)
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="rnnbench-download", daemon=True)
    thread.start()
    try:
        thread.join(deadline)
    finally:
        # decided once: past the deadline (or interrupted) the sockets are shut, and whatever
        # the thread makes of that (partial bytes, a closed connection) is a cut download
        late = thread.is_alive()
        if late:
            sockets.shut_all()
    if late:
        thread.join(5.0)
        raise _late(url, deadline)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["raw"]


class _Sockets:
    """The sockets of one download; once shut, a socket connected later is shut at once."""

    def __init__(self):
        self.lock, self.open, self.shut = threading.Lock(), [], False

    def add(self, sock):
        with self.lock:
            self.open.append(sock)
            if self.shut:
                _shutdown(sock)

    def shut_all(self):
        with self.lock:
            self.shut = True
            for sock in self.open:
                _shutdown(sock)


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv on it
    except OSError:
        pass


def _opener(sockets):
    """A urllib opener whose HTTP(S) connections record their sockets in ``sockets``."""
    def recording(base):
        class Connection(base):
            def connect(self):
                super().connect()
                sockets.add(self.sock)
        return Connection

    class Recording:
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(recording(http_class), req, **kwargs)

    class HTTP(Recording, urllib.request.HTTPHandler):
        pass

    class HTTPS(Recording, urllib.request.HTTPSHandler):
        pass

    return urllib.request.build_opener(HTTP(), HTTPS())


def _download(url, timeout, sockets, deadline):
    """download's work: each read waits at most ``timeout`` s, and none starts after
    ``deadline`` s."""
    end = time.monotonic() + deadline
    request = urllib.request.Request(url, headers={"User-Agent": "rnnbench"})
    host = urllib.parse.urlsplit(url).netloc or url
    try:
        with _opener(sockets).open(request, timeout=timeout) as response:
            parts, size = [], 0
            while size <= MAX_BYTES:
                if time.monotonic() > end:
                    raise _late(url, deadline)
                part = response.read1(1 << 16)
                if not part:
                    break
                parts.append(part)
                size += len(part)
            raw = b"".join(parts)
            missing = getattr(response, "length", None)  # HTTP's Content-Length left unread
            if not part and missing:
                raise FetchError(f"{url}: download failed (the connection closed after "
                                 f"{size:,} of {size + missing:,} bytes)")
    except FetchError:
        raise
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


def _late(url, deadline):
    return FetchError(f"{url}: not complete within {deadline:g} s (the deadline of the whole "
                      f"download); the server is too slow")


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
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(sidecar(path), sidecar_line(path, digest).encode("ascii"))
    atomic_write_bytes(path, raw)
