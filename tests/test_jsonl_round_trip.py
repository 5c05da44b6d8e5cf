"""Records moved from one oihwatch to another by ``export --format jsonl`` and ``ingest``: every real PubMed XML
record keeps its abstract's sections with their NLM categories (and so its key finding), its vernacular title,
its other-language abstracts and the notices the digest warns of; merging still only fills what PubMed left empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.key_finding import key_finding
from corpus.article import WARNING_LINKS, AbstractSection, Article
from corpus.exports import WRITERS, iter_records
from corpus.ledger import standing_marks
from corpus.store import Store
from harvester.ingest import ingest_files

FIXTURES = Path(__file__).parent / "fixtures"
STRUCTURED = ("27504155", "filiperigueiro+ArticleSearch__pubmed_result.xml")  # its "DISCUSSION" is NLM's CONCLUSIONS: the key finding
ERRATUM = ("25987653", "sk8erjs69+sr-project__test-files__pubmed_result.xml")  # PubMed's record links an erratum, 26093021
MEDLINE_PMID = "16403221"  # pubmed_result2.txt: a structured abstract, no vernacular title, other abstract or notice


def notice_links(article: Article) -> list:
    return [link for link in article.links if link.kind in WARNING_LINKS]


CARRIED = {
    "abstract_sections": lambda a: a.abstract_sections,
    "key_finding": key_finding,
    "vernacular_title": lambda a: a.vernacular_title,
    "other_abstracts": lambda a: a.other_abstracts,
    "notices": notice_links,
    "standing_marks": standing_marks,
}


def export_jsonl(store: Store, pmids: list[str], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        WRITERS["jsonl"](iter_records(store, pmids), out)
    return path


def moved(paths: list[Path], pmids: list[str] | None, folder: Path) -> tuple[dict[str, Article], dict[str, Article]]:
    """The articles of a store built from ``paths``, and of a fresh store built from its JSONL export of ``pmids`` (all when None)."""
    with Store(folder / "a.db") as source:
        assert ingest_files(source, paths).ok
        originals = {a.pmid: a for a in source.iter_articles()}
        export = export_jsonl(source, pmids or list(originals), folder / "export.jsonl")
    with Store(folder / "b.db") as target:
        assert ingest_files(target, [export]).ok
        return originals, {a.pmid: a for a in target.iter_articles()}


@pytest.fixture(scope="module")
def xml_moved(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Article], dict[str, Article]]:
    """Every PubMed XML record of the shared data, and its copy in a store built from the JSONL export."""
    return moved(sorted((shared_data / "pubmed-xml").rglob("*.xml")), None, tmp_path_factory.mktemp("moved"))


def line_of(record: tuple[str, str], shared_data: Path, tmp_path: Path) -> dict:
    """The JSONL export of one real PubMed XML record (PMID, file of shared-data exports), as a dict to edit."""
    pmid, name = record
    with Store(":memory:") as store:
        assert ingest_files(store, [shared_data / "pubmed-xml" / "exports" / name]).ok
        path = export_jsonl(store, [pmid], tmp_path / "one.jsonl")
    return json.loads(path.read_text(encoding="utf-8"))


def ingest_lines(store: Store, lines: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    report = ingest_files(store, [path])
    assert report.ok, report.errors


def test_every_xml_record_moved_by_jsonl_keeps_its_sections_key_finding_and_notices(xml_moved):
    originals, copies = xml_moved
    assert len(originals) == len(copies) == 978
    differ = {name: [pmid for pmid, a in originals.items() if carried(a) != carried(copies[pmid])] for name, carried in CARRIED.items()}
    assert differ == {name: [] for name in CARRIED}


def without_categories(article: Article) -> Article:
    """The article as the 'LABEL: text' lines of ``abstract`` alone give it back."""
    return Article(article.pmid, abstract_sections=[AbstractSection(s.text, s.label) for s in article.abstract_sections])


def test_the_real_records_hold_what_a_move_lost(xml_moved):
    """What the comparison above would miss if the shared data had none of it."""
    originals = list(xml_moved[0].values())
    by_category = [a for a in originals if key_finding(a) != key_finding(without_categories(a))]
    assert len(by_category) >= 6  # their key finding comes from a section NLM calls CONCLUSIONS, not by its label
    assert sum(bool(a.vernacular_title) for a in originals) >= 50
    assert sum(bool(a.other_abstracts) for a in originals) >= 5
    assert sum(bool(notice_links(a)) for a in originals) >= 12


def test_notices_stored_on_their_own_warn_in_a_store_that_has_only_the_papers(shared_data, tmp_path):
    """The notices themselves (tests/fixtures) are not exported; the papers' notices say what the digest warns of."""
    xml = shared_data / "pubmed-xml"
    papers = ["35649368", "24449692", "24084238"]
    originals, copies = moved([xml / "metapub" / "35649368.xml", FIXTURES / "export_notices.xml", xml / "metapub" / "24449692.xml",
                               xml / "metapub" / "24084238.xml", FIXTURES / "notices.xml"], papers, tmp_path)
    assert sorted(copies) == sorted(papers)
    assert [sorted(standing_marks(copies[pmid])) for pmid in papers] == [sorted(standing_marks(originals[pmid])) for pmid in papers] == [
        ["ErratumIn:35767954", "ExpressionOfConcernIn:99000020"], ["ErratumIn:99000021"], ["retracted"]]


