"""Downloads against a local HTTP server (never the internet): stripping, storing, errors."""
import functools
import hashlib
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_cli
from rnnbench.text.corpus import Corpus
from rnnbench.text.fetch import (ENV_GUTENBERG, ENV_TINYSHAKESPEARE, TINYSHAKESPEARE_SHA256,
                            FetchError, get, source_url, strip_gutenberg)

BOOK = ("\ufeffThe Project Gutenberg eBook of Alice\r\n\r\nThis eBook is for the use of anyone"
        "\r\n\r\n*** START OF THE PROJECT GUTENBERG EBOOK ALICE ***\r\n\r\n\r\n"
        "    ALICE\r\n\r\nDown the Rabbit-Hole. Ça va? 日本\r\n\r\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK ALICE ***\r\n\r\nSection 5. General "
        "Information About Project Gutenberg\r\n")
BODY = "    ALICE\r\n\r\nDown the Rabbit-Hole. Ça va? 日本\r\n"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """(folder served, base URL) of an HTTP server on localhost, in a thread."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A current directory whose data/ starts empty."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize("start, end", [
    ("*** START OF THE PROJECT GUTENBERG EBOOK ALICE ***",
     "*** END OF THE PROJECT GUTENBERG EBOOK ALICE ***"),
    ("*** START OF THIS PROJECT GUTENBERG EBOOK ALICE ***",
     "*** END OF THIS PROJECT GUTENBERG EBOOK ALICE ***"),
    ("***START OF THE PROJECT GUTENBERG EBOOK ALICE***",
     "***END OF THE PROJECT GUTENBERG EBOOK ALICE***"),
    ("*** Start of the Project Gutenberg E-Book Alice ***",
     "*** End of the Project Gutenberg E-Book Alice ***"),
])
def test_strip_gutenberg_markers(start, end):
    text = f"Header\n{start}\n\n  Chapter 1\nText.\n\n\n{end}\nLicence\n"
    assert strip_gutenberg(text) == "  Chapter 1\nText.\n"


@pytest.mark.parametrize("text, message", [
    ("no markers at all\n", "no '\\*\\*\\* START OF"),
    ("*** START OF THE PROJECT GUTENBERG EBOOK X ***\nbody\n", "no '\\*\\*\\* END OF"),
    ("*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n*** END OF THE PROJECT GUTENBERG "
     "EBOOK X ***\n", "nothing between"),
])
def test_strip_gutenberg_errors(text, message):
    with pytest.raises(FetchError, match=message) as info:
        strip_gutenberg(text, "gutenberg:1")
    assert "\n" not in str(info.value)


def test_source_urls(monkeypatch):
    monkeypatch.delenv(ENV_GUTENBERG, raising=False)
    assert source_url("gutenberg:11") == "https://www.gutenberg.org/cache/epub/11/pg11.txt"
    monkeypatch.setenv(ENV_GUTENBERG, "http://mirror.example/books/")
    assert source_url("gutenberg:11") == "http://mirror.example/books/cache/epub/11/pg11.txt"
    assert source_url("gutenberg:11", "http://m/b.txt") == "http://m/b.txt"
    monkeypatch.setenv(ENV_GUTENBERG, "http://m/{id}/{id}-0.txt")
    assert source_url("gutenberg:11") == "http://m/11/11-0.txt"
    with pytest.raises(FetchError, match="not a text rnnbench can download"):
        source_url("gutenberg:eleven")


def test_get_gutenberg_stores_the_book_and_its_checksum(server, project, monkeypatch):
    root, base = server
    (root / "cache" / "epub" / "11").mkdir(parents=True)
    (root / "cache" / "epub" / "11" / "pg11.txt").write_text(BOOK, encoding="utf-8")
    monkeypatch.setenv(ENV_GUTENBERG, base)  # a mirror's base URL: Gutenberg's path is added
    code, stdout, stderr = run_cli("data", "get", "gutenberg:11")
    assert code == 0, stderr
    path = project / "data" / "gutenberg-11.txt"
    digest = hashlib.sha256(BODY.encode()).hexdigest()
    assert path.read_bytes() == BODY.encode() and f"sha256 {digest}; downloaded" in stdout
    assert (project / "data" / "gutenberg-11.txt.sha256").read_text() == (
        f"{digest}  gutenberg-11.txt\n")
    assert Corpus.load("gutenberg:11").text == BODY.replace("\r\n", "\n")

    (root / "cache" / "epub" / "11" / "pg11.txt").unlink()  # a second get reads nothing
    code, stdout, _ = run_cli("data", "get", "gutenberg:11")
    assert code == 0 and "already there" in stdout

    code, stdout, _ = run_cli("data", "list")
    line = next(ln for ln in stdout.splitlines() if "gutenberg:11" in ln)
    assert f"{len(BODY):,} characters" in line and digest in line and line.endswith("verified")
    path.write_text("edited", encoding="utf-8")
    assert run_cli("data", "list")[1].rstrip().endswith("CHANGED since download")


def test_tinyshakespeare_checksum_mismatch_stores_nothing(server, project, monkeypatch):
    root, base = server
    (root / "input.txt").write_text("First Citizen:\nBefore we proceed any further\n")
    monkeypatch.setenv(ENV_TINYSHAKESPEARE, f"{base}/input.txt")
    code, _, stderr = run_cli("data", "get", "tinyshakespeare")
    assert code != 0 and stderr.count("\n") == 1
    assert f"expected {TINYSHAKESPEARE_SHA256}; nothing stored" in stderr
    assert not any((project / "data").glob("*")) if (project / "data").exists() else True


def test_tinyshakespeare_verified(server, project, shakespeare_path):
    root, base = server
    (root / "input.txt").write_bytes(shakespeare_path.read_bytes())
    path, digest, downloaded = get("tinyshakespeare", url=f"{base}/input.txt")
    assert downloaded and digest == TINYSHAKESPEARE_SHA256
    assert Corpus.load("tinyshakespeare").vocab_size == 65


def _refused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_download_errors_are_one_line_and_store_nothing(server, project):
    root, base = server
    (root / "plain.txt").write_text("no Gutenberg markers here\n")
    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    cases = [
        (f"{base}/missing.txt", "HTTP error 404"),
        (f"{base}/plain.txt", "no '*** START OF THE PROJECT GUTENBERG EBOOK"),
        (f"http://127.0.0.1:{_refused_port()}/5", "cannot reach 127.0.0.1"),
        (f"http://127.0.0.1:{silent.getsockname()[1]}/5", "no answer within 0.3 s"),
        ("nosuchscheme://x/5", "download failed"),
    ]
    try:
        for url, message in cases:
            code, _, stderr = run_cli("data", "get", "gutenberg:5", "--url", url,
                                      "--timeout", "0.3")
            assert code != 0 and message in stderr and stderr.count("\n") == 1, stderr
    finally:
        silent.close()
    assert not (project / "data").exists()


def _one_answer(answer):
    """URL of a local server that sends ``answer`` (bytes) to one request, then closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)
    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/5"


