"""The streaming PubMed XML parser: each real-data quirk on the file that shows it, our own
fixtures for what the shared data lacks, a differential test against Bio.Entrez, and bad input."""

from __future__ import annotations

import codecs
import gzip
import re
from pathlib import Path

import pytest
from Bio import Entrez

from corpus.errors import InputError
from harvester.pubmed_xml import parse_pubmed_bytes, parse_pubmed_xml
from harvester.records import Deletion

FIXTURES = Path(__file__).parent / "fixtures"


def one(path: Path, pmid: str | None = None):
    """The record ``pmid`` of a file (or its only record)."""
    records = [r for r in parse_pubmed_xml(path) if pmid is None or r.pmid == pmid]
    assert len(records) == 1, f"{path}: expected one record {pmid or ''}, got {len(records)}"
    return records[0]


@pytest.fixture(scope="module")
def xml(shared_data: Path) -> Path:
    return shared_data / "pubmed-xml"


# -- quirks of real records ------------------------------------------------------------------


def test_labelled_abstract_without_nlm_category(xml):
    article = one(xml / "biopython" / "pubmed4.xml")
    assert [(s.label, s.category) for s in article.abstract_sections] == [
        ("OBJECTIVE", ""), ("DESIGN", ""), ("RESULTS", ""), ("CONCLUSIONS", "")
    ]
    assert article.abstract.startswith("OBJECTIVE: Telomere shortening")


def test_labelled_abstract_with_nlm_category(xml):
    article = one(xml / "metapub" / "23657305.xml")
    assert article.abstract_sections and all(s.label and s.category for s in article.abstract_sections)


def test_inline_markup_is_dropped_and_text_kept(xml):
    article = one(xml / "biopython" / "pubmed4.xml")
    assert article.title == "Leucocyte telomere length, genetic variants at the TERT gene region and risk of pancreatic cancer."
    results = article.abstract_sections[2].text
    assert "p trend =0.048" in results or "ptrend=0.048" in results
    assert "r 2 <0.25" in results or "r2<0.25" in results  # <sup>2</sup>&lt;0.25: entity decoded, tag gone


def test_numeric_character_references_are_decoded(xml):
    article = one(xml / "metapub" / "23657305.xml")
    assert "Girão" in [a.last for a in article.authors]
    assert "Luís" in [a.fore for a in article.authors]
    # pubmed2.xml has its only references in an affiliation, which the raw XML keeps.
    raw = "".join(r.raw_xml for r in parse_pubmed_xml(xml / "biopython" / "pubmed2.xml"))
    assert "Università degli Studi" in raw and "&#xe0;" not in raw


def test_season_date_and_no_abstract(xml):
    article = one(xml / "biopython" / "pubmed1.xml", "12091962")
    assert (article.pmid, article.pub_date, article.pub_date_sort) == ("12091962", "1990 Spring", "1990-03-01")
    assert article.abstract_sections == [] and article.abstract == ""


def test_medline_date_range(xml):
    article = one(xml / "exports" / "filiperigueiro+ArticleSearch__pubmed_result.xml", "29652009")
    assert (article.pub_date, article.pub_date_sort) == ("2018 Mar-Apr", "2018-03-01")


def test_full_date_printed_as_pubmed_does(xml):
    article = one(xml / "metapub" / "36987902.xml")
    assert (article.pub_date, article.pub_date_sort) == ("2023 Mar 28", "2023-03-28")


def test_other_abstract_and_chinese_text(xml):
    article = one(xml / "exports" / "filiperigueiro+ArticleSearch__pubmed_result.xml", "30423607")
    assert article.languages == ["chi"]
    assert article.title.startswith("[Consistency of PD-L1")  # NLM brackets a translated title
    assert article.other_abstracts and article.other_abstracts[0].text.startswith("目的")


def test_vernacular_title_and_two_languages(xml):
    article = one(xml / "metapub" / "36987902.xml")
    assert article.languages == ["eng", "nor"]
    assert article.vernacular_title.startswith("Pasienter over 75 år")


def test_collective_name_author(xml):
    article = one(xml / "metapub" / "34843274.xml")
    assert article.authors[0].collective == "Guideline Development Panel for the Treatment of Depressive Disorders"
    assert article.authors[0].display == article.authors[0].collective


