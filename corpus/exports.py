"""Records for researchers: one flat dict per article, written as JSONL, CSV, RIS or BibTeX.

``article_record`` is the one shape every output shares (and the JSONL contract of
DESIGN.md). RIS and BibTeX go through rispy and bibtexparser so reference managers
(Zotero, EndNote, Mendeley, JabRef) read them back; our topics and study type travel
as keywords and notes. Each record names the notices about the paper that the digest warns of
(erratum, expression of concern, partial retraction, corrected and republished, retracted and
replaced, and the retraction notice itself), in the digest's words where a person reads them.
Each tag, and the relevance, says who decided it (model, rule or curator), and a tag where a
person reads it says how sure it is as the digest does ('curated', 'likely', 'possible').
Writers stream in chunks, so an export of the whole corpus runs in bounded memory.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TextIO

import rispy
from bibtexparser.bibdatabase import BibDatabase
from bibtexparser.bwriter import BibTexWriter

from corpus.article import MONTHS, WARNING_LINKS, AbstractSection, Article, Author, Book, MeshHeading, notice_words
from corpus.evidence import STUDY_TYPES
from corpus.store import Store
from corpus.tags import RELEVANCE, Classification, load_classifications, load_labels

CSV_COLUMNS = (
    "pmid", "title", "authors", "journal", "year", "volume", "issue", "pages", "doi", "pmcid",
    "topics", "scores", "relevance", "study_type", "retracted", "key_finding",
    "mesh", "keywords", "publication_types", "language", "url", "abstract",
    "journal_abbrev", "pub_date", "collective_authors",  # last: scripts that read the columns before by position still work
    "reference_type", "publisher", "place", "editors",
    "notices",  # after every older column, for the same reason
    "tags", "tag_sources", "relevance_source",  # and after those
)  # fmt: skip
# What a record is to a reference manager ('reference_type'), with its RIS type and BibTeX entry type:
# a Bookshelf record is a chapter of its book (GeneReviews) or a whole book. A record without a journal
# (or book) to name is RIS's GEN and BibTeX's misc.
REFERENCE_TYPES = {"article": ("JOUR", "article"), "chapter": ("CHAP", "incollection"), "book": ("BOOK", "book")}
CHUNK = 500
# LaTeX's special characters, escaped so a title with "50%" or "&" compiles. Braces
# become commands, not \{ \}: BibTeX (and bibtexparser) count braces even when escaped,
# and a lone one in a chemistry title swallows the rest of the file.
_LATEX = {"\\": r"\textbackslash{}", "%": r"\%", "&": r"\&", "_": r"\_", "#": r"\#",
          "$": r"\textdollar{}", "~": r"\textasciitilde{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}"}  # fmt: skip
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX))
# Between BibTeX keywords: many MeSH headings hold a comma ("Analgesics, Opioid"), so a comma-separated
# list would split them. Semicolons survive bibtexparser's reading (braces around a heading do not: its
# LaTeX decoding drops them), and JabRef and biber can be told to split on them (see docs/sharing.md).
BIBTEX_KEYWORD_SEPARATOR = "; "
# A word of a title, as BibTeX styles change its case: hyphens separate words too.
_TITLE_WORD = re.compile(r"[^\s-]+")


def author_name(author: Author) -> str:
    """'Last, Fore' as RIS and BibTeX want it; a group author as it is."""
    if author.collective:
        return author.collective
    if not author.last:
        return author.fore
    return f"{author.last}, {author.fore or author.initials}".rstrip(", ")


def mesh_heading(heading: MeshHeading) -> dict:
    """A heading with its flags, beside the plain ``mesh`` names so readers of those keep working;
    a qualifier's major flag is spelt out, not the model's trailing '*'."""
    qualifiers = [{"name": q.removesuffix("*"), "major": q.endswith("*")} for q in heading.qualifiers]
    return {"descriptor": heading.descriptor, "ui": heading.ui, "major": heading.major, "qualifiers": qualifiers}


def abstract_section(section: AbstractSection) -> dict:
    """A paragraph of an abstract with its label and NLM category, beside the 'LABEL: text' lines of ``abstract``:
    the key finding goes by the category ('INTERPRETATION' is CONCLUSIONS), which those lines cannot hold."""
    return {"label": section.label, "category": section.category, "text": section.text}


def reference_type(article: Article) -> str:
    """'chapter' for a Bookshelf record with a title of its own, 'book' for a whole book (the book's title is
    its own), 'article' for the rest."""
    if not article.is_book:
        return "article"
    return "chapter" if article.title != article.journal else "book"


# Who decided a tag or a relevance, in the words of the store's tags.source.
MODEL, RULE, CURATOR = "model", "rule", "curator"
LIKELY = 0.5  # the model's calibrated probability from which a tag reads "likely"


def tag_confidence(score: float, source: str) -> str:
    """How sure we are of a tag, in a word, not a number: 'curated' (a person checked it), else 'likely' or
    'possible'. Thresholds favour recall and a keyword rule tags whatever the model says, so "13%" beside a
    tag would contradict it, while "possible" says what it is. The digest, the web view and the exports say it so."""
    if source == CURATOR:
        return "curated"
    return "likely" if score >= LIKELY else "possible"


@dataclass(frozen=True)
class RelevanceSources:
    """Who decided each record's OIH relevance, which the store keeps as a number only (a topic's tag keeps its
    source): a curator where ``classify`` applied one of the curated labels in force (``curated``: PMID -> about
    OIH), else the model, or the relevance rule when the model scores no relevance (``otherwise``). The store's
    labels are not all of them: the classifier ships labels of its own, which the application adds
    (``oihwatch.provenance``)."""

    curated: Mapping[str, bool] = field(default_factory=dict)
    otherwise: str = MODEL

    @classmethod
    def from_labels(cls, labels: Mapping[str, Mapping[str, bool]], otherwise: str = MODEL) -> RelevanceSources:
        """From curated labels by PMID, each {topic or 'oih': bool} (``corpus.tags.load_labels``)."""
        return cls({pmid: said[RELEVANCE] for pmid, said in labels.items() if RELEVANCE in said}, otherwise)

    def of(self, pmid: str, relevance: float | None) -> str | None:
        """The source of a record's ``relevance`` (None: not classified). A label recorded since the record was
        classified is not its relevance yet, which is still the model's, as a topic's tag is."""
        if relevance is None:
            return None
        said = self.curated.get(pmid)
        return CURATOR if said is not None and relevance == float(said) else self.otherwise


def article_record(article: Article, classification: Classification | None = None, relevance_source: str | None = None) -> dict:
    """The flat record of one article; tag fields are empty or null when it is not classified, and the
    book fields (publisher, place, editors) when it is not a book or chapter that names them.
    ``tag_sources`` says who decided each scored topic (as ``scores``), and ``relevance_source`` who decided
    the relevance, which the classification does not say (``RelevanceSources.of``).

    ``abstract_sections``, ``vernacular_title`` and ``other_abstracts`` are there for another oihwatch that
    reads the record back (``harvester.jsonl``); CSV, RIS and BibTeX leave them out.

    ``notices`` are the paper's links to the notices the digest warns of (``WARNING_LINKS``). The store
    keeps a notice stored on its own as such a link of the paper it concerns, whichever came first, so
    the article read here, a chunk at a time, holds them all, as the digest's reads do."""
    c = classification
    book = article.book or Book()
    return {
        "pmid": article.pmid,
        "reference_type": reference_type(article),
        "title": article.title,
        "vernacular_title": article.vernacular_title,
        "abstract": article.abstract,
        "abstract_sections": [abstract_section(s) for s in article.abstract_sections],
        "other_abstracts": [abstract_section(s) for s in article.other_abstracts],
        "authors": [author_name(a) for a in article.authors],
        "collective_authors": [a.collective for a in article.authors if a.collective],
        "journal": article.journal,
        "journal_abbrev": article.journal_abbrev,
        "publisher": book.publisher,
        "place": book.place,
        "editors": [author_name(e) for e in book.editors],
        "year": article.year,
        "pub_date": article.pub_date,
        "volume": article.volume,
        "issue": article.issue,
        "pages": article.pages,
        "doi": article.doi,
        "pmcid": article.pmcid,
        "language": list(article.languages),
        "mesh": article.mesh_terms,
        "mesh_headings": [mesh_heading(m) for m in article.mesh],
        "keywords": list(article.keywords),
        "publication_types": list(article.publication_types),
        "topics": c.assigned_topics if c else [],
        "scores": c.scores if c else {},
        "tag_sources": {t.topic: t.source for t in c.topics} if c else {},
        "relevance": c.relevance if c else None,
        "relevance_source": relevance_source if c else None,
        "study_type": c.study_type if c else None,
        "retracted": article.retracted,
        "notices": [dict(vars(link)) for link in article.links if link.kind in WARNING_LINKS],
        "key_finding": c.key_finding if c else "",
        "url": article.pubmed_url,
    }


