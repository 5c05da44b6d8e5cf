"""What a reader yields besides an ``Article``: a deletion notice, and a skipped record.

Readers stream; they never hold a file in memory. A record that cannot become an
``Article`` (no PMID, the one identity the corpus has) is not an error for the whole file:
the reader hands a ``Skipped`` to the caller's ``on_skip`` callback, and the ingest report
lists it, so nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from corpus.article import Article, Author, Book
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


# Words that name a body of people, never a person: a name holding one, written without the comma a
# personal name has in our RIS and CSV exports ('Last, Fore'), is a group author. Measured on the shared
# data: 19 of its 22 group names hold one (two more are acronyms, below) and none of its 9,844 personal
# names does; nor does any of the Cohen CSVs' names written first name first ('A S Carr', 'R Gruppo': a
# Dr Gruppo, so not 'Gruppo'), while their 50 group names all do.
_GROUP_WORDS = re.compile(
    r"\b(?:Groupe?s?|Consorti(?:um|a)|Collaborat\w*|Cooperative|Investigators?|(?:Sub)?committees?|Network|Society"
    r"|Association|Team|Trials?|Study|Studies|Working|Council|Panel|Task Force|Foundation|Institute|Organi[sz]ation"
    r"|Board|Registry|Federation|Alliance|Commission|Initiative|Program(?:me)?|Project|Cent(?:er|re)|Department"
    r"|University|Academy|College|Agency|Ministry|Coalition|Steering|Experts)\b",
    re.IGNORECASE,
)
# A group known by its acronym alone ('EMBRACE', 'HEBON', 'ACP-ASIM'): one word in capitals. Some old
# records print surnames in capitals ('DURANT'), but each with initials, so after a comma.
_ACRONYM = re.compile(r"[A-Z][A-Z0-9&-]{2,}")


def is_group_name(name: str) -> bool:
    """Whether an author name written without a comma names a group (see ``_GROUP_WORDS``)."""
    return "," not in name and bool(_GROUP_WORDS.search(name) or _ACRONYM.fullmatch(name))


def author_from_name(name: str) -> Author:
    """'Mangalam, Harry J.' (as RIS and CSV exports write names) → last, fore and initials 'HJ';
    a group's name ('EUROCARE Working Group', ``is_group_name``) → a collective author."""
    if is_group_name(name):
        return Author(collective=name)
    last, _, fore = name.partition(",")
    fore = " ".join(fore.split())
    return Author(last=last.strip(), fore=fore, initials="".join(map(_initials_of, fore.replace(".", " ").split())))


def is_initials(word: str) -> bool:
    """'LH', 'XM', 'Ø': one to three upper-case letters, no dots, as NLM writes initials ('Gade LH')."""
    return len(word) <= 3 and word.isalpha() and word.isupper()


def _initials_of(word: str) -> str:
    """A forename word's initials: all of them when it is initials already ('Gade, LH', as our exports write an
    author PubMed gives no forename), else the first letter of each of its hyphen-joined parts, upper-case after
    the first as NLM writes them ('Xing-mei' → 'XM'); a particle keeps its case ('J de J' → 'JdJ')."""
    if is_initials(word):
        return word
    parts = [part for part in word.split("-") if part[:1].isalpha()]
    return "".join(part[0] if index == 0 else part[0].upper() for index, part in enumerate(parts))


def book_fields(reference_type: str, publisher: str, place: str, editors: list[str]) -> dict:
    """The ``Article`` fields of a book or chapter, as our exports write one ('reference_type' 'chapter' or
    'book', the book's title in 'journal'); none for anything else."""
    if reference_type not in ("chapter", "book"):
        return {}
    return {"is_book": True, "book": Book.named(publisher, place, (author_from_name(name) for name in editors))}
