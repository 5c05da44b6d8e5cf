"""One ``<PubmedArticle>`` or ``<PubmedBookArticle>`` element → ``Article``: pure mapping, no I/O.

Paths are explicit and relative to the record (``PubmedData/ArticleIdList``, never ``.//ArticleId``):
the reference list of a record carries its own ``ArticleIdList``s, and a descendant search
would take a cited paper's DOI for the record's own. Elements a later DTD adds are ignored,
because we only ever ask for the ones we know.
"""

from __future__ import annotations

import re

from lxml import etree

from corpus.article import AbstractSection, Article, Author, Book, Link, MeshHeading
from harvester.dates import iso_date, printed_date, sort_date
from harvester.text import one_line

# 'Cites' links are the reference list of old records (thousands per file): they say nothing
# about the article's standing, and the raw XML keeps them for anyone who needs them.
_IGNORED_LINKS = frozenset({"Cites"})
_HISTORY_EVENTS = frozenset({"entrez", "pubmed"})

_MATHML = "{http://www.w3.org/1998/Math/MathML}"
_MATH = _MATHML + "math"
_NUMBER_MARKUP = ("sup", "sub", _MATH)
# MathML's token elements hold what a reader sees; the text between the other elements is layout.
_MATH_TOKENS = frozenset({"mi", "mn", "mo", "mtext", "ms"})
# A mark set over a letter (<mover>) as the combining character that puts it there: V̇O2 (a rate), x̄ (a mean).
_ACCENTS = {".": "\u0307", "˙": "\u0307", "¯": "\u0304", "‾": "\u0304", "^": "\u0302", "ˆ": "\u0302", "~": "\u0303", "˜": "\u0303"}
# A script that would run into the number before it: 10<sup>6</sup>, 10<sup>-3</sup>; not CD4<sup>+</sup> or 19<sup>th</sup>.
_NUMERIC_SCRIPT = re.compile(r"[-+−–]?\d")


def text_of(element: etree._Element | None) -> str:
    """All text inside an element with inline markup (<i>, <sup>, MathML) dropped, whitespace normalised;
    a superscript, subscript or MathML is written so that dropping its tags changes no number (``_inline_text``)."""
    if element is None:
        return ""
    # Most elements are leaves; itertext() costs several times more than .text (measured in benchmarks/parse.py).
    if not len(element):
        text = element.text
    elif next(element.iter(*_NUMBER_MARKUP), None) is None:
        text = "".join(element.itertext())
    else:
        text = _inline_text(element)
    if not text:
        return ""
    # Already-clean text (most names and MeSH terms) skips the split/join.
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    return one_line(text)


def _inline_text(element: etree._Element) -> str:
    """The text of an element that holds superscripts, subscripts or MathML.

    Joined bare, "10<sup>6</sup> MSCs" (PMID 29527264) would read "106 MSCs": a script after a digit is
    written as NLM's own plain text writes it, "10(6)", and every other one as before ("Ca2+", "m2",
    "CO2"), so search and the classifier see the same words. MathML is read as its tokens' text, without
    the layout between them: "V̇O2max" and "3He" (PMIDs 30108519, 29963580), not "V . O 2 m a x", "He 3".
    Only non-empty pieces go into ``out``, so its last piece ends with the last character written.
    """
    out: list[str] = []
    _write_inline(element, out)
    return "".join(out)


def _write_inline(element: etree._Element, out: list[str]) -> None:
    """Append the text inside ``element`` (what ``itertext`` gives: comments left out) to ``out``."""
    if element.text:
        out.append(element.text)
    for child in element:
        if child.tag == _MATH:
            _write_math(child, out)
        elif child.tag in ("sup", "sub"):
            _write_script("".join(child.itertext()), out)
        elif isinstance(child.tag, str):
            _write_inline(child, out)
        if child.tail:
            out.append(child.tail)


def _write_script(script: str, out: list[str]) -> None:
    """Append a superscript or subscript, in parentheses where it follows a digit and starts a number."""
    if out and out[-1][-1].isdecimal() and _NUMERIC_SCRIPT.match(script):
        out.append(f"({script})")
    elif script:
        out.append(script)