def test_record_without_abstract(xml):
    article = one(xml / "metapub" / "11618220.xml")
    assert article.pmid == "11618220" and article.title and article.abstract == ""


def test_book_article(xml):
    article = one(xml / "metapub" / "sample_article_20301577.xml")
    assert article.is_book and article.pmid == "20301577"
    assert article.title == "CACNA1C-Related Disorders"
    assert article.journal == "GeneReviews®"
    assert [a.last for a in article.authors] == ["Napolitano", "Priori"]  # authors, not the book's editors
    assert article.abstract_sections[0].label == "CLINICAL CHARACTERISTICS"
    assert "Copyright" not in article.abstract
    assert (article.pub_date_sort, article.created, article.revised) == ("2006-02-15", "2024-12-19", "2024-12-19")  # the chapter's ContributionDate, not the series' 1993
    assert article.keywords.count("Timothy Syndrome") == 1


def test_erratum_link(xml):
    article = one(xml / "metapub" / "35649368.xml")
    assert [(link.kind, link.pmid) for link in article.links] == [("ErratumIn", "35767954")]
    assert article.links[0].source.startswith("Cell Rep. 2022 Jun 28")
    assert not article.retracted


def test_date_created_of_old_dtd(xml):
    article = one(xml / "exports" / "mokztk+pubmed-parser__CPFE.xml", "23117106")
    assert article.created == "2012-11-05"


def test_created_is_the_entrez_event_and_entrez_date_the_pubmed_event(xml):
    # A 2022 paper added to PubMed in June 2024 shows which is which:
    # its Entrez date is backdated to the publication date, its create date is not.
    late = one(xml / "metapub" / "38884108.xml")
    assert (late.created, late.entrez_date) == ("2024-06-17", "2022-01-01")
    # The usual case: created at 18:23 one day, Entrez date 06:00 the next morning.
    usual = one(xml / "metapub" / "35649368.xml")
    assert (usual.created, usual.entrez_date) == ("2022-06-01", "2022-06-02")


def test_versioned_pmid(xml):
    article = one(xml / "exports" / "solitude6060+Fulltext_search__data__pubmed_result.xml", "29337475")
    assert article.version == 3


def test_copyright_is_not_abstract_text(xml):
    records = list(parse_pubmed_xml(xml / "metapub" / "32525788.xml"))
    assert "<CopyrightInformation>" in records[0].raw_xml
    assert "©" not in records[0].abstract and "Copyright" not in records[0].abstract


def test_doi_pmcid_mesh_and_raw_xml(xml):
    article = one(xml / "biopython" / "pubmed4.xml")
    assert (article.doi, article.pmcid, article.status) == ("10.1136/gutjnl-2016-312510", "PMC5442267", "MEDLINE")
    assert (article.journal, article.journal_abbrev, article.issn, article.volume, article.issue, article.pages) == (
        "Gut", "Gut", "1468-3288", "66", "6", "1116-1122"
    )
    mesh = {m.descriptor: m for m in article.mesh}
    assert mesh["Pancreatic Neoplasms"].ui.startswith("D")
    assert any(q.endswith("*") for m in article.mesh for q in m.qualifiers)
    assert all(m.major for m in article.mesh if any(q.endswith("*") for q in m.qualifiers))
    assert article.raw_xml.startswith("<PubmedArticle>") and article.raw_xml.endswith("</PubmedArticle>")


# -- our fixtures ------------------------------------------------------------------------------


def test_retraction_fixture():
    original, notice = parse_pubmed_xml(FIXTURES / "retraction.xml")
    assert original.retracted and "Retracted Publication" in original.publication_types
    assert [(link.kind, link.pmid) for link in original.links] == [("RetractionIn", "99000002")]
    assert not notice.retracted
    assert notice.is_notice and [(pmid, link.kind) for pmid, link in notice.concerned()] == [("99000001", "RetractionIn")]
    assert not original.is_notice and original.concerned() == []
    assert original.pages == "601-610" and original.doi == "10.1093/pm/pnaa999"
    assert original.abstract == "OBJECTIVE: To test whether ketamine prevents opioid-induced hyperalgesia.\nCONCLUSIONS: Ketamine reduced hyperalgesia."


