"""JSON Lines (one record per line) → ``Article``: oihwatch's own ``export --format jsonl``.

The same reader takes the normalised corpora researchers pass around in that shape
(``pmid``, ``title``, ``abstract``, ``journal``, ``year``, ``doi``, ``mesh``, and
``publication_types`` or ``pubtypes``), so an export can be loaded into another corpus.
A structured abstract exported as ``LABEL: text`` lines gets its sections back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TextIO

from corpus.article import AbstractSection, Article, MeshHeading
from corpus.errors import InputError
from harvester.dates import iso_date
from harvester.records import OnSkip, Record, Skipped, author_from_name, raise_on_skip

_LABELLED = re.compile(r"^([A-Z][A-Z0-9 ,&/()-]{1,60}):\s+(.*)$")


def parse_jsonl(handle: TextIO, *, name: str = "<jsonl>", on_skip: OnSkip = raise_on_skip) -> Iterator[Record]:
    """Yield an ``Article`` per line with a PMID; a line that is not a JSON object is an ``InputError``."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise InputError(f"{name}: line {number}: expected a JSON object per line")
        pmid = str(data.get("pmid") or "").strip()
        if not pmid.isdigit():
            on_skip(Skipped(name, f"line {number}", "no PMID"))
            continue
        yield article_from_json(pmid, data)


def article_from_json(pmid: str, data: dict) -> Article:
    year = str(data.get("year") or "")[:4]
    return Article(
        pmid=pmid,
        title=_text(data.get("title")),
        abstract_sections=_sections(data.get("abstract") or ""),
        authors=[author_from_name(a) for a in _strings(data.get("authors"))],
        journal=_text(data.get("journal")),
        volume=_text(data.get("volume")),
        issue=_text(data.get("issue")),
        pages=_text(data.get("pages")),
        pub_date=year if year.isdigit() else "",
        pub_date_sort=iso_date(year),
        doi=_text(data.get("doi")),
        mesh=[MeshHeading(term) for term in _strings(data.get("mesh"))],
        keywords=_strings(data.get("keywords")),
        publication_types=_strings(data.get("publication_types", data.get("pubtypes"))),
    )


def _sections(abstract: str) -> list[AbstractSection]:
    sections = []
    for line in abstract.splitlines():
        if not line.strip():
            continue
        match = _LABELLED.match(line.strip())
        if match:
            sections.append(AbstractSection(match.group(2), match.group(1)))
        else:
            sections.append(AbstractSection(" ".join(line.split())))
    return sections


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value else ""


def _strings(value: object) -> list[str]:
    return [_text(v) for v in value if v] if isinstance(value, list) else []