def _write_math(element: etree._Element, out: list[str]) -> None:
    """Append the text of a MathML element: tokens as they are, scripts after their base (prescripts
    before it), an accent over its letter, a fraction as 'a/b'; anything else as its children's text."""
    name = element.tag.removeprefix(_MATHML)
    if name in _MATH_TOKENS:
        if element.text:
            out.append(element.text)
        return
    children = [child for child in element if isinstance(child.tag, str)]
    if name in ("msub", "msup", "msubsup", "mmultiscripts") and children:
        names = [child.tag.removeprefix(_MATHML) for child in children]
        end = names.index("mprescripts") if "mprescripts" in names else len(children)
        out.extend(filter(None, map(_math_text, children[end + 1:])))
        _write_math(children[0], out)
        for script in children[1:end]:
            _write_script(_math_text(script), out)
    elif name == "mover" and len(children) == 2 and (accent := _ACCENTS.get(_math_text(children[1]))):
        _write_math(children[0], out)
        out.append(accent)
    elif name == "mfrac" and len(children) == 2:
        out.append("/".join(map(_math_text, children)))
    else:
        for child in children:
            _write_math(child, out)


def _math_text(element: etree._Element) -> str:
    """The text of a MathML element on its own (a script, an accent, one side of a fraction)."""
    out: list[str] = []
    _write_math(element, out)
    return "".join(out)


def article_from_element(record: etree._Element) -> Article:
    """Map a PubMed record element; ``pmid`` is '' when the record has none (the caller skips it)."""
    if record.tag == "PubmedBookArticle":
        article = _book_article(record)
    else:
        article = _journal_article(record)
    article.raw_xml = etree.tostring(record, encoding="unicode", with_tail=False)
    return article


def _journal_article(record: etree._Element) -> Article:
    # Children are looked up through one-pass indexes rather than ~40 find() calls: each
    # find() costs about as much as indexing a whole element (benchmarks/parse.py).
    parts = _index(record)
    citation_element = parts.get("MedlineCitation")
    if citation_element is None:
        return Article(pmid="")
    citation = _index(citation_element)
    art_element = citation.get("Article")
    art = _index(art_element)
    journal = _index(art.get("Journal"))
    issue = _index(journal.get("JournalIssue"))
    pubmed_data = parts.get("PubmedData")
    history = _history(pubmed_data)
    ids = _article_ids(pubmed_data)
    pmid_element = citation.get("PMID")
    pub_date, pub_date_sort = _pub_date(issue.get("PubDate"))
    return Article(
        pmid=text_of(pmid_element),
        version=_version(pmid_element),
        title=text_of(art.get("ArticleTitle")),
        abstract_sections=_sections(art.get("Abstract")),
        authors=_authors(art.get("AuthorList")),
        journal=text_of(journal.get("Title")),
        journal_abbrev=text_of(journal.get("ISOAbbreviation")) or text_of(_index(citation.get("MedlineJournalInfo")).get("MedlineTA")),
        issn=text_of(journal.get("ISSN")),
        volume=text_of(issue.get("Volume")),
        issue=text_of(issue.get("Issue")),
        pages=_pages(art.get("Pagination")),
        pub_date=pub_date,
        pub_date_sort=pub_date_sort or _fallback_sort_date(art.get("ArticleDate"), history),
        created=_date(citation.get("DateCreated")) or _created(history),
        entrez_date=_entrez_date(history),
        revised=_date(citation.get("DateRevised")),
        doi=ids.get("doi") or _elocation_doi(art_element),
        pmcid=ids.get("pmc", ""),
        languages=_texts(art_element, "Language"),
        vernacular_title=text_of(art.get("VernacularTitle")),
        other_abstracts=[s for other in citation_element.iterfind("OtherAbstract") for s in _sections(other)],
        mesh=[_mesh(h) for h in _items(citation.get("MeshHeadingList"), "MeshHeading")],
        keywords=_keywords(citation_element),
        publication_types=_texts(art.get("PublicationTypeList"), "PublicationType"),
        links=_links(citation.get("CommentsCorrectionsList")),
        status=citation_element.get("Status", ""),
    )