def test_delete_citation_update_file():
    article, deletion = parse_pubmed_xml(FIXTURES / "update_with_deletions.xml")
    assert (article.pmid, article.version, article.status) == ("99000010", 2, "In-Process")
    assert deletion == Deletion(("99000011", "99000012"))


def test_mathml_markup_and_escapes_in_title():
    article = one(FIXTURES / "markup_title.xml")
    assert article.title == "Morphine & OPRM1 A118G: EC50 shift in Ca2+ signalling <in vitro> – a β-arrestin study"
    assert article.abstract == "H2O & more: spaced text."
    assert article.journal == "Pain & therapy"
    assert (article.pub_date, article.pub_date_sort) == ("2024 Dec 05", "2024-12-05")


# -- sources and bad input ---------------------------------------------------------------------


def test_bytes_file_object_path_and_gzip_agree(tmp_path):
    data = (FIXTURES / "retraction.xml").read_bytes()
    gz = tmp_path / "records.xml.gz"
    gz.write_bytes(gzip.compress(data))
    with (FIXTURES / "retraction.xml").open("rb") as stream:
        from_stream = list(parse_pubmed_xml(stream))
    results = [parse_pubmed_bytes(data), from_stream, list(parse_pubmed_xml(FIXTURES / "retraction.xml")), list(parse_pubmed_xml(gz))]
    assert all([r.pmid for r in result] == ["99000001", "99000002"] for result in results)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<!DOCTYPE html><html><head><meta charset=utf-8></head><body>502</body></html>", "HTML page"),
        (b"<html><body><h1>Service unavailable</h1></body></html>", "HTML page"),
        (b"<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>", "Unable to obtain query #1"),
        (b"<ERROR>API rate limit exceeded</ERROR>", "API rate limit exceeded"),
        (b"Bad Gateway", "not XML"),
        (b"<foo/>", "not PubMed XML"),
    ],
)
def test_bad_efetch_responses_raise_one_line(data, message):
    with pytest.raises(InputError, match=message) as error:
        parse_pubmed_bytes(data)
    assert "\n" not in str(error.value) and "<efetch response>" in str(error.value)


def test_truncated_xml_names_last_pmid_and_line():
    data = (FIXTURES / "retraction.xml").read_bytes()
    cut = data[: data.rindex(b"<PMID Version=\"1\">99000002") + 40]
    records = []
    with pytest.raises(InputError, match=r"<bytes>: truncated or malformed XML at line \d+ after PMID 99000001"):
        records.extend(parse_pubmed_xml(cut))
    assert [r.pmid for r in records] == ["99000001"]  # the complete record before the cut was yielded


def test_a_truncated_export_that_starts_with_a_byte_order_mark_is_called_truncated(xml, tmp_path):
    export = xml / "exports" / "sk8erjs69+sr-project__test-files__pubmed_result.xml"  # as PubMed's website saves it
    assert export.read_bytes().startswith(codecs.BOM_UTF8)
    cut = tmp_path / "cut.xml"
    cut.write_bytes(export.read_bytes()[:900_000])
    with pytest.raises(InputError, match=r"cut\.xml: truncated or malformed XML at line \d+ after PMID \d+ \(\d+ records read\)"):
        list(parse_pubmed_xml(cut))


def test_empty_article_set_is_no_records():
    assert parse_pubmed_bytes(b'<?xml version="1.0"?>\n<PubmedArticleSet></PubmedArticleSet>') == []


def test_record_without_pmid_is_skipped_with_its_line_or_raises():
    data = b"<PubmedArticleSet>\n<PubmedArticle><MedlineCitation><Article/></MedlineCitation></PubmedArticle>\n</PubmedArticleSet>"
    with pytest.raises(InputError, match=r"<bytes>: record 1 \(line 2\): no PMID"):
        list(parse_pubmed_xml(data))
    skipped = []
    assert list(parse_pubmed_xml(data, on_skip=skipped.append)) == []
    assert [s.reason for s in skipped] == ["no PMID"]