def test_sections_survive_a_reflowed_abstract_but_an_abstract_edited_by_hand_wins(store, shared_data, tmp_path):
    line = line_of(STRUCTURED, shared_data, tmp_path)
    categories = [s["category"] for s in line["abstract_sections"]]
    reflowed = {**line, "abstract": "  ".join(line["abstract"].split())}
    edited = {**line, "pmid": "1", "abstract": line["abstract"].replace("PANDAS", "PANS")}
    ingest_lines(store, [reflowed, edited], tmp_path / "edited.jsonl")
    kept, mine = store.get_article(STRUCTURED[0]), store.get_article("1")
    assert [s.category for s in kept.abstract_sections] == categories == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert key_finding(kept).startswith("These findings support that a post infectious immune mechanism")
    assert mine.abstract == edited["abstract"] and [s.category for s in mine.abstract_sections] == ["", "", "", ""]


def test_only_the_notices_the_digest_warns_of_become_links(store, shared_data, tmp_path):
    line = line_of(ERRATUM, shared_data, tmp_path)
    line["notices"] += [{"kind": "CommentIn", "pmid": "5"}, {"kind": "RetractionIn", "pmid": "99000010", "source": None},
                        "ErratumIn", {"pmid": "6"}]  # a comment is no notice; the last two are no notices at all
    ingest_lines(store, [line], tmp_path / "notices.jsonl")
    article = store.get_article(ERRATUM[0])
    assert [(link.kind, link.pmid) for link in article.links] == [("ErratumIn", "26093021"), ("RetractionIn", "99000010")]
    assert article.retracted and standing_marks(article) == {"retracted", "ErratumIn:26093021"}


def test_a_jsonl_copy_fills_only_what_pubmed_left_empty(store, shared_data, tmp_path):
    """A record MEDLINE text wrote gets the new fields where it has none, and keeps them against a later copy."""
    assert ingest_files(store, [shared_data / "medline" / "pubmed_result2.txt"]).ok
    pubmed = store.get_article(MEDLINE_PMID)
    assert pubmed.abstract_sections and not (pubmed.vernacular_title or pubmed.other_abstracts or pubmed.links)
    (line,) = iter_records(store, [MEDLINE_PMID])

    def copy(title: str, other: str, notice: str, conclusion: str) -> dict:
        sections = [{**s, "category": "UNASSIGNED"} for s in line["abstract_sections"]]
        sections[-1]["text"] = conclusion
        return {**line, "vernacular_title": title, "other_abstracts": [{"label": "", "category": "", "text": other}],
                "notices": [{"kind": "ErratumIn", "pmid": notice, "source": ""}], "abstract_sections": sections,
                "abstract": "\n".join(f"{s['label']}: {s['text']}" for s in sections)}

    ingest_lines(store, [copy("Titre", "Résumé.", "99000021", "Edited.")], tmp_path / "first.jsonl")
    filled = store.get_article(MEDLINE_PMID)
    assert (filled.vernacular_title, filled.other_abstracts) == ("Titre", [AbstractSection("Résumé.")])
    assert standing_marks(filled) == {"ErratumIn:99000021"}
    assert filled.abstract_sections == pubmed.abstract_sections  # PubMed's abstract, not the edited one
    ingest_lines(store, [copy("Autre titre", "Autre résumé.", "99000022", "Edited again.")], tmp_path / "second.jsonl")
    assert store.get_article(MEDLINE_PMID) == filled


def test_a_newer_export_gives_a_store_built_from_an_older_one_its_section_categories(store, shared_data, tmp_path):
    """An export written before ``abstract_sections`` gave a store the labels alone; the same abstract, with its
    categories, from a newer export fills them in, and the key finding is the original's again."""
    line = line_of(STRUCTURED, shared_data, tmp_path)
    older = {key: value for key, value in line.items() if key != "abstract_sections"}
    ingest_lines(store, [older], tmp_path / "older.jsonl")
    assert [s.category for s in store.get_article(STRUCTURED[0]).abstract_sections] == ["", "", "", ""]
    ingest_lines(store, [line], tmp_path / "newer.jsonl")
    article = store.get_article(STRUCTURED[0])
    assert [s.category for s in article.abstract_sections] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert key_finding(article).startswith("These findings support that a post infectious immune mechanism")
