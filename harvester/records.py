"""What a reader yields besides an ``Article``: a deletion notice, and a skipped record.

Readers stream; they never hold a file in memory. A record that cannot become an
``Article`` (no PMID, the one identity the corpus has) is not an error for the whole file:
the reader hands a ``Skipped`` to the caller's ``on_skip`` callback, and the ingest report
lists it, so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from corpus.article import Article, Author
from corpus.errors import InputError


@dataclass(frozen=True)
class Deletion:
    """NLM withdrew these PMIDs (``<DeleteCitation>`` in a daily update file)."""

    pmids: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    """A record a reader could not turn into an ``Article``, and why."""

    source: str  # the file (or "<bytes>")
    record: str  # where in it: "record 3 (line 120)", "row 17"
    reason: str  # e.g. "no PMID"

    def __str__(self) -> str:
        return f"{self.source}: {self.record}: {self.reason}"


Record = Article | Deletion
OnSkip = Callable[[Skipped], None]


def raise_on_skip(skipped: Skipped) -> None:
    """The default ``on_skip``: a record that cannot be read is an error (one line, naming it)."""
    raise InputError(str(skipped))


def author_from_name(name: str) -> Author:
    """'Mangalam, Harry J.' (as RIS and CSV exports write names) → last, fore and initials 'HJ'."""
    last, _, fore = name.partition(",")
    fore = " ".join(fore.split())
    initials = "".join(p[0] for p in fore.replace(".", " ").replace("-", " ").split() if p[0].isalpha())
    return Author(last=last.strip(), fore=fore, initials=initials)