def test_unknown_elements_of_a_later_dtd_are_ignored():
    data = (FIXTURES / "update_with_deletions.xml").read_bytes().replace(
        b"<Language>eng</Language>", b"<Language>eng</Language><FutureElement a='1'><Nested>x</Nested></FutureElement>"
    )
    article, _ = parse_pubmed_bytes(data)
    assert article.title == "Buprenorphine rotation in opioid-induced hyperalgesia."


def test_no_external_entities_or_dtd_are_loaded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>&x;</ArticleTitle>"
        "</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    ).encode()
    (article,) = parse_pubmed_bytes(data)
    assert "TOP SECRET" not in article.title


# -- every record, and a differential test against Bio.Entrez ------------------------------------

_INLINE_TAG = re.compile(r"</?(?:i|b|u|sup|sub)\b[^>]*>")  # Bio.Entrez keeps inline tags
# A script that starts a number right after a digit, which we write in parentheses: 10<sup>6</sup> is 10(6).
_NUMBER_SCRIPT = re.compile(r"(?<=\d)<(sup|sub)>([-+−–]?\d.*?)</\1>")
_MATHML = re.compile(r"<math\b.*?</math>", re.S)  # its reading has tests of its own (test_inline_markup.py)
_ANY = "\N{OBJECT REPLACEMENT CHARACTER}"


def _norm(text) -> str:
    text = _NUMBER_SCRIPT.sub(r"(\2)", _MATHML.sub(_ANY, str(text)))
    return " ".join(_INLINE_TAG.sub(" ", text).split())


def _squash(text: str) -> str:
    """Compare text modulo the spaces that dropping a tag can add or remove ('r<sup>2</sup>' vs 'r 2')."""
    return "".join(text.split())


def _entrez_fields(record) -> dict:
    citation = record["MedlineCitation"]
    article = citation["Article"]
    abstract = article.get("Abstract", {}).get("AbstractText", [])
    doi = next((str(i) for i in record["PubmedData"].get("ArticleIdList", []) if i.attributes.get("IdType") == "doi"), "")
    if not doi:
        doi = next((str(e) for e in article.get("ELocationID", []) if e.attributes.get("EIdType") == "doi"), "")
    return {
        "pmid": str(citation["PMID"]),
        "title": _squash(_norm(article.get("ArticleTitle", ""))),
        "abstract": _squash(" ".join(_norm(part) for part in abstract)),
        "doi": doi.strip(),
        "mesh": [str(h["DescriptorName"]) for h in citation.get("MeshHeadingList", [])],
        "publication_types": [str(p) for p in article.get("PublicationTypeList", [])],
    }


def _our_fields(article) -> dict:
    return {
        "pmid": article.pmid,
        "title": _squash(article.title),
        "abstract": _squash(" ".join(s.text for s in article.abstract_sections)),
        "doi": article.doi,
        "mesh": article.mesh_terms,
        "publication_types": article.publication_types,
    }


def _with_math_of(ours: dict, theirs: dict) -> dict:
    """``ours`` with Bio.Entrez's text for a title or abstract that matches it outside the MathML."""
    matched = {}
    for field in ("title", "abstract"):
        pattern = ".*?".join(map(re.escape, theirs[field].split(_ANY)))
        if _ANY in theirs[field] and re.fullmatch(pattern, ours[field], re.S):
            matched[field] = theirs[field]
    return {**ours, **matched}


def test_agrees_with_bio_entrez_and_reads_what_it_refuses(xml):
    compared, refused_records = 0, 0
    for path in sorted(xml.rglob("*.xml")):
        ours = {a.pmid: a for a in parse_pubmed_xml(path) if not a.is_book}
        try:
            with path.open("rb") as handle:
                theirs = Entrez.read(handle, validate=False)
        except ValueError:  # Bio.Entrez refuses pre-2016 http:// DTD URLs
            refused = set(re.findall(rb"<PMID Version=\"\d+\">(\d+)</PMID>\s*<Date", path.read_bytes()))
            assert refused and {p.decode() for p in refused} <= set(ours)
            refused_records += len(refused)
            continue
        for record in theirs["PubmedArticle"]:
            fields = _entrez_fields(record)
            assert _with_math_of(_our_fields(ours[fields["pmid"]]), fields) == fields, f"{path.name}#{fields['pmid']}"
            compared += 1
    assert compared > 700 and refused_records > 50