def _book_article(record: etree._Element) -> Article:
    """A PubMed Bookshelf record (GeneReviews, StatPearls ...): the book plays the journal.

    A chapter's date is the date it was contributed (ContributionDate), which PubMed's citation gives
    ('CACNA1C-Related Disorders. 2006 Feb 15 [updated 2024 Dec 19]. In: ... GeneReviews®'), not the
    book's PubDate, the year a series such as GeneReviews began (1993); a whole book has the book's.
    """
    document_element = _index(record).get("BookDocument")
    if document_element is None:
        return Article(pmid="")
    document = _index(document_element)
    book_element = document.get("Book")
    book = _index(book_element)
    book_data = _index(record).get("PubmedBookData")
    history = _history(book_data)
    ids = {**_article_ids(document_element), **_article_ids(book_data)}
    pmid_element = document.get("PMID")
    chapter = text_of(document.get("ArticleTitle"))
    pub_date, pub_date_sort = _pub_date(document.get("ContributionDate")) if chapter else ("", "")
    if not pub_date:
        pub_date, pub_date_sort = _pub_date(book.get("PubDate"))
    author_lists = _author_lists(document_element)
    book_lists = _author_lists(book_element)
    return Article(
        pmid=text_of(pmid_element),
        version=_version(pmid_element),
        title=chapter or text_of(book.get("BookTitle")),
        abstract_sections=_sections(document.get("Abstract")),
        authors=_authors(author_lists.get("authors")) or _authors(book_lists.get("authors")),
        journal=text_of(book.get("BookTitle")),
        volume=text_of(book.get("Volume")),
        pub_date=pub_date,
        pub_date_sort=pub_date_sort or _fallback_sort_date(None, history),
        created=_created(history),
        entrez_date=_entrez_date(history),
        revised=_date(document.get("DateRevised")),
        doi=ids.get("doi") or _elocation_doi(document_element),
        pmcid=ids.get("pmc", ""),
        languages=_texts(document_element, "Language"),
        vernacular_title=text_of(document.get("VernacularTitle")),
        keywords=_keywords(document_element),
        publication_types=_texts(document_element, "PublicationType"),
        is_book=True,
        book=_book(_index(book.get("Publisher")), _authors(book_lists.get("editors"))),
    )


def _author_lists(parent: etree._Element | None) -> dict[str, etree._Element]:
    """A book's or chapter's AuthorLists by their Type ('authors', 'editors')."""
    return {} if parent is None else {a.get("Type", "authors"): a for a in parent.iterfind("AuthorList")}


def _book(publisher: dict, editors: list[Author]) -> Book | None:
    """The publisher, its place and the editors of a book; None when the record names none of them."""
    return Book.named(text_of(publisher.get("PublisherName")), text_of(publisher.get("PublisherLocation")), editors)


def _index(element: etree._Element | None) -> dict:
    """The children of an element by tag (the first of each tag); {} for a missing element."""
    index: dict = {}
    if element is not None:
        for child in element:
            index.setdefault(child.tag, child)
    return index


def _items(parent: etree._Element | None, tag: str) -> list[etree._Element]:
    return [] if parent is None else [child for child in parent if child.tag == tag]


def _texts(parent: etree._Element | None, tag: str) -> list[str]:
    return [text for text in map(text_of, _items(parent, tag)) if text]


def _version(pmid: etree._Element | None) -> int:
    version = pmid.get("Version", "1") if pmid is not None else "1"
    return int(version) if version.isdigit() else 1


def _sections(abstract: etree._Element | None) -> list[AbstractSection]:
    """AbstractText paragraphs with Label / NlmCategory; CopyrightInformation is a sibling, so it stays out."""
    if abstract is None:
        return []
    sections = []
    for part in abstract.iterfind("AbstractText"):
        text = text_of(part)
        if text:
            sections.append(AbstractSection(text, one_line(part.get("Label", "")), part.get("NlmCategory", "")))
    return sections


def _authors(author_list: etree._Element | None) -> list[Author]:
    if author_list is None:
        return []
    authors = []
    for author in author_list:
        # ValidYN="N" marks a name NLM printed by mistake and corrected in the same list.
        if author.tag != "Author" or author.get("ValidYN") == "N":
            continue
        # One pass over the children: records of big consortia list hundreds of authors.
        last = fore = initials = collective = ""
        for child in author:
            tag = child.tag
            if tag == "LastName":
                last = text_of(child)
            elif tag == "ForeName" or (tag == "FirstName" and not fore):
                fore = text_of(child)
            elif tag == "Initials":
                initials = text_of(child)
            elif tag == "CollectiveName":
                collective = text_of(child)
        if last or fore or collective:
            authors.append(Author(last, fore, initials, collective))
    return authors


def _pages(pagination: etree._Element | None) -> str:
    parts = _index(pagination)
    medline = text_of(parts.get("MedlinePgn"))
    if medline:
        return medline
    start, end = text_of(parts.get("StartPage")), text_of(parts.get("EndPage"))
    return f"{start}-{end}" if start and end and end != start else start