def iter_records(store: Store, pmids: Iterable[str], relevance: RelevanceSources | None = None) -> Iterator[dict]:
    """Records of ``pmids`` in the order given, read a chunk at a time; ``relevance`` says who decided each
    relevance (by default, what the store alone knows: its own labels, the rest the model's)."""
    sources = RelevanceSources.from_labels(load_labels(store)) if relevance is None else relevance
    iterator = iter(pmids)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        articles = {a.pmid: a for a in store.iter_articles(chunk)}
        classifications = load_classifications(store, chunk)
        for pmid in chunk:
            if pmid in articles:
                c = classifications.get(pmid)
                yield article_record(articles[pmid], c, sources.of(pmid, c.relevance if c else None))


def split_pages(pages: str) -> tuple[str, str]:
    """First and last page of MEDLINE's pagination, the abbreviated end written out: '1123-9' -> ('1123', '1129'),
    'S66-81' -> ('S66', 'S81'), '100-4; discussion 104-5' -> ('100', '104'); see ``page_range``."""
    first, last, _ = page_range(pages)
    return first, last


# A page as MEDLINE prints the start of a range: an optional letter prefix (S for a supplement, E, e, OL...) and digits.
_PREFIXED_PAGE = re.compile(r"([A-Za-z]*)([0-9]+)")
# Where a compound pagination ('167-70, 173, 176-9', '100-4; discussion 104-5') goes on after its first range.
_MORE_PAGES = re.compile(r"[;,]")


