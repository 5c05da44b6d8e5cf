"""Control characters in a file are dropped when its records are read, by every reader: ESC, CSI, NUL, BEL
and DEL stored as they came would reach a terminal through ``search``, and the exports and the e-mail."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from corpus.article import AbstractSection, Article
from harvester.files import read_records
from harvester.text import one_line, without_controls

# C0 but tab and line feed, DEL, C1: what no stored text may hold.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ESC, CSI, NUL, BEL, DEL = "\x1b", "\x9b", "\x00", "\x07", "\x7f"
TITLE = f"Ketamine {ESC}[2J{ESC}]0;title{BEL}and {CSI}31mopioids{NUL} in {DEL}pain"
ABSTRACT = f"BACKGROUND: Pain{BEL}.\nCONCLUSIONS: Less{CSI}0m pain."


def strings(value: object):
    """Every text an ``Article`` stores but its raw XML (kept as PubMed sent it, for a later parser)."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            if field.name != "raw_xml":
                yield from strings(getattr(value, field.name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def jsonl(tmp_path: Path) -> Path:
    record = {"pmid": "7", "title": TITLE, "abstract": ABSTRACT, "authors": [f"Sm{NUL}ith, J{CSI}31m", f"OIH{BEL} Group"],
              "collective_authors": [f"OIH{BEL} Group"], "journal": f"Pa{NUL}in", "doi": f"10.1/{ESC}[5m",
              "keywords": [f"k{DEL}et"], "mesh": [f"Keta{CSI}mine"],
              "abstract_sections": [{"label": "BACKGROUND", "text": f"Pain{BEL}."}, {"label": "CONCLUSIONS", "text": f"Less{CSI}0m pain."}]}
    path = tmp_path / "hostile.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def csv(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.csv"
    path.write_text(f'pmid,title,authors,journal,doi,keywords,mesh,abstract\n7,{TITLE},"Sm{NUL}ith, J{CSI}31m; OIH{BEL} Group",'
                    f'Pa{NUL}in,10.1/{ESC}[5m,k{DEL}et,Keta{CSI}mine,"{ABSTRACT}"\n', encoding="utf-8", newline="")
    return path


def ris(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.ris"
    path.write_text(f"TY  - JOUR\nAN  - 7\nTI  - {TITLE}\nAU  - Sm{NUL}ith, J{CSI}31m\nAU  - OIH{BEL} Group\nJO  - Pa{NUL}in\n"
                    f"DO  - 10.1/{ESC}[5m\nKW  - k{DEL}et\nAB  - {ABSTRACT.replace(chr(10), ' ')}\nER  - \n", encoding="utf-8")
    return path


def medline(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.nbib"
    path.write_text(f"PMID- 7\nTI  - {TITLE}\nAB  - {ABSTRACT.replace(chr(10), ' ')}\nFAU - Sm{NUL}ith, J{CSI}31m\nAU  - Smith J\n"
                    f"CN  - OIH{BEL} Group\nJT  - Pa{NUL}in\nLID - 10.1/{ESC}[5m [doi]\nOT  - k{DEL}et\nMH  - Keta{CSI}mine\n"
                    f"SO  - Pain. 2020.\n", encoding="utf-8")
    return path


def pubmed_xml(tmp_path: Path) -> Path:
    """XML 1.0 refuses C0 controls, even as character references; DEL and the C1 controls it takes."""
    title = TITLE.replace(ESC, "").replace(BEL, "").replace(NUL, "").replace(CSI, "&#x9b;").replace(DEL, "&#x7f;")
    path = tmp_path / "hostile.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="1">7</PMID><Article><Journal><Title>Pa&#x9f;in</Title></Journal><ArticleTitle>{title}</ArticleTitle>'
        '<Abstract><AbstractText Label="BACK&#x9b;GROUND">Pain&#x80;.</AbstractText>'
        '<AbstractText Label="CONCLUSIONS">Less&#x9b;0m pain.</AbstractText></Abstract>'
        '<AuthorList><Author><LastName>Sm&#x7f;ith</LastName><ForeName>J&#x9b;31m</ForeName></Author>'
        '<Author><CollectiveName>OIH&#x9f; Group</CollectiveName></Author></AuthorList></Article>'
        '<KeywordList><Keyword>k&#x7f;et</Keyword></KeywordList></MedlineCitation></PubmedArticle></PubmedArticleSet>\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("write", [jsonl, csv, ris, medline, pubmed_xml])
def test_every_reader_drops_control_characters_from_every_field(write, tmp_path):
    (article,) = [r for r in read_records(write(tmp_path)) if isinstance(r, Article)]
    assert [text for text in strings(article) if CONTROL.search(text)] == []
    assert article.title == "Ketamine [2J]0;titleand 31mopioids in pain"
    assert article.abstract_sections == [AbstractSection("Pain.", "BACKGROUND"), AbstractSection("Less0m pain.", "CONCLUSIONS")]
    assert [(a.last, a.fore, a.collective) for a in article.authors] == [("Smith", "J31m", ""), ("", "", "OIH Group")]
    assert (article.journal, article.keywords) == ("Pain", ["ket"])


def test_controls_that_end_a_line_still_end_one_and_tab_and_line_feed_stay():
    assert without_controls("a\tb\nc\r\nd\re\x0bf\x0cg\x1ch\x85i\x1fj\x00k\x7fl\x9bm") == "a\tb\nc\nd\ne\nf\ng\nh\ni j" + "klm"
    assert one_line(" a\tb\r\nc\x1fd\x00e\x07f\x85g ") == "a b c def g"