def test_a_body_shorter_than_its_content_length_is_refused(project):
    """A connection that closes before the length the server announced is a cut download,
    even when what came looks like a whole book: one line, nothing stored."""
    book = BOOK.encode()
    url = _one_answer(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(book) + 1000)
                      + book)
    code, _, stderr = run_cli("data", "get", "gutenberg:5", "--url", url)
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert (f"{url}: download failed (the connection closed after {len(book):,} of "
            f"{len(book) + 1000:,} bytes)") in stderr
    assert not (project / "data").exists()


def test_file_and_data_urls_are_read_whole(project, tmp_path):
    """urllib's file: and data: URLs have no announced length: they are read to their end."""
    book = tmp_path / "book.txt"
    book.write_text(BOOK, encoding="utf-8", newline="")
    code, _, stderr = run_cli("data", "get", "gutenberg:5", "--url", book.as_uri())
    assert code == 0, stderr
    assert (project / "data" / "gutenberg-5.txt").read_bytes() == BODY.encode()
    code, _, stderr = run_cli("data", "get", "gutenberg:6", "--url", "data:,no%20markers")
    assert code == 2 and "no '*** START OF THE PROJECT GUTENBERG EBOOK" in stderr, stderr
    assert stderr.count("\n") == 1, stderr


@pytest.fixture
def trickle():
    """URL of a local server that sends its answer one byte every 50 ms: the body (after
    proper headers) or, with /headers, the status line itself. It gives up after 30 s, so a
    download without a deadline ends there (and its test fails) instead of hanging."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve(conn):
        with conn:
            request = conn.recv(65536).decode("latin-1")
            body = b"x" * 600
            answer = (b"HTTP/1.0 200 OK\r\nContent-Length: 600\r\n\r\n" + body
                      if "/headers" in request else body)
            if "/headers" not in request:
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 600\r\n\r\n")
            for byte in answer:
                if stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the client shut the connection: what the deadline does
                    return

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


@pytest.mark.parametrize("path", ["/body", "/headers"])
def test_a_trickling_server_meets_the_deadline(trickle, project, path):
    """Each byte comes well within --timeout, so only the whole download's deadline ends it:
    one line, nothing stored, and the downloading thread is gone."""
    code, _, stderr = run_cli("data", "get", "gutenberg:5", "--url", trickle + path,
                              "--timeout", "5", "--deadline", "1")
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert f"{trickle}{path}: not complete within 1 s (the deadline of the whole download)" \
        in stderr
    assert not (project / "data").exists()
    assert not [t for t in threading.enumerate() if t.name == "rnnbench-download"]


def test_the_deadline_wins_over_what_the_cut_download_returns(trickle, monkeypatch):
    """Past the deadline the sockets are shut, and the downloading thread may end before the
    caller looks again (a loaded machine): what it returns then is a cut download, refused as
    late, not its own error or its partial bytes."""
    from rnnbench.text import fetch
    shut_all = fetch._Sockets.shut_all

    def shut_and_let_the_thread_end(self):
        shut_all(self)
        for thread in threading.enumerate():
            if thread.name == "rnnbench-download":
                thread.join(5.0)
    monkeypatch.setattr(fetch._Sockets, "shut_all", shut_and_let_the_thread_end)
    for path in ("/body", "/headers"):
        with pytest.raises(FetchError, match=r"not complete within 0\.5 s \(the deadline"):
            fetch.download(trickle + path, timeout=5, deadline=0.5)


def test_download_limits_are_checked():
    from rnnbench.text.fetch import download
    for kwargs in (dict(timeout=0), dict(deadline=float("inf")), dict(deadline=-1)):
        with pytest.raises(FetchError, match="must be a number of seconds > 0"):
            download("http://127.0.0.1:9/x", **kwargs)