def page_range(pages: str) -> tuple[str, str, bool]:
    """First page, last page, and whether ``pages`` goes on after that first range.

    MEDLINE shortens an end page to the digits that change and drops its prefix: '1123-9' is
    1123-1129, 'S66-81' is S66-S81, 'e250-1' is e250-e251. Of a compound pagination the first
    range is the pages (a reference manager has one range); the caller keeps the whole string
    where there is room for it. A range it cannot read ('12-14-16') stays whole as the first
    page, with no last page, rather than a wrong one.
    """
    head = _MORE_PAGES.split(pages, maxsplit=1)
    more = len(head) > 1 and bool(head[1].strip())
    first, sep, last = (part.strip() for part in head[0].partition("-"))
    if not sep:
        return first, "", more
    if not first or not last or "-" in last or " " in first + last:
        return pages.strip(), "", False
    start = _PREFIXED_PAGE.fullmatch(first)
    if start and last.isdigit():
        prefix, digits = start.groups()
        last = prefix + digits[: max(len(digits) - len(last), 0)] + last
    return first, last, more


TAG_PREFIX = "oihwatch:"  # our tags among a record's keywords; readers drop them on import
RETRACTED_TAG = f"{TAG_PREFIX}retracted"  # the one tag that is a fact about the paper


def tag_keywords(record: dict) -> list[str]:
    """Our tags as reference-manager keywords: 'oihwatch:topic:ketamine', 'oihwatch:study:rct'."""
    words = [f"{TAG_PREFIX}topic:{t}" for t in record["topics"]]
    if record["study_type"]:
        words.append(f"{TAG_PREFIX}study:{record['study_type']}")
    if record["retracted"]:
        words.append(RETRACTED_TAG)
    return words


