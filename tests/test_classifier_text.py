"""Study type and key finding, on hand-made cases and on real records of the shared corpus."""

from __future__ import annotations

import pytest

from classifier.key_finding import key_finding, split_sentences
from classifier.study_type import study_type
from corpus.article import AbstractSection, Article, MeshHeading
from corpus.evidence import STUDY_TYPES
from harvester.jsonl import parse_jsonl


def test_sentences_do_not_split_at_abbreviations_decimals_or_p_values():
    text = "Pain fell 1.5 points vs. placebo (P < .05), e.g. at rest. Smith J. et al. agreed. It works."
    assert split_sentences(text) == ["Pain fell 1.5 points vs. placebo (P < .05), e.g. at rest.", "Smith J. et al. agreed.", "It works."]


def test_key_finding_is_the_conclusions_section_verbatim():
    article = Article("1", abstract_sections=[
        AbstractSection("We did things.", "BACKGROUND", "BACKGROUND"),
        AbstractSection("Ketamine reduced hyperalgesia. Effects lasted 2 days. More work is needed. A fourth.", "CONCLUSIONS", "CONCLUSIONS"),
    ])
    assert key_finding(article) == "Ketamine reduced hyperalgesia. Effects lasted 2 days. More work is needed."


def test_key_finding_of_an_unstructured_abstract_starts_at_a_concluding_cue():
    text = "Methods were used. Results were found. In conclusion, tapering  helped. It was safe."
    assert key_finding(Article("2", abstract_sections=[AbstractSection(text)])) == "In conclusion, tapering  helped. It was safe."


def test_key_finding_without_abstract_is_empty():
    assert key_finding(Article("3", title="Only a title")) == ""


@pytest.mark.parametrize(
    ("publication_types", "mesh", "text", "expected"),
    [
        (["Journal Article", "Meta-Analysis", "Review"], [], "", "meta_analysis"),
        (["Randomized Controlled Trial"], [], "", "rct"),
        (["Case Reports"], [], "", "case_report"),
        (["Editorial"], [], "", "review"),
        ([], ["Animals", "Rats"], "Morphine was given.", "preclinical"),
        ([], [], "Rats received intrathecal morphine for 7 days.", "preclinical"),
        ([], [], "Sixty patients were randomly assigned to ketamine or saline.", "rct"),
        ([], [], "A systematic review of tapering studies.", "systematic_review"),
        ([], [], "A retrospective cohort of 2,000 patients.", "observational"),
        ([], ["Humans", "Prospective Studies", "Double-Blind Method"], "Patients were randomized to ropivacaine or saline.", "rct"),
        ([], ["Humans", "Prospective Studies", "Double-Blind Method"], "Wound infiltration after hysterectomy.", "clinical_trial"),
        ([], ["Humans", "Prospective Studies"], "Pain after hysterectomy.", "observational"),
        ([], [], "Update on opioid-induced hyperalgesia. Clinical trials of ketamine show less pain.", "review"),
        ([], [], "A case of narcotic bowel syndrome treated with clonidine.", "case_report"),
        ([], [], "The charts of 40 women were reviewed for pain scores.", "other"),
        ([], [], "We report a 54-year-old man with allodynia.", "case_report"),
        ([], [], "", "other"),
    ],
)
def test_study_type(publication_types, mesh, text, expected):
    article = Article("1", title=text, publication_types=publication_types, mesh=[MeshHeading(m) for m in mesh])
    assert study_type(article) == expected


def test_every_real_record_gets_a_known_study_type_and_a_verbatim_key_finding(shared_data):
    seen = set()
    with open(shared_data / "corpus.jsonl", encoding="utf-8") as handle:
        articles = list(parse_jsonl(handle))
    for article in articles:
        kind = study_type(article)
        assert kind in STUDY_TYPES
        seen.add(kind)
        finding = key_finding(article)
        assert finding in article.abstract
        assert bool(finding) == bool(article.abstract.strip())
    assert {"rct", "preclinical", "observational", "review", "case_report"} <= seen


def test_animal_study_named_in_the_title_is_preclinical_even_when_it_speaks_of_clinical_use():
    article = Article(
        "1", title="Effects of a saponin on opioid-induced hyperalgesia in mice.",
        abstract_sections=[AbstractSection("OIH can limit the clinical use of opioid analgesics. Hyperalgesia was "
                                           "measured after repeated morphine; the saponin prevented it.")],
    )
    assert study_type(article) == "preclinical"
    people = Article("2", title="Hyperalgesia after remifentanil in patients and in mice",
                     abstract_sections=[AbstractSection("We compared patients with a mouse model.")])
    assert study_type(people) != "preclinical"
