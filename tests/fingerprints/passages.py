"""Real, unrelated English passages built offline: Python's own documentation (pydoc's language-reference
topics, the standard library's docstrings, read with `ast` so nothing is imported), the long descriptions
of the installed packages, then their docstrings. No download.

"Unrelated" is checked, not assumed: a passage is kept only when its exact 4-word-shingle Jaccard similarity
with every passage kept before it is below MAX_RELATED (licences and boilerplate repeat across packages).
"""

from __future__ import annotations

import ast
import email.parser
import importlib.metadata
import sysconfig
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from aiact_transparency.fingerprints.minhash import MIN_WORDS, SHINGLE_WORDS, normalised_words

WORDS = 250  # per passage: above the 200 a text fingerprint needs
MAX_RELATED = 0.1


def _pydoc_topics() -> Iterator[str]:
    from pydoc_data.topics import topics

    yield from topics.values()


def _docstrings(root: Path) -> Iterator[str]:
    """The docstrings of each module under `root` (tests left out), one document per file."""
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(part in ("test", "tests", "site-packages", "dist-packages") or part.startswith("test")
               for part in parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        docs = [ast.get_docstring(node) for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        yield "\n".join(doc for doc in docs if doc)


def _package_descriptions() -> Iterator[str]:
    seen: set[str] = set()
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"] or ""):
        name = dist.metadata["Name"]
        if not name or name in seen:
            continue
        seen.add(name)
        text = dist.read_text("METADATA") or ""
        message = email.parser.Parser().parsestr(text)
        body = message.get_payload()
        if isinstance(body, str):
            yield body


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = normalised_words(text)
    return frozenset(tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1))


@cache
def unrelated_passages(count: int) -> tuple[str, ...]:
    """`count` passages of WORDS words, pairwise exact Jaccard < MAX_RELATED (AssertionError if the sources
    installed here do not hold that many)."""
    kept: list[str] = []
    sets: list[frozenset[tuple[str, ...]]] = []
    owners: dict[tuple[str, ...], list[int]] = {}
    sources = (_pydoc_topics(), _docstrings(Path(sysconfig.get_paths()["stdlib"])), _package_descriptions(),
               _docstrings(Path(sysconfig.get_paths()["purelib"])))
    for source in sources:
        for document in source:
            words = document.split()
            for start in range(0, len(words) - WORDS + 1, WORDS):
                passage = " ".join(words[start : start + WORDS])
                shingles = _shingles(passage)
                # Tables, code, lists of names are not prose; and every passage must be fingerprinted.
                if len(shingles) < WORDS // 2 or len(normalised_words(passage)) < MIN_WORDS:
                    continue
                shared = Counter(i for s in shingles for i in owners.get(s, ()))
                if any(n / len(shingles | sets[i]) >= MAX_RELATED for i, n in shared.items()):
                    continue
                for s in shingles:
                    owners.setdefault(s, []).append(len(kept))
                kept.append(passage)
                sets.append(shingles)
                if len(kept) == count:
                    return tuple(kept)
    raise AssertionError(f"only {len(kept)} unrelated passages of {WORDS} words could be built here")