def reference_keywords(record: dict) -> list[str]:
    """A reference manager's keywords: our tags, the MeSH headings, then the author keywords (RIS and BibTeX alike)."""
    return tag_keywords(record) + record["mesh"] + record["keywords"]


def record_tags(record: dict) -> list[tuple[str, str]]:
    """Each assigned topic with its confidence in a word: [('ketamine', 'curated'), ('tapering', 'likely')]."""
    return [(topic, tag_confidence(record["scores"][topic], record["tag_sources"][topic])) for topic in record["topics"]]


def topic_note(record: dict, topic: str) -> str:
    """'ketamine 1.00 assigned (curated)', 'tapering 0.12', and a curator's no: 'genetics 0.00 not assigned (curated)'."""
    score, source = record["scores"][topic], record["tag_sources"][topic]
    if topic in record["topics"]:
        return f"{topic} {score:.2f} assigned ({tag_confidence(score, source)})"
    return f"{topic} {score:.2f}" + (" not assigned (curated)" if source == CURATOR else "")


def notice_texts(record: dict) -> list[str]:
    """The record's notices in the digest's words: 'Erratum published (PMID 35767954)'."""
    return [notice_words(n["kind"], n["pmid"], n["source"]) for n in record["notices"]]


def record_notes(record: dict) -> list[str]:
    """Human-readable notes: retraction warning and the notices, study type, relevance and topics with their
    scores and who decided them, key finding."""
    notes = []
    if record["retracted"]:
        notes.append("RETRACTED: this article has been retracted; see PubMed.")
    notes += notice_texts(record)
    if record["study_type"]:
        notes.append(f"Study type: {STUDY_TYPES.get(record['study_type'], record['study_type'])}")
    if record["relevance"] is not None:
        curated = " (curated)" if record["relevance_source"] == CURATOR else ""
        notes.append(f"oihwatch OIH relevance: {record['relevance']:.2f}{curated}")
    if record["scores"]:
        notes.append(f"oihwatch topics: {', '.join(topic_note(record, topic) for topic in record['scores'])}")
    if record["key_finding"]:
        notes.append(f"Key finding: {record['key_finding']}")
    if page_range(record["pages"])[2]:  # the pages fields hold its first range only
        notes.append(f"Pages: {record['pages']}")
    return notes


class _RisWriter(rispy.RisWriter):
    """rispy's writer without its '1.' counter line, which some reference managers show as junk."""

    def set_header(self, count: int) -> str:
        return ""


def _one_line(text: str) -> str:
    """RIS values end at a newline, so a structured abstract's sections go on one line."""
    return " ".join(text.split("\n"))


def ris_group_name(name: str) -> str:
    """A collective author as one RIS name: readers take 'A, B' for surname and first name, so its commas
    become semicolons ('Task and Finish Group for Urinalysis (TFG-U); European Federation of ...')."""
    return name.replace(",", ";")


# A printed date: its year, then its month and day where PubMed printed them as such ('1976 Sep 28',
# '2002 Sep'), then whatever else it says ('Spring', 'Dec-1999 Jan', the '5' of 'Dec 5').
_PRINTED_DATE = re.compile(rf"(\d{{4}})(?: ({'|'.join(MONTHS)})(?: (\d{{1,2}}))?)?(?=\s|$)\s*(.*)")


def ris_date(printed: str) -> str:
    """RIS's DA, 'YYYY/MM/DD/other', of a date as printed: '1976 Sep 28' → '1976/09/28/', '2002 Sep' →
    '2002/09//', '2003 Spring' → '2003///Spring', '1998 Dec-1999 Jan' → '1998///Dec-1999 Jan' (so the
    reader gives back the printed date whole); '' when it does not start with a year (PY has the year)."""
    match = _PRINTED_DATE.fullmatch(printed)
    if not match:
        return ""
    year, month, day, other = match.groups()
    day = day.zfill(2) if day else ""  # RIS readers take only two digits for the day
    return f"{year}/{MONTHS.index(month) + 1:02d}/{day}/{other}" if month else f"{year}///{other}"


