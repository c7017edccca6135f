"""Texts: reading them (encodings, newlines, named and downloaded texts), records files, the
encoded Corpus and its split, and what is measured on a text alone: n-gram baselines, novelty."""
