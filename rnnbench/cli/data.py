"""``rnnbench data``: list, download and inspect texts.

The parts of rnnbench a command uses are imported inside it (as in every cli module), so
that ``rnnbench --help`` imports neither Numba nor pandas."""
from pathlib import Path

from ..config import RunConfig
from .options import Parser, UsageError, config_of, field_options, ranged


def add_parser(sub):
    where = ("data/ is the folder of that name in the current directory: run rnnbench from the "
             "project root to use the project's data/.")
    p = sub.add_parser("data", help="list, download and inspect texts",
                       description="The texts to train on: the built-in ones and those in "
                       "data/. " + where)
    data = p.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    data.add_parser("list", help="built-in texts and the texts in data/",
                    description="List the built-in texts and the text files in data/ (name, "
                    "size, characters, sha256 and whether it matches the one recorded at "
                    "download). " + where)
    p = data.add_parser("get", help="download gutenberg:<id> or tinyshakespeare into data/",
                        description="Download a Project Gutenberg book (gutenberg:<id>, the "
                        "licence header and footer stripped) or tinyshakespeare (its sha256 "
                        "checked) into data/, with a .sha256 file beside it; then use the "
                        "same name with --data or in a grid's data:. Source URLs: "
                        "RNNBENCH_GUTENBERG_URL (a template with {id}, or a mirror's base URL) "
                        "and RNNBENCH_TINYSHAKESPEARE_URL, or --url (for one NAME). " + where)
    p.add_argument("names", nargs="+", metavar="NAME", help="gutenberg:<id> (e.g. "
                   "gutenberg:1342) or tinyshakespeare")
    p.add_argument("--url", default=None, help="download from this URL instead (one NAME)")
    p.add_argument("--timeout", type=ranged(float, 0, 3600, low_open=True), default=30.0,
                   help="seconds to wait for the server at any one time: to connect, or for "
                   "the next bytes (default: 30)")
    p.add_argument("--deadline", type=ranged(float, 0, 86400, low_open=True), default=600.0,
                   help="seconds the whole download may take (default: 600)")
    p.add_argument("--force", action="store_true", help="download again even if present")
    p = data.add_parser("info", help="a text's length, vocabulary, rarest characters, checksum "
                        "and baselines", description="Read a text as training would and show "
                        "its length, vocabulary, rarest characters, checksum and count-based "
                        "baselines (nats and bits per character on the validation split).")
    p.add_argument("data", metavar="PATH|NAME", help="a text file, a built-in name, "
                   "python:<module>, gutenberg:<id> or tinyshakespeare")
    field_options(p, RunConfig, ("encoding", "newline", "min_char_count", "val_fraction"))


def cmd_data(args):
    return {"list": _data_list, "get": _data_get, "info": _data_info}[args.data_command](args)


def _data_list(args):
    from ..text.loading import BUILTIN
    from ..text.names import DATA_DIR, data_texts

    print("built-in:")
    for name, (_, description) in BUILTIN.items():
        print(f"  {name:<18} {description}")
    print(f"  {'python:<module>':<18} the Python source of a standard-library module, e.g. "
          f"python:argparse")
    rows = data_texts(DATA_DIR)
    print(f"in {DATA_DIR}/ (relative to {Path.cwd()}):" if rows else
          f"in {DATA_DIR}/ (relative to {Path.cwd()}): no .txt files; 'rnnbench data get "
          f"gutenberg:<id>' or 'rnnbench data get tinyshakespeare' downloads one")
    for r in rows:
        if r["bytes"] is None:  # not read: not a regular file, or too big
            print(f"  {r['name']:<18} {r['state']}")
            continue
        chars = f"{r['chars']:,} characters" if r["chars"] is not None else "not UTF-8"
        print(f"  {r['name']:<18} {r['bytes']:>12,} bytes  {chars:>20}  sha256 {r['sha256']}  "
              f"{r['state']}")
    return 0


def _data_get(args):
    from ..text.fetch import get

    if args.url and len(args.names) > 1:
        raise UsageError("rnnbench: --url takes one NAME")
    for name in args.names:
        path, digest, downloaded = get(name, url=args.url, timeout=args.timeout,
                                       force=args.force, deadline=args.deadline)
        state = "downloaded" if downloaded else "already there (--force downloads it again)"
        print(f"{name}: {path}, {path.stat().st_size:,} bytes, sha256 {digest}; {state}")
    print(f"use it with --data {args.names[0]} (from this folder) or in a grid's data:")
    return 0


def _data_info(args):
    from ..text.baselines import corpus_baselines
    from ..text.corpus import Corpus

    corpus = Corpus.from_config(config_of(args))
    print(f"{corpus.name}: {len(corpus):,} characters, {len(corpus.train_ids):,} train / "
          f"{len(corpus.val_ids):,} validation; sha256 of the text as read (UTF-8) "
          f"{corpus.checksum}")
    print(corpus.vocabulary_report())
    rows = corpus_baselines(corpus)
    if rows:
        print("baselines on the validation split: " + "; ".join(
            f"{r['baseline']} {r['loss_per_char']:.3f} nats ({r['bits_per_char']:.3f} bits)"
            for r in rows))
    return 0
