"""Superscripts, subscripts and MathML in titles and abstracts: their tags go, and no number changes.

Joining a script's text to the text before it turns "10<sup>6</sup> MSCs" into "106 MSCs"; NLM's own
plain text writes "10(6)". Every other script reads as before ("Ca2+", "m2", "CO2"), so search and the
classifier see the same words.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from harvester.pubmed_record import text_of
from harvester.pubmed_xml import parse_pubmed_bytes, parse_pubmed_xml

MATHML = 'xmlns:mml="http://www.w3.org/1998/Math/MathML"'
# The records of the shared data whose text a script or MathML reading changes, and nothing else.
NUMBER_MARKUP_RECORDS = {"29527264", "38914053", "30108519", "29963580"}


def read(markup: str) -> str:
    return text_of(etree.fromstring(f"<AbstractText {MATHML}>{markup}</AbstractText>"))


@pytest.fixture(scope="module")
def xml(shared_data: Path) -> Path:
    return shared_data / "pubmed-xml"


def record(path: Path, pmid: str):
    (article,) = [a for a in parse_pubmed_xml(path) if a.pmid == pmid]
    return article


# -- the records that showed it ------------------------------------------------------------------


def test_a_power_of_ten_keeps_its_value(xml):
    cells = record(xml / "exports" / "filiperigueiro+ArticleSearch__pubmed_result.xml", "29527264")
    assert "a transplant 10(6) MSCs" in cells.abstract
    films = record(xml / "metapub" / "38914053.xml", "38914053")
    assert "reached up 2.5 × 10(18)cm-3for the as-deposited" in films.abstract  # the source has no space before 'for'


def test_mathml_reads_as_a_reader_sees_it(xml):
    runners = record(xml / "biopython" / "pubmed6.xml", "30108519")
    assert "maximal oxygen uptake ( V\u0307O2max ) 67.6 ± 4.1 ml·kg-1·min-1]" in runners.abstract
    assert "the best predictors of V\u0307O2max (r = 0.72-0.79" in runners.abstract
    lungs = record(xml / "biopython" / "pubmed7.xml", "29963580")
    assert "(1) inhaled 3He/129Xe MRI ventilation" in lungs.abstract
    assert "ultrashort echo-time 1H MRI proton density" in lungs.abstract


def test_every_other_title_and_abstract_reads_as_its_text_joined(xml):
    """Only the records with a number before a script, or with MathML, read otherwise than all their
    text joined: the rest keep their text, so their fingerprints, and the store, see no revision."""
    changed = set()
    for path in sorted(xml.rglob("*.xml")):
        for article in parse_pubmed_xml(path):
            if article.is_book:
                continue
            element = etree.fromstring(article.raw_xml)
            parts = element.xpath("MedlineCitation/Article/ArticleTitle | MedlineCitation/Article/Abstract/AbstractText")
            joined = [" ".join("".join(e.itertext()).split()) for e in parts]
            if [t for t in joined if t] != [t for t in (article.title, *(s.text for s in article.abstract_sections)) if t]:
                changed.add(article.pmid)
    assert changed == NUMBER_MARKUP_RECORDS


def test_a_store_filled_by_the_joined_reading_sees_one_revised_record(store, xml):
    path = xml / "exports" / "filiperigueiro+ArticleSearch__pubmed_result.xml"
    stored = list(parse_pubmed_xml(path))
    (cells,) = [a for a in stored if a.pmid == "29527264"]
    cells.abstract_sections = [replace(s, text=s.text.replace("10(6)", "106")) for s in cells.abstract_sections]
    store.upsert_articles(stored)
    counts = store.upsert_articles(parse_pubmed_xml(path))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, len(stored) - 1)
    assert "10(6) MSCs" in store.get_article("29527264").abstract


# -- each case on its own --------------------------------------------------------------------------


@pytest.mark.parametrize(("markup", "text"), [
    ("a transplant 10<sup>6</sup> MSCs", "a transplant 10(6) MSCs"),
    ("2.5 × 10<sup>18</sup>cm<sup>-3</sup>", "2.5 × 10(18)cm-3"),
    ("p = 5 × 10<sup>−8</sup>", "p = 5 × 10(−8)"),
    ("<i>10</i><sup>4</sup> cells", "10(4) cells"),
    ("a 1<sub>2</sub> ratio", "a 1(2) ratio"),
])
def test_a_script_after_a_digit_that_starts_a_number_is_in_parentheses(markup, text):
    assert read(markup) == text


@pytest.mark.parametrize(("markup", "text"), [
    ("Ca<sup>2+</sup> signalling", "Ca2+ signalling"),
    ("per m<sup>2</sup> and r<sup>2</sup>&lt;0.25", "per m2 and r2<0.25"),
    ("CD4<sup>+</sup>CD25<sup>-</sup> cells", "CD4+CD25- cells"),
    ("the 19<sup>th</sup> century", "the 19th century"),
    ("CO<sub>2</sub> and log<sub>10</sub>", "CO2 and log10"),
    ("t<sub>1/2</sub> of <i>OPRM1</i>", "t1/2 of OPRM1"),
])
def test_any_other_script_joins_the_text_before_it(markup, text):
    assert read(markup) == text


@pytest.mark.parametrize(("math", "text"), [
    ("<mml:msup><mml:mn>10</mml:mn><mml:mn>6</mml:mn></mml:msup>", "10(6)"),
    ("<mml:msub><mml:mi>EC</mml:mi><mml:mn>50</mml:mn></mml:msub>", "EC50"),
    ("<mml:msubsup><mml:mi>σ</mml:mi><mml:mi>x</mml:mi><mml:mn>2</mml:mn></mml:msubsup>", "σx2"),
    ("<mml:mrow>\n  <mml:mi>x</mml:mi>\n  <mml:mo>=</mml:mo>\n  <mml:mn>5</mml:mn>\n</mml:mrow>", "x=5"),
    ("<mml:mmultiscripts><mml:mi>C</mml:mi><mml:mprescripts/><mml:none/><mml:mn>13</mml:mn></mml:mmultiscripts>", "13C"),
    ("<mml:mover><mml:mi>x</mml:mi><mml:mo>¯</mml:mo></mml:mover>", "x\u0304"),
    ("<mml:mover><mml:mi>x</mml:mi><mml:mi>y</mml:mi></mml:mover>", "xy"),
    ("<mml:mfrac><mml:mn>1</mml:mn><mml:mn>2</mml:mn></mml:mfrac>", "1/2"),
    ("<mml:mi>A</mml:mi><mml:mtext>\u2009</mml:mtext><mml:mi>B</mml:mi>", "A B"),
])
def test_mathml_reads_as_its_tokens_text(math, text):
    assert read(f"with <mml:math>{math}</mml:math> here") == f"with {text} here"


def test_a_title_and_an_abstract_of_a_record_are_read_alike():
    data = f"""<PubmedArticleSet><PubmedArticle><MedlineCitation Status="Publisher" Owner="NLM">
      <PMID Version="1">99000030</PMID>
      <Article><ArticleTitle>10<sup>6</sup> cells/kg</ArticleTitle>
        <Abstract><AbstractText Label="RESULTS">IC<sub>50</sub> of 3 × 10<sup>-9</sup> M;
          <mml:math {MATHML}><mml:msup><mml:mi>ml</mml:mi><mml:mn>-1</mml:mn></mml:msup></mml:math></AbstractText></Abstract>
      </Article></MedlineCitation></PubmedArticle></PubmedArticleSet>""".encode()
    (article,) = parse_pubmed_bytes(data)
    assert article.title == "10(6) cells/kg"
    assert article.abstract == "RESULTS: IC50 of 3 × 10(-9) M; ml-1"
    assert not re.search(r"\s{2}", article.abstract)
