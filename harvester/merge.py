"""A record read from a partial file, merged into the copy already stored.

Only PubMed XML holds a whole record: it replaces the stored copy (under the store's own
rules). MEDLINE text, RIS, CSV and JSON Lines carry some fields, often in a poorer form (a
year for a date, MeSH names without their flags, an abstract on one line), so ``merge``
goes field by field:

- a field the file leaves empty keeps the stored value (a row with only a PMID changes nothing);
- a value that says what the stored one says, as far as the file's format can say it, keeps
  the stored one: the stored date in that year, the same page range written out in full, the
  same words of an abstract, the same author and MeSH names (a changed list keeps the stored
  author or heading of each name it still has);
- an author the file marks a group (our CSV's ``collective_authors``, the group names RIS and other
  CSV files are read with) makes the stored author of that name one, also in a record PubMed
  wrote: an older ingest may have stored it as a person surnamed with the whole name, and a
  MEDLINE file merged over that kept it so; a file that reads a group's name as a person's
  never makes a stored group a person;
- the same abstract given with NLM's section categories (our JSON Lines export) fills the categories of a
  stored abstract that has none;
- a MeSH heading the file gives with more than its name (a UI, the major-topic flag, qualifiers:
  our JSON Lines export's ``mesh_headings``, MEDLINE text) adds that detail to the stored heading
  of that name; a heading given by name only never strips what is stored of it;
- a different value replaces the stored one, except over a record PubMed itself wrote (XML,
  or MEDLINE text: NLM's create date or status is set) from a file PubMed did not: a reference
  manager's or a spreadsheet's copy may be cut short or edited by hand, so it only fills the
  fields PubMed left empty (of a heading, the UI MEDLINE text lacks, or the flags of one stored
  by name only);
- a record stored from PubMed XML is never changed by a file: it can be parsed again from its
  XML, a merge could not.

A file without a MeSH field (RIS, an ASReview CSV whose keywords are not read as MeSH: see
``harvester.csv_table``) may list the headings among its keywords; those keywords name stored
headings and are read as them, not as new keywords.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from functools import partial
from typing import Any

from corpus.article import Article, Author, MeshHeading, content_json, sections_text
from corpus.exports import author_name, split_pages

_NOT_MERGED = {"pmid", "source", "raw_xml", "pub_date_sort"}  # identity, provenance; the sort date goes with pub_date
_EMPTY = Article(pmid="")
_MERGED = [f.name for f in fields(Article) if f.name not in _NOT_MERGED]


def merge(stored: Article, incoming: Article) -> Article:
    """``stored`` updated with what ``incoming`` (read from a file other than PubMed XML) adds or changes."""
    if stored.raw_xml:
        return stored
    fills_only = _from_pubmed(stored) and not _from_pubmed(incoming)
    incoming = _mesh_out_of_keywords(stored, incoming)
    changed = {}
    for name in _MERGED:
        old, new, empty = getattr(stored, name), getattr(incoming, name), getattr(_EMPTY, name)
        if new == empty:
            continue
        if _same(name, stored, incoming):
            if name not in _ITEM_KEYS and not _adds_categories(name, old, new):  # only the same MeSH headings or
                continue  # authors, or the same abstract with its NLM categories, can bring what the stored ones lack
        elif fills_only and old != empty:
            continue
        merged = _keep_known_items(name, old, new, fills_only)
        if merged != old:
            changed[name] = merged
    if "pub_date" in changed:
        changed["pub_date_sort"] = incoming.pub_date_sort
    return replace(stored, **changed, source=incoming.source)


_BARE = content_json(_EMPTY.to_dict())  # an article's content with no PMID and nothing else


def is_bare(article: Article) -> bool:
    """Nothing but a PMID: a merge would change nothing and a new record would hold nothing."""
    return content_json(replace(article, pmid="").to_dict()) == _BARE


def _from_pubmed(article: Article) -> bool:
    """Written by PubMed (XML or MEDLINE text); reference-manager, CSV and JSON Lines files carry neither mark."""
    return bool(article.raw_xml or article.created or article.status)


def _mesh_out_of_keywords(stored: Article, incoming: Article) -> Article:
    if incoming.mesh:
        return incoming
    headings = set(stored.mesh_terms) - set(stored.keywords)
    return replace(incoming, keywords=[k for k in incoming.keywords if k not in headings])


def _same(name: str, stored: Article, incoming: Article) -> bool:
    old, new = getattr(stored, name), getattr(incoming, name)
    if name == "pub_date":
        return _words(old) == _words(new) or (new.isdigit() and new == str(stored.year))
    return _key(name, old) == _key(name, new)


def _adds_categories(name: str, old: Any, new: Any) -> bool:
    """The same abstract given with NLM's section categories (our JSON Lines export) where the stored one has none
    (an older export, MEDLINE text): the categories are detail, as a heading's flags are, and the key finding
    reads them (a 'DISCUSSION' section that NLM calls CONCLUSIONS)."""
    return name == "abstract_sections" and any(s.category for s in new) and not any(s.category for s in old)


# The name that identifies an item of a list field, as every format writes it.
_ITEM_KEYS: dict[str, Callable[[Any], str]] = {
    "authors": lambda author: _words(author_name(author)),
    "mesh": lambda heading: heading.descriptor,
}


def _key(name: str, value: Any) -> object:
    """What a file can say of a field, to tell whether it says what the stored value says."""
    if name in _ITEM_KEYS:
        return [_ITEM_KEYS[name](item) for item in value]
    if name == "pages":
        return split_pages(value)
    if name in ("abstract_sections", "other_abstracts"):
        return _words(sections_text(value))
    return _words(value) if isinstance(value, str) else value


def _keep_known_items(name: str, old: Any, new: Any, fills_only: bool) -> Any:
    """The file's author or MeSH list with the stored item (flags, initials, group name) of each name it has;
    a MeSH heading takes the detail the file adds to it (``_richer_heading``), an author the group flag."""
    if name not in _ITEM_KEYS:
        return new
    item_key = _ITEM_KEYS[name]
    known = {item_key(item): item for item in old}
    richer = partial(_richer_heading, fills_only=fills_only) if name == "mesh" else _group_if_marked
    return [richer(known[item_key(item)], item) if item_key(item) in known else item for item in new]


def _group_if_marked(old: Author, new: Author) -> Author:
    """The file's author when it marks a group the stored author of that name is not; else the stored one (its
    initials, its group flag: a file that reads a group's name as a person's says less, not otherwise)."""
    return new if new.collective and not old.collective else old


def _richer_heading(old: MeshHeading, new: MeshHeading, fills_only: bool) -> MeshHeading:
    """The stored heading of a name with what the file says of it: a bare name says nothing more, so the stored
    heading stays; a heading with detail replaces one stored by name only, and another one's flags unless PubMed
    wrote the stored record; a UI the file lacks is kept, one the stored heading lacks is filled."""
    if not _has_detail(new):
        return old
    if not _has_detail(old):
        return new
    if fills_only:
        return replace(old, ui=old.ui or new.ui)
    return replace(new, ui=new.ui or old.ui)


def _has_detail(heading: MeshHeading) -> bool:
    return bool(heading.ui or heading.major or heading.qualifiers)


def _words(text: str) -> str:
    return " ".join(text.split())