def ris_entry(record: dict) -> dict:
    """A rispy entry: authors, title, journal (a chapter's book in T2, with editors, publisher and place),
    year and date, volume, issue, pages, DOI, PMID, PMCID, abstract, URL, tags, publication types (a notice
    stays a notice in the store that reads it back)."""
    first, last = split_pages(record["pages"])
    collective = set(record["collective_authors"])
    kind = record["reference_type"]
    entry = {
        "type_of_reference": REFERENCE_TYPES[kind][0] if record["journal"] else "GEN",
        "authors": [ris_group_name(n) if n in collective else n for n in record["authors"]],
        "title": _one_line(record["title"]),
        "journal_name": record["journal"] if kind == "article" else "",
        "secondary_title": record["journal"] if kind == "chapter" else "",  # T2: the book of a chapter
        "secondary_authors": record["editors"],  # A2
        "publisher": record["publisher"],
        "place_published": record["place"],  # CY
        "alternate_title2": record["journal_abbrev"],
        "year": str(record["year"] or ""),
        "date": ris_date(record["pub_date"]),
        "volume": record["volume"],
        "number": record["issue"],
        "start_page": first,
        "end_page": last,
        "doi": record["doi"],
        "accession_number": record["pmid"],
        "custom2": record["pmcid"],  # C2: the PMCID field of EndNote's and Zotero's journal articles
        "name_of_database": "PubMed",
        "abstract": _one_line(record["abstract"]),
        "urls": [record["url"]],
        "keywords": reference_keywords(record),
        "notes": [_one_line(n) for n in [f"PMID: {record['pmid']}", *record_notes(record)]],
        "language": "; ".join(record["language"]),
        "type_of_work": "; ".join(record["publication_types"]),  # M3, as PubMed's own RIS export writes them
    }
    return {key: value for key, value in entry.items() if value}


def latex_escape(text: str) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX[m.group()], text)


def bibtex_doi(doi: str) -> str:
    """The DOI with its braces percent-encoded, as in its doi.org link ('10.1000/a}b' → '10.1000/a%7Db', which
    resolves to the same paper). A DOI may hold any printable character, and a brace left as it is ends the
    field early or swallows the entries after it (bibtexparser drops them without a word). LaTeX's escapes
    are no help here: biblatex reads ``doi`` verbatim, into a URL, so they would be printed as they are."""
    return doi.replace("{", "%7B").replace("}", "%7D")


def protect_case(title: str) -> str:
    """Braces around each word with a capital, so a sentence-case style keeps 'NMDA', 'OPRM1', 'Parkinson'.

    PubMed titles are mostly in sentence case already: a capital after the first letter is
    an acronym, a gene or a name. The first word's leading capital needs no braces (styles
    keep it). bibtexparser's ``protect_uppercase`` braces single letters ('{N}M{D}A'), which
    breaks kerning and misses every other capital of a run.
    """

    def protect(match: re.Match) -> str:
        word = match.group()
        letters = [c for c in word if c.isalpha()]
        capitals = letters[1:] if match.start() == 0 else letters
        return f"{{{word}}}" if any(c.isupper() for c in capitals) else word

    return _TITLE_WORD.sub(protect, title)