def _pub_date(pub_date: etree._Element | None) -> tuple[str, str]:
    """(as printed, sortable) from a PubDate: Year/Month/Day, Year/Season, or a free MedlineDate."""
    parts = _index(pub_date)
    medline_date = text_of(parts.get("MedlineDate"))
    if medline_date:
        return medline_date, sort_date(medline_date)
    year, month, day, season = (text_of(parts.get(t)) for t in ("Year", "Month", "Day", "Season"))
    return printed_date(year, month, day, season), iso_date(year, month or season, day)


def _fallback_sort_date(article_date: etree._Element | None, history: dict[str, str]) -> str:
    """A PubDate without a year: the electronic publication date, else the year of the Entrez date."""
    electronic = _date(article_date)
    if electronic:
        return electronic
    entrez = _entrez_date(history)
    return f"{entrez[:4]}-01-01" if entrez else ""


def _date(element: etree._Element | None) -> str:
    if element is None:
        return ""
    parts = {child.tag: child.text or "" for child in element}
    return iso_date(parts.get("Year", ""), parts.get("Month", ""), parts.get("Day", ""))


def _history(data: etree._Element | None) -> dict[str, str]:
    """The ISO dates of the History events we keep ('entrez', 'pubmed'); the raw XML keeps the rest."""
    if data is None:
        return {}
    events: dict[str, str] = {}
    for event in _index(data).get("History", ()):
        status = event.get("PubStatus")
        if status in _HISTORY_EVENTS:
            date = _date(event)
            if date:
                events[status] = min(date, events.get(status, date))
    return events


def _created(history: dict[str, str]) -> str:
    """The create date (crdt) for DTDs without DateCreated (2018 on): the History 'entrez' event.

    Not the earliest of the 'pubmed' and 'entrez' events. The 'entrez' event carries the real
    creation timestamp (e.g. 18:23 on 2022-06-01 for 35649368, whose 'pubmed' event is 06:00
    the next morning, PubMed's usual Entrez-date time); for a record added late, PubMed
    backdates the Entrez date (edat) to the publication date, and that is the 'pubmed' event:
    38884108, a 2022 paper added in June 2024, has pubmed=2022-01-01 00:00 and
    entrez=2024-06-17 06:17. The earliest would report 2022, before the record existed.
    """
    return history.get("entrez", "") or history.get("pubmed", "")


def _entrez_date(history: dict[str, str]) -> str:
    """The Entrez date (edat) PubMed displays: the 'pubmed' event (backdated for late records, see ``_created``)."""
    return history.get("pubmed", "") or history.get("entrez", "")


def _article_ids(parent: etree._Element | None) -> dict[str, str]:
    """IdType → id of the record's own ArticleIdList (doi, pmc, pii ...), the first of each type."""
    ids: dict[str, str] = {}
    for article_id in _items(_index(parent).get("ArticleIdList"), "ArticleId"):
        ids.setdefault(article_id.get("IdType", ""), text_of(article_id))
    return ids


def _elocation_doi(parent: etree._Element | None) -> str:
    if parent is None:
        return ""
    for location in parent.iterfind("ELocationID"):
        if location.get("EIdType") == "doi" and location.get("ValidYN", "Y") == "Y":
            return text_of(location)
    return ""


def _mesh(heading: etree._Element) -> MeshHeading:
    """A heading is major when the descriptor or any qualifier is starred, as PubMed's [majr] search reads it."""
    descriptor, ui, major, qualifiers = "", "", False, []
    for child in heading:
        tag = child.tag
        if tag == "QualifierName":
            if child.get("MajorTopicYN") == "Y":
                qualifiers.append(text_of(child) + "*")
                major = True
            else:
                qualifiers.append(text_of(child))
        elif tag == "DescriptorName":
            descriptor, ui = text_of(child), child.get("UI", "")
            major = major or child.get("MajorTopicYN") == "Y"
    return MeshHeading(descriptor, ui, major, tuple(qualifiers))


def _keywords(parent: etree._Element) -> list[str]:
    """Author and NLM keywords from every KeywordList, in order, each once."""
    keywords = (text_of(k) for k in parent.iterfind("KeywordList/Keyword"))
    return list(dict.fromkeys(k for k in keywords if k))


def _links(corrections: etree._Element | None) -> list[Link]:
    links = []
    for link in _items(corrections, "CommentsCorrections"):
        kind = link.get("RefType", "")
        if kind and kind not in _IGNORED_LINKS:
            parts = _index(link)
            links.append(Link(kind, text_of(parts.get("PMID")), text_of(parts.get("RefSource"))))
    return links
