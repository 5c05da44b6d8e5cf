"""Exports: the JSONL contract, and CSV, RIS and BibTeX read back by csv, rispy and bibtexparser."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import bibtexparser
import pytest
import rispy
from bibtexparser.bparser import BibTexParser
from bibtexparser.customization import convert_to_unicode

from corpus.article import AbstractSection, Article, Author, Link
from corpus.exports import (
    CSV_COLUMNS, article_record, iter_records, protect_case, record_notes, ris_date, ris_group_name, split_pages, write_bibtex,
    write_csv, write_jsonl, write_ris,
)  # fmt: skip
from corpus.ledger import standing_marks
from corpus.store import Store
from corpus.tags import Classification, TopicScore
from harvester.csv_table import parse_csv
from harvester.ingest import ingest_files
from reports.assembly import notice_text
from research_corpus import RETRACTED_PMID

NOTICES = Path(__file__).parent / "fixtures" / "export_notices.xml"  # about 35649368 and 24449692
MARKUP_TITLE_PMID = "27797938"  # pubmed4.xml: "<i>TERT</i>" inside the title
NON_ASCII_PMID = "28601656"  # Martínez-Pérez et al.
JSONL_FIELDS = {
    "pmid", "title", "abstract", "journal", "year", "doi", "mesh", "publication_types",
    "topics", "scores", "relevance", "study_type", "retracted", "key_finding",
}  # fmt: skip


@pytest.fixture
def tricky() -> dict:
    """A record with everything that breaks naive writers: LaTeX specials, non-ASCII, a group author."""
    article = Article(
        pmid="123456",
        title="50% of μ-opioid & NMDA_R #1 users: $5 ~ \"quoted\" in vivo (Müller's study)",
        abstract_sections=[AbstractSection("Ketamine helped.", "RESULTS"), AbstractSection("It worked; 95% CI 1-2.", "CONCLUSIONS")],
        authors=[Author("Martínez-Pérez", "José Ángel", "JÁ"), Author("Øster", "Søren", "S"), Author(collective="OIH Study Group & Friends")],
        journal="Journal of Pain & Symptom Management",
        journal_abbrev="J Pain Symptom Manage",
        volume="12",
        issue="3 Suppl",
        pages="1123-9",
        pub_date="2019 Mar",
        pub_date_sort="2019-03-01",
        doi="10.1000/xyz_123",
        pmcid="PMC7654321",
        mesh=[],
        publication_types=["Randomized Controlled Trial"],
        languages=["eng"],
    )
    classification = Classification(
        "123456", 0.93, "rct", "It worked; 95% CI 1-2.", "v1",
        [TopicScore("ketamine", 0.91, True), TopicScore("tapering", 0.12, False)],
    )  # fmt: skip
    return article_record(article, classification)


def test_jsonl_contract_on_real_records(research_store: Store) -> None:
    out = io.StringIO()
    pmids = [MARKUP_TITLE_PMID, NON_ASCII_PMID, RETRACTED_PMID, "11618220"]  # the last has no abstract
    assert write_jsonl(iter_records(research_store, pmids), out) == 4
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["pmid"] for r in records] == pmids
    for record in records:
        assert JSONL_FIELDS <= set(record)
        assert isinstance(record["mesh"], list) and isinstance(record["publication_types"], list)
        assert [h["descriptor"] for h in record["mesh_headings"]] == record["mesh"]  # the names, with their flags beside
        assert isinstance(record["retracted"], bool)
    markup, non_ascii, retracted, unclassified = records
    assert "<i>" not in markup["title"] and "TERT gene" in markup["title"]
    assert markup["mesh_headings"][0] == {"descriptor": "Adenocarcinoma", "ui": "D000230", "major": True, "qualifiers": [
        {"name": "epidemiology", "major": True}, {"name": "genetics", "major": True}]}
    assert non_ascii["authors"][0].startswith("Martínez-Pérez, ")
    assert retracted["retracted"] is True and "ketamine" in retracted["topics"] and retracted["scores"]["ketamine"] > 0.5
    assert unclassified["topics"] == [] and unclassified["scores"] == {}
    assert unclassified["relevance"] is None and unclassified["study_type"] is None and unclassified["key_finding"] == ""


@pytest.mark.parametrize(
    ("printed", "da"),
    [
        ("1976 Sep 28", "1976/09/28/"),
        ("2002 Sep", "2002/09//"),
        ("2004", "2004///"),
        ("2003 Spring", "2003///Spring"),
        ("1998 Dec-1999 Jan", "1998///Dec-1999 Jan"),
        ("2023 Dec 5", "2023/12/05/"),  # RIS readers take the day in two digits
        ("2001 Jan 4-10", "2001/01//4-10"),
        ("", ""),
    ],
)
def test_ris_date_numbers_what_pubmed_printed_and_keeps_the_rest(printed: str, da: str) -> None:
    assert ris_date(printed) == da


def test_split_pages_expands_medline_abbreviations() -> None:
    assert split_pages("1123-9") == ("1123", "1129")
    assert split_pages("e2305772120") == ("e2305772120", "")
    assert split_pages("S12-S19") == ("S12", "S19")
    assert split_pages("12-14-16") == ("12-14-16", "")  # not a range it can read: whole, no wrong end page
    assert split_pages("") == ("", "")


# Real paginations MEDLINE abbreviates beyond plain digits: PMID -> (as printed, first page, last page).
REAL_PAGES = {
    "11959880": ("S66-81", "S66", "S81"),  # a supplement's prefix belongs to the end page too
    "25867086": ("E665-72", "E665", "E672"),
    "21215239": ("OL1442-6", "OL1442", "OL1446"),
    "24534990": ("e250-1", "e250", "e251"),
    "36717101": ("C728-C740", "C728", "C740"),
    "29225033": ("1134-1146.e6", "1134", "1146.e6"),
    "7574850": ("100-4; discussion 104-5", "100", "104"),  # a compound pagination: its first range
    "2829148": ("167-70, 173, 176-9", "167", "170"),
    "17179337": ("W98; author reply W99", "W98", ""),
    "18047641": ("R254", "R254", ""),
}


def test_abbreviated_and_compound_pages_of_real_records_come_out_whole(research_store: Store) -> None:
    records = list(iter_records(research_store, list(REAL_PAGES)))
    assert [(r["pmid"], r["pages"]) for r in records] == [(pmid, pages[0]) for pmid, pages in REAL_PAGES.items()]
    ris, bib = io.StringIO(), io.StringIO()
    write_ris(records, ris)
    write_bibtex(records, bib)
    ris_entries = {e["accession_number"]: e for e in rispy.loads(ris.getvalue())}
    parser = BibTexParser(common_strings=True)
    parser.customization = convert_to_unicode
    bib_entries = {e["pmid"]: e for e in bibtexparser.loads(bib.getvalue(), parser).entries}
    for pmid, (printed, first, last) in REAL_PAGES.items():
        ris_entry, bib_entry = ris_entries[pmid], bib_entries[pmid]
        assert (ris_entry["start_page"], ris_entry.get("end_page", "")) == (first, last), pmid
        assert bib_entry["pages"] == (f"{first}--{last}" if last else first), pmid
        compound = ";" in printed or "," in printed
        assert (f"Pages: {printed}" in ris_entry["notes"]) == compound, pmid  # the rest of it is kept
        assert (f"Pages: {printed}" in bib_entry.get("note", "")) == compound, pmid


def test_every_real_pagination_gives_an_end_page_after_its_start_or_none(research_store: Store) -> None:
    paginations = {row[0] for row in research_store.db.execute("SELECT pages FROM articles WHERE pages != ''")}
    assert len(paginations) > 500
    for pages in paginations:
        first, last = split_pages(pages)
        assert first and not set(first + last) & set(" ;,"), pages
        if last:
            (start_prefix, start), (end_prefix, end) = (re.match(r"([A-Za-z]*)([0-9]*)", page).groups() for page in (first, last))
            assert end_prefix == start_prefix and int(end) >= int(start), pages


def test_ris_round_trip_keeps_every_field(tricky: dict) -> None:
    out = io.StringIO()
    write_ris([tricky], out)
    assert not out.getvalue().startswith("1.")
    (entry,) = rispy.loads(out.getvalue())
    assert entry["type_of_reference"] == "JOUR"
    assert entry["authors"] == ["Martínez-Pérez, José Ángel", "Øster, Søren", "OIH Study Group & Friends"]
    assert entry["title"] == tricky["title"]
    assert entry["journal_name"] == "Journal of Pain & Symptom Management"
    assert (entry["year"], entry["date"]) == ("2019", "2019/03//")
    assert (entry["volume"], entry["number"]) == ("12", "3 Suppl")
    assert (entry["start_page"], entry["end_page"]) == ("1123", "1129")
    assert entry["doi"] == "10.1000/xyz_123"
    assert entry["accession_number"] == "123456"
    assert entry["custom2"] == "PMC7654321"
    assert entry["abstract"] == "RESULTS: Ketamine helped. CONCLUSIONS: It worked; 95% CI 1-2."
    assert entry["urls"] == ["https://pubmed.ncbi.nlm.nih.gov/123456/"]
    assert {"oihwatch:topic:ketamine", "oihwatch:study:rct"} <= set(entry["keywords"])
    assert "oihwatch:topic:tapering" not in entry["keywords"]
    assert "PMID: 123456" in entry["notes"]
    assert "Study type: Randomised controlled trial" in entry["notes"]
    assert "Key finding: It worked; 95% CI 1-2." in entry["notes"]
    assert "oihwatch OIH relevance: 0.93" in entry["notes"]


def test_ris_writes_a_collective_author_with_a_comma_as_one_name(research_store: Store) -> None:
    records = list(iter_records(research_store, ["38534005", "19353626"]))  # the real group names that hold a comma
    groups = [name for record in records for name in record["collective_authors"]]
    assert {"Task and Finish Group for Urinalysis (TFG-U), European Federation of Clinical Chemistry and Laboratory Medicine (EFLM)",
            "CSD of Epidemiology Biostatistics, AIEOP"} <= set(groups)
    out = io.StringIO()
    write_ris(records, out)
    names = [name for entry in rispy.loads(out.getvalue()) for name in entry["authors"]]
    assert "Task and Finish Group for Urinalysis (TFG-U); European Federation of Clinical Chemistry and Laboratory Medicine (EFLM)" in names
    assert "CSD of Epidemiology Biostatistics; AIEOP" in names
    people = [name for record in records for name in record["authors"] if name not in groups]
    assert people and set(people) <= set(names)  # a person stays 'Last, Fore'
    assert not any("," in name for name in names if name not in people)


def test_bibtex_round_trip_keeps_every_field(tricky: dict) -> None:
    out = io.StringIO()
    write_bibtex([tricky], out)
    parser = BibTexParser(common_strings=True)
    parser.customization = convert_to_unicode
    (entry,) = bibtexparser.loads(out.getvalue(), parser).entries
    assert entry["ENTRYTYPE"] == "article" and entry["ID"] == "pmid123456"
    assert entry["author"] == "Martínez-Pérez, José Ángel and Øster, Søren and OIH Study Group & Friends"
    assert entry["title"] == tricky["title"]
    assert entry["journal"] == "Journal of Pain & Symptom Management"
    assert (entry["year"], entry["volume"], entry["number"], entry["pages"]) == ("2019", "12", "3 Suppl", "1123--1129")
    assert entry["doi"] == "10.1000/xyz_123"
    assert entry["pmid"] == "123456"
    assert entry["abstract"] == "RESULTS: Ketamine helped.\nCONCLUSIONS: It worked; 95% CI 1-2."
    assert entry["url"] == "https://pubmed.ncbi.nlm.nih.gov/123456/"
    assert "oihwatch:topic:ketamine" in entry["keywords"] and "oihwatch:study:rct" in entry["keywords"]
    assert "Study type: Randomised controlled trial" in entry["note"]


def test_bibtex_is_latex_safe(tricky: dict) -> None:
    out = io.StringIO()
    write_bibtex([tricky], out)
    raw = bibtexparser.loads(out.getvalue()).entries[0]
    assert r"50\% of μ-opioid \& {NMDA\_R} \#1 users: \textdollar{}5" in raw["title"]
    assert "{OIH Study Group \\& Friends}" in raw["author"]  # a group author is kept whole


def test_bibtex_keeps_every_entry_whatever_braces_a_doi_or_pages_hold(tricky: dict) -> None:
    odd = {"10.1000/a}b{c": "10.1000/a%7Db%7Bc", "10.1000/a{b": "10.1000/a%7Bb", "10.1000/a}": "10.1000/a%7D",
           "10.1000/{a}": "10.1000/%7Ba%7D"}
    normal = ["10.1002/(SICI)1097-4636(199706)35:4<463::AID-JBM5>3.0.CO;2-#", "10.1000/xyz_123+4", "10.1097/00000542-200603000-00025"]
    records = [dict(tricky, pmid=str(n), doi=doi) for n, doi in enumerate([*odd, *normal])]
    records += [dict(tricky, pmid="99", pages="1}2-{3"), dict(tricky, pmid="100")]
    out = io.StringIO()
    write_bibtex(records, out)
    entries = bibtexparser.loads(out.getvalue()).entries
    assert [e["ID"] for e in entries] == [f"pmid{r['pmid']}" for r in records]
    assert [e["doi"] for e in entries[: len(odd) + len(normal)]] == [*odd.values(), *normal]
    assert entries[-2]["pages"] == r"1\textbraceright{}2--\textbraceleft{}3"


@pytest.mark.parametrize(
    ("title", "protected"),
    [
        ("NMDA receptor-dependent hyperalgesia", "{NMDA} receptor-dependent hyperalgesia"),
        ("Opioid-induced hyperalgesia: a review", "Opioid-induced hyperalgesia: a review"),
        ("OPRM1 A118G and CYP2D6 in Parkinson's disease", "{OPRM1} {A118G} and {CYP2D6} in {Parkinson's} disease"),
        ("Low pH and mRNA of the mu-Opioid receptor", "Low {pH} and {mRNA} of the mu-{Opioid} receptor"),
    ],
)
def test_bibtex_titles_keep_their_capitals(title: str, protected: str) -> None:
    assert protect_case(title) == protected


def test_real_records_round_trip_through_both_libraries(research_store: Store) -> None:
    pmids = [h[0] for h in research_store.db.execute("SELECT pmid FROM articles WHERE source != 'corpus.jsonl' ORDER BY pmid LIMIT 300")]
    pmids += [MARKUP_TITLE_PMID, NON_ASCII_PMID]
    records = list(iter_records(research_store, pmids))
    ris, bib = io.StringIO(), io.StringIO()
    write_ris(records, ris)
    write_bibtex(records, bib)
    ris_entries = rispy.loads(ris.getvalue())
    parser = BibTexParser(common_strings=True)
    parser.customization = convert_to_unicode
    bib_entries = bibtexparser.loads(bib.getvalue(), parser).entries
    assert len(ris_entries) == len(bib_entries) == len(records)
    for record, ris_entry, bib_entry in zip(records, ris_entries, bib_entries, strict=True):
        assert ris_entry["accession_number"] == bib_entry["pmid"] == record["pmid"]
        groups = set(record["collective_authors"])
        assert ris_entry.get("authors", []) == [ris_group_name(n) if n in groups else n for n in record["authors"]]
        assert ris_entry.get("title", "") == record["title"].replace("\n", " ")
        assert ris_entry.get("doi", "") == bib_entry.get("doi", "") == record["doi"]
        if "{" not in record["title"]:  # bibtexparser 1.x does not decode \textbraceleft back
            assert bib_entry.get("title", "") == record["title"]


def test_bibtex_keywords_keep_comma_headings_whole_and_carry_author_keywords_as_ris_does(research_store: Store) -> None:
    everything = iter_records(research_store, [row[0] for row in research_store.db.execute("SELECT pmid FROM articles ORDER BY pmid")])
    both = [r for r in everything if r["keywords"] and any("," in m for m in r["mesh"])][:50]
    assert len(both) == 50
    records = [*iter_records(research_store, ["9248571"]), *both]  # 21 MeSH headings, 4 with a comma
    ris, bib = io.StringIO(), io.StringIO()
    write_ris(records, ris)
    write_bibtex(records, bib)
    parser = BibTexParser(common_strings=True)
    parser.customization = convert_to_unicode
    bib_entries = bibtexparser.loads(bib.getvalue(), parser).entries
    for record, ris_entry, bib_entry in zip(records, rispy.loads(ris.getvalue()), bib_entries, strict=True):
        assert bib_entry["keywords"].split("; ") == ris_entry["keywords"]
        assert set(record["keywords"]) <= set(bib_entry["keywords"].split("; "))  # the author's keywords too
    first = bib_entries[0]["keywords"].split("; ")
    assert {"Analgesics, Opioid", "Pain, Postoperative", "Receptors, N-Methyl-D-Aspartate"} <= set(first)
    assert len([k for k in first if not k.startswith("oihwatch:")]) == 21


def test_csv_joins_lists_for_spreadsheets(tricky: dict) -> None:
    out = io.StringIO()
    write_csv([tricky], out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["authors"] == "Martínez-Pérez, José Ángel; Øster, Søren; OIH Study Group & Friends"
    assert row["topics"] == "ketamine"
    assert row["scores"] == "ketamine=0.910; tapering=0.120"
    assert row["publication_types"] == "Randomized Controlled Trial"
    assert row["title"] == tricky["title"] and row["abstract"] == tricky["abstract"]


def test_export_command_whole_corpus_and_filtered_slice(tmp_path: Path, research_store: Store, research_cli) -> None:
    everything = research_cli("export")
    assert everything.exit_code == 0, everything.output
    lines = everything.stdout.splitlines()
    assert len(lines) == research_store.count_articles() - 1  # the retracted copy is left out by default
    target = tmp_path / "ketamine.ris"
    sliced = research_cli(
        "export", "--format", "ris", "--topic", "ketamine", "--query", "title:ketamine",
        "--include-retracted", "--output", str(target),
    )  # fmt: skip
    assert sliced.exit_code == 0, sliced.output
    entries = rispy.loads(target.read_text(encoding="utf-8"))
    assert entries and RETRACTED_PMID in {e["accession_number"] for e in entries}
    assert all("oihwatch:topic:ketamine" in e["keywords"] for e in entries)
    assert f"exported {len(entries)} records to {target}" in sliced.stderr
    assert not list(tmp_path.glob("*.part"))


def test_export_to_a_missing_folder_is_one_line_error(tmp_path: Path, research_cli) -> None:
    result = research_cli("export", "--topic", "genetics", "-o", str(tmp_path / "no" / "x.csv"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write") and result.stderr.count("\n") == 1


def test_export_to_dash_writes_stdout_not_a_file_named_dash(tmp_path: Path, research_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = research_cli("export", "--format", "csv", "--topic", "genetics", "-o", "-")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and all("genetics" in row["topics"] for row in rows)
    assert result.stderr.startswith(f"exported {len(rows)} records\n")
    assert not (tmp_path / "-").exists()


def test_export_to_dot_slash_dash_writes_the_file_named_dash(tmp_path: Path, research_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = research_cli("export", "--format", "csv", "--topic", "genetics", "-o", "./-")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert (tmp_path / "-").read_text(encoding="utf-8").startswith("pmid,")


def test_export_to_an_empty_file_name_is_a_usage_error(research_cli) -> None:
    result = research_cli("export", "--topic", "genetics", "-o", "")
    assert result.exit_code == 2
    assert "'-o': needs a file name, or - for stdout" in result.stderr


@pytest.fixture
def noticed(shared_data: Path, tmp_path: Path) -> Store:
    """Real records with notices: two whose PubMed XML links an erratum (35649368 by PMID, 16786252 by citation
    only), and two that notices stored on their own concern: 35649368, stored before its expression of
    concern, and 24449692, stored after its erratum (tests/fixtures/export_notices.xml)."""
    store = Store(tmp_path / "corpus.db")
    xml = shared_data / "pubmed-xml"
    report = ingest_files(store, [xml / "metapub" / "35649368.xml", NOTICES, xml / "metapub" / "24449692.xml",
                                  xml / "exports" / "mokztk+pubmed-parser__CPFE.xml"])
    assert all(f.ok for f in report.files), report.files
    yield store
    store.close()


NOTICED = ["35649368", "24449692", "16786252"]
NOTICE_WORDS_OF = {
    "35649368": ["Erratum published (PMID 35767954)", "Expression of concern (PMID 99000020)"],
    "24449692": ["Erratum published (PMID 99000021)"],
    "16786252": ["Erratum published (Clin Rheumatol. 2007 Apr;26(4):617)"],  # NLM's link names no PMID
}


def test_every_export_names_the_notices_the_digest_warns_of(noticed: Store) -> None:
    records = list(iter_records(noticed, NOTICED))
    assert [r["notices"] for r in records] == [
        [{"kind": "ErratumIn", "pmid": "35767954", "source": "Cell Rep. 2022 Jun 28;39(13):111044. doi: 10.1016/j.celrep.2022.111044."},
         {"kind": "ExpressionOfConcernIn", "pmid": "99000020", "source": ""}],
        [{"kind": "ErratumIn", "pmid": "99000021", "source": ""}],
        [{"kind": "ErratumIn", "pmid": "", "source": "Clin Rheumatol. 2007 Apr;26(4):617"}],
    ]
    assert not any(r["retracted"] for r in records)
    for pmid in NOTICED[:2]:  # what the digest would warn, in its words
        digest = sorted(notice_text(mark) for mark in standing_marks(noticed.get_article(pmid)))
        assert digest == NOTICE_WORDS_OF[pmid]
    jsonl, table, ris, bib = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
    write_jsonl(records, jsonl)
    write_csv(records, table)
    write_ris(records, ris)
    write_bibtex(records, bib)
    assert [json.loads(line)["notices"] for line in jsonl.getvalue().splitlines()] == [r["notices"] for r in records]
    rows = list(csv.DictReader(io.StringIO(table.getvalue())))
    assert [row["notices"] for row in rows] == ["; ".join(NOTICE_WORDS_OF[pmid]) for pmid in NOTICED]
    for pmid, entry in zip(NOTICED, rispy.loads(ris.getvalue()), strict=True):
        assert set(NOTICE_WORDS_OF[pmid]) <= set(entry["notes"])
    for pmid, entry in zip(NOTICED, bibtexparser.loads(bib.getvalue()).entries, strict=True):
        assert all(words in entry["note"] for words in NOTICE_WORDS_OF[pmid])


def test_a_paper_without_notices_has_none(research_store: Store) -> None:
    (record,) = iter_records(research_store, [NON_ASCII_PMID])
    out = io.StringIO()
    write_csv([record], out)
    assert record["notices"] == [] and next(csv.DictReader(io.StringIO(out.getvalue())))["notices"] == ""


def test_a_retraction_notice_is_named_beside_the_retracted_note() -> None:
    article = Article(pmid="1", title="T", publication_types=["Retracted Publication"],
                      links=[Link("RetractionIn", "99000010"), Link("ErratumIn", "", "J Pain. 2001;2(1):3"), Link("CommentIn", "5")])
    notes = record_notes(article_record(article))
    assert notes[:3] == ["RETRACTED: this article has been retracted; see PubMed.", "Retracted (PMID 99000010)",
                         "Erratum published (J Pain. 2001;2(1):3)"]
    assert not any("PMID 5" in note for note in notes)  # a comment is not a notice


def test_the_notices_and_tag_columns_come_last_and_our_csv_reader_reads_the_rest_as_before(noticed: Store) -> None:
    assert CSV_COLUMNS.index("editors") == 28  # scripts read by position
    assert CSV_COLUMNS[29:] == ("notices", "tags", "tag_sources", "relevance_source")
    out = io.StringIO()
    write_csv(iter_records(noticed, NOTICED), out)
    without = io.StringIO()
    csv.writer(without, lineterminator="\n").writerows(row[:29] for row in csv.reader(io.StringIO(out.getvalue())))
    read = [a.to_dict() for a in parse_csv(io.StringIO(out.getvalue()))]
    assert [a["pmid"] for a in read] == NOTICED
    assert read == [a.to_dict() for a in parse_csv(io.StringIO(without.getvalue()))]