def bibtex_entry(record: dict) -> dict:
    """A bibtexparser entry (values LaTeX-escaped, but the DOI: ``bibtex_doi``; UTF-8 kept: biber, Zotero and JabRef
    read it); a chapter is an @incollection in its booktitle, with editor, publisher and address."""
    first, last = split_pages(record["pages"])
    collective = set(record["collective_authors"])
    names = [f"{{{latex_escape(n)}}}" if n in collective else latex_escape(n) for n in record["authors"]]
    kind = record["reference_type"]
    fields = {
        "author": " and ".join(names),
        "title": protect_case(latex_escape(record["title"])),
        "journal": latex_escape(record["journal"]) if kind == "article" else "",
        "booktitle": latex_escape(record["journal"]) if kind == "chapter" else "",
        "editor": " and ".join(latex_escape(n) for n in record["editors"]),
        "publisher": latex_escape(record["publisher"]),
        "address": latex_escape(record["place"]),
        "year": str(record["year"] or ""),
        "volume": latex_escape(record["volume"]),
        "number": latex_escape(record["issue"]),
        "pages": latex_escape(f"{first}--{last}" if last else first),
        "doi": bibtex_doi(record["doi"]),
        "pmid": record["pmid"],
        "abstract": latex_escape(record["abstract"]),
        "url": record["url"],
        "keywords": BIBTEX_KEYWORD_SEPARATOR.join(latex_escape(k) for k in reference_keywords(record)),
        "note": latex_escape("; ".join(record_notes(record))),
    }
    entry = {key: value for key, value in fields.items() if value}
    entry["ENTRYTYPE"] = REFERENCE_TYPES[kind][1] if record["journal"] else "misc"
    entry["ID"] = f"pmid{record['pmid']}"
    return entry


# How a cell that a spreadsheet runs as a formula starts (OWASP's list for CSV injection: '=', '+', '-', '@', tab,
# carriage return), after any quotes that ``spreadsheet_text`` put there: the quotes make the round trip exact.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def spreadsheet_text(text: str) -> str:
    """A quote before text that a spreadsheet would run as a formula ('=HYPERLINK(...)', '-1+2', '@SUM(A1)'):
    Excel and Calc then show the text, the quote with it, and evaluate nothing. Text that starts with quotes
    before such a character gets one more, so ``from_spreadsheet_text`` gives every value back as it was."""
    return "'" + text if _FORMULA_START.match(text) else text


def from_spreadsheet_text(cell: str) -> str:
    """A cell of our CSV export as the record holds it: the quote ``spreadsheet_text`` put in front taken off."""
    return cell[1:] if cell.startswith("'") and _FORMULA_START.match(cell) else cell


def csv_row(record: dict) -> dict:
    """A spreadsheet row: lists joined with '; ', scores as 'topic=0.93' and their sources as 'topic=curator',
    notices and tags in words ('ketamine (curated); tapering (likely)'), no formulas (``spreadsheet_text``)."""
    row = {}
    for column in CSV_COLUMNS:
        value = None if column == "tags" else record[column]  # the tags are words of several fields
        if column == "scores":
            value = "; ".join(f"{t}={s:.3f}" for t, s in value.items())
        elif column == "tag_sources":
            value = "; ".join(f"{t}={s}" for t, s in value.items())
        elif column == "tags":
            value = "; ".join(f"{topic} ({word})" for topic, word in record_tags(record))
        elif column == "notices":
            value = "; ".join(notice_texts(record))
        elif isinstance(value, list):
            value = "; ".join(value)
        elif value is None:
            value = ""
        row[column] = spreadsheet_text(value) if isinstance(value, str) else value
    return row


def write_jsonl(records: Iterable[dict], out: TextIO) -> int:
    count = 0
    for count, record in enumerate(records, start=1):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return count


def write_csv(records: Iterable[dict], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for count, record in enumerate(records, start=1):
        writer.writerow(csv_row(record))
    return count


def write_ris(records: Iterable[dict], out: TextIO) -> int:
    return _write_chunks(records, out, lambda chunk: rispy.dumps([ris_entry(r) for r in chunk], implementation=_RisWriter))


def write_bibtex(records: Iterable[dict], out: TextIO) -> int:
    writer = BibTexWriter()
    writer.order_entries_by = None  # keep the search ranking

    def dump(chunk: list[dict]) -> str:
        database = BibDatabase()
        database.entries = [bibtex_entry(r) for r in chunk]
        return writer.write(database)

    return _write_chunks(records, out, dump)


def _write_chunks(records: Iterable[dict], out: TextIO, dump: Callable[[list[dict]], str]) -> int:
    count = 0
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        out.write(dump(chunk))
        count += len(chunk)
    return count


WRITERS: dict[str, Callable[[Iterable[dict], TextIO], int]] = {
    "jsonl": write_jsonl,
    "csv": write_csv,
    "ris": write_ris,
    "bibtex": write_bibtex,
}
