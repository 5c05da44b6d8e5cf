"""Study type and key finding, on hand-made cases and on real records of the shared corpus."""

from __future__ import annotations

import pytest

from classifier.key_finding import MAX_CHARACTERS, is_boilerplate, key_finding, leans_back, split_sentences
from classifier.study_type import study_type
from corpus.article import AbstractSection, Article, MeshHeading
from corpus.evidence import STUDY_TYPES
from harvester.jsonl import parse_jsonl
from harvester.pubmed_xml import parse_pubmed_xml


def test_sentences_do_not_split_at_abbreviations_decimals_or_p_values():
    text = "Pain fell 1.5 points vs. placebo (P < .05), e.g. at rest. Smith J. et al. agreed. It works."
    assert split_sentences(text) == ["Pain fell 1.5 points vs. placebo (P < .05), e.g. at rest.", "Smith J. et al. agreed.", "It works."]


@pytest.fixture(scope="module")
def corpus_records(shared_data) -> dict[str, Article]:
    with open(shared_data / "corpus.jsonl", encoding="utf-8") as handle:
        return {article.pmid: article for article in parse_jsonl(handle)}


def _unstructured(text: str) -> Article:
    return Article("1", abstract_sections=[AbstractSection(text)])


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("They got 10 mg morphine i.v. Nausea was rare.", ["They got 10 mg morphine i.v.", "Nausea was rare."]),
        ("It failed to show superiority of i.v. PCA over s.c. bolus dosing. It was safe.",
         ["It failed to show superiority of i.v. PCA over s.c. bolus dosing.", "It was safe."]),
        ("Ibuprofen 800 mg t.i.d. (P < 0.05 v. placebo) helped.", ["Ibuprofen 800 mg t.i.d. (P < 0.05 v. placebo) helped."]),
        ("Infusions lasted 30 min. Pain fell.", ["Infusions lasted 30 min.", "Pain fell."]),
        ("Nausea was worse in group B. Time to discharge did not differ.", ["Nausea was worse in group B.", "Time to discharge did not differ."]),
        ("Grading followed Brooker et al. Our study shows less ossification.", ["Grading followed Brooker et al.", "Our study shows less ossification."]),
        ("The U.S. Food and Drug Administration approved it. Fig. 2 shows approx. 20% fewer.",
         ["The U.S. Food and Drug Administration approved it.", "Fig. 2 shows approx. 20% fewer."]),
        ("Sleep improved.(ABSTRACT TRUNCATED AT 250 WORDS)", ["Sleep improved.", "(ABSTRACT TRUNCATED AT 250 WORDS)"]),
        ("Survival improved. © 2015 Wiley Periodicals, Inc. Head Neck 38: 10-12, 2016.",
         ["Survival improved.", "© 2015 Wiley Periodicals, Inc.", "Head Neck 38: 10-12, 2016."]),
    ],
)
def test_sentences_end_after_route_and_unit_abbreviations_only_before_a_new_sentence(text, sentences):
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    "trailer",
    [
        "This article is protected by copyright. All rights reserved.",
        "Copyright © 2012 John Wiley & Sons, Ltd.",
        "© 2015 Wiley Periodicals, Inc. Head Neck 38: E665-E672, 2016.",
        "Cancer Res; 78(5); 1214-24. ©2018 AACR.",
        "(PsycInfo Database Record (c) 2022 APA, all rights reserved).",
        "Trial registration: ClinicalTrials.gov NCT01234567.",
        "Level of Evidence: IV.",
        "(Funded by the National Institutes of Health.)",
        "(ABSTRACT TRUNCATED AT 250 WORDS)",
    ],
)
def test_publisher_matter_after_the_abstract_is_never_the_key_finding(trailer):
    finding = key_finding(_unstructured(f"Twenty patients took part. Ketamine reduced hyperalgesia. {trailer}"))
    assert finding == "Twenty patients took part. Ketamine reduced hyperalgesia."
    conclusions = Article("2", abstract_sections=[AbstractSection(f"Ketamine helps. {trailer}", "CONCLUSIONS", "CONCLUSIONS")])
    assert key_finding(conclusions) == "Ketamine helps."


@pytest.mark.parametrize(
    "label",
    ["DATABASE", "DATA AVAILABILITY", "Availability and implementation", "CLINICAL TRIAL REGISTRATION", "FUNDING",
     "CONFLICT OF INTEREST", "ETHICS AND DISSEMINATION", "KEYWORDS", "LEVEL OF EVIDENCE"],
)
def test_a_section_of_publisher_matter_is_never_the_key_finding(label):
    """By its label, whatever its sentences say; the finding is the closing sentences of the section before it."""
    article = Article("1", abstract_sections=[
        AbstractSection("Twenty patients took part. Ketamine reduced hyperalgesia."),
        AbstractSection("Structural data are available under the number 6FL5.", label),
    ])
    assert key_finding(article) == "Twenty patients took part. Ketamine reduced hyperalgesia."


def test_a_key_finding_never_crosses_from_one_section_into_the_next():
    """The closing sentences come from the last section; a finding holds no line break."""
    labelled = Article("1", abstract_sections=[
        AbstractSection("PCR and direct sequencing of BRCA2 gene.", "METHODS", "METHODS"),
        AbstractSection("Identification of a novel mutation of BRCA2 gene.", "RESULTS", "RESULTS"),
    ])
    assert key_finding(labelled) == "Identification of a novel mutation of BRCA2 gene."
    paragraphs = Article("2", abstract_sections=[
        AbstractSection("Pain fell in both groups. Sleep improved."), AbstractSection("Ketamine helps."),
    ])
    assert key_finding(paragraphs) == "Ketamine helps."
    copyright_only = Article("3", abstract_sections=[
        AbstractSection("Pain fell. Ketamine helps."), AbstractSection("Copyright © 2012 John Wiley & Sons, Ltd."),
    ])
    assert key_finding(copyright_only) == "Pain fell. Ketamine helps."


@pytest.mark.parametrize(
    ("file", "pmid", "expected"),
    [
        ("xizhou+pubMR__pubmed_result.xml", "30035852",
         "Our data reveal that in these cell lines de novo thymidylate synthesis requires SHMT1 to be active, "
         "regardless of its oligomeric state. We have also confirmed that the crosstalk between the cytosolic and "
         "mitochondrial SHMT actually takes place and regulates the expression of the two isoforms. Apparently, the "
         "crosstalk mechanism is independent from the oligomeric state and the catalytic activity of SHMT1."),
        ("sk8erjs69+sr-project__test-files__pubmed_result.xml", "25320599",
         "Identification of novel heterozygous germline mutation c.6428C>A ; p.Ser2143Stop of BRCA2 gene."),
        ("solitude6060+Fulltext_search__data__pubmed_result.xml", "24459938",
         "nasopharyngeal nonkeratinizing squamous cell carcinoma (T4N2M0 stage IV)."),
    ],
)
def test_real_key_findings_stay_in_their_last_section(shared_data, file, pmid, expected):
    """30035852's took in its 'DATABASE:' PDB accession line, 25320599's its METHODS, 24459938's a case sentence."""
    records = parse_pubmed_xml(shared_data / "pubmed-xml" / "exports" / file)
    assert key_finding(next(r for r in records if getattr(r, "pmid", None) == pmid)) == expected


def test_a_finding_never_starts_on_a_connective_without_the_sentence_it_leans_on():
    text = ("Twelve volunteers took part. Ketamine abolished the hyperalgesia after remifentanil. "
            "In contrast, clonidine eased the pain ratings. Different mechanisms may underlie the two.")
    assert key_finding(_unstructured(text)) == (
        "Ketamine abolished the hyperalgesia after remifentanil. In contrast, clonidine eased the pain ratings. "
        "Different mechanisms may underlie the two."
    )
    alone = "Twelve volunteers took part. In contrast to placebo, ketamine abolished it. Mechanisms differ."
    assert key_finding(_unstructured(alone)) == "In contrast to placebo, ketamine abolished it. Mechanisms differ."


def test_a_connective_does_not_take_in_a_results_list_before_it(corpus_records):
    text = ("Forty took part. Pain fell (VAS 12 +/- 1 vs 25 +/- 11, P < 0.001) and fewer needed rescue (57% vs 96%, P < 0.001). "
            "In addition, no late complications were seen. Epidural M-ADL was safe and effective.")
    assert key_finding(_unstructured(text)) == "In addition, no late complications were seen. Epidural M-ADL was safe and effective."
    one = "Forty took part. Injection pain was less after tramadol (P < 0.05). In addition, tramadol was as good as lignocaine."
    assert key_finding(_unstructured(one)) == "Injection pain was less after tramadol (P < 0.05). In addition, tramadol was as good as lignocaine."
    real = key_finding(corpus_records["11841719"])  # its results list was 1,016 of the finding's 1,316 characters
    assert real.startswith("In addition, at 1 year of follow-up") and real.endswith("improved postoperative pain control and return to function.")


def test_a_long_finding_loses_whole_sentences_away_from_its_conclusion():
    """Never cut inside one; the conclusion stays: a closing one is the last, a CONCLUSIONS section's or a cue's the first."""
    long = "A finding of many words stands here" + ", and more" * 60 + "."
    closing = key_finding(_unstructured(f"Forty took part. {long} The method is safe."))
    assert closing == "The method is safe."
    leaning = key_finding(_unstructured(f"Forty took part. {long} However, it was {'very ' * 60}slow. The method is safe."))
    assert leaning == "The method is safe."  # 'However, ...' leans on the sentence left out
    section = Article("1", abstract_sections=[AbstractSection(f"Ketamine helps. {long} More work is needed.", "CONCLUSIONS", "CONCLUSIONS")])
    assert key_finding(section) == "Ketamine helps."
    cue = key_finding(_unstructured(f"Forty took part. Pain fell. In conclusion, ketamine helps. {long}"))
    assert cue == "In conclusion, ketamine helps."
    assert key_finding(_unstructured(f"Forty took part. {long}")) == long  # one sentence stays whole, however long
    contrast = f"However, it was {'very ' * 40}slow."
    both = key_finding(_unstructured(f"Forty took part. {long} {contrast}"))
    assert both == f"{long} {contrast}"  # 'However, ...' never stands alone: both stay, over the cap
    assert len(long) > MAX_CHARACTERS


def test_a_closing_statistic_gives_way_to_the_conclusion_after_it():
    text = "Forty women took part. Nine rated analgesia as excellent (p = 0.74). Epidural fentanyl gives effective analgesia."
    assert key_finding(_unstructured(text)) == "Epidural fentanyl gives effective analgesia."
    results_only = "Forty women took part. Pain fell (p = 0.02). Sleep improved (p = 0.04)."
    assert key_finding(_unstructured(results_only)) == "Pain fell (p = 0.02). Sleep improved (p = 0.04)."
    results_last = "Forty took part. Analgesia lasted 15.4 +/- 5.1 h. Only 10% needed more."
    assert key_finding(_unstructured(results_last)) == "Analgesia lasted 15.4 +/- 5.1 h. Only 10% needed more."


def test_it_was_concluded_is_a_concluding_cue():
    text = "Forty took part. Pain fell. It was concluded that ketamine helps. Implications are discussed."
    assert key_finding(_unstructured(text)) == "It was concluded that ketamine helps. Implications are discussed."


@pytest.mark.parametrize(
    ("pmid", "start"),
    [
        ("12826855", "Opioid-induced postinfusion hyperalgesia could be abolished by S-ketamine"),
        ("9834808", "PCA with CSA was more effective"),
        ("11892635", "Epidural fentanyl can produce effective analgesia"),
        ("23600800", "These data suggest a novel interaction between CASK and P2X3 receptors"),
    ],
)
def test_real_key_findings_start_where_the_finding_does(corpus_records, pmid, start):
    assert key_finding(corpus_records[pmid]).startswith(start)


def test_key_finding_is_the_conclusions_section_verbatim():
    article = Article("1", abstract_sections=[
        AbstractSection("We did things.", "BACKGROUND", "BACKGROUND"),
        AbstractSection("Ketamine reduced hyperalgesia. Effects lasted 2 days. More work is needed. A fourth.", "CONCLUSIONS", "CONCLUSIONS"),
    ])
    assert key_finding(article) == "Ketamine reduced hyperalgesia. Effects lasted 2 days. More work is needed."


def test_key_finding_of_an_unstructured_abstract_starts_at_a_concluding_cue():
    text = "Methods were used. Results were found. In conclusion, tapering  helped. It was safe."
    assert key_finding(Article("2", abstract_sections=[AbstractSection(text)])) == "In conclusion, tapering  helped. It was safe."


def test_a_conclusions_heading_glued_between_sentences_starts_the_key_finding(shared_data):
    text = ("Study DesignCohort study.MethodsWe looked.ResultsPain fell (P = .01).ConclusionOur results favour ketamine. "
            "More trials are needed.")
    assert key_finding(_unstructured(text)) == "Our results favour ketamine. More trials are needed."
    assert key_finding(_unstructured("Pain fell.Conclusively, it worked. It was safe.")) == "Pain fell.Conclusively, it worked. It was safe."
    real = next(iter(parse_pubmed_xml(shared_data / "pubmed-xml" / "metapub" / "38856741.xml")))  # as PubMed has it
    assert key_finding(real).startswith("Our results demonstrate that following radiation, bone density increased")


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
        ([], [], "In a randomized, open injection, double blind experimental design, pain was recorded.", "rct"),
        ([], [], "Pain in 16 patients on methadone and 16 matched control subjects.", "observational"),
        ([], [], "Eight cancer patients developed hyperalgesia. All cases were retrospectively sampled.", "case_report"),
        ([], [], "Patients were randomly assigned to PCA or IM. Subsequent meta-analyses have also failed.", "rct"),
        ([], [], "Hyperalgesia grades in oral cancer. Their significance in a meta-analysis may prove useful.", "other"),
        ([], [], "We performed a meta-analysis of 12 trials of ketamine.", "meta_analysis"),
        ([], [], "We searched MEDLINE for trials of ketamine; a meta-analysis used random-effects models.", "meta_analysis"),
        ([], [], "Trials were identified by searching MEDLINE and Embase. This systematic review found ten.", "systematic_review"),
        (["Review"], [], "We searched MEDLINE and Embase; the systematic review found ten trials.", "systematic_review"),
        (["Practice Guideline"], [], "We conducted a systematic review and meta-analysis to inform it.", "review"),
        ([], [], "Summary of the clinical practice guideline. Ten systematic reviews and meta-analyses were its basis.", "review"),
        ([], [], "This review was based on published reports of placebo-controlled clinical trials.", "review"),
        ([], [], "We report a case of allodynia in a 54-year-old man, with a brief review of the literature.", "case_report"),
        ([], [], "Additional randomized studies are needed to confirm this prospective study.", "observational"),
        ([], ["Animals", "Humans", "Rats"], "New COX-2 inhibitors were tested in vitro in human whole blood and in vivo; "
                                             "the best is now undergoing Phase I clinical trials.", "preclinical"),
    ],
)
def test_study_type(publication_types, mesh, text, expected):
    title, *rest = split_sentences(text) or [""]  # the first sentence is the title
    article = Article("1", title=title, abstract_sections=[AbstractSection(" ".join(rest))] if rest else [],
                      publication_types=publication_types, mesh=[MeshHeading(m) for m in mesh])
    assert study_type(article) == expected


def test_every_real_record_gets_a_known_study_type_and_a_verbatim_key_finding(corpus_records):
    seen = set()
    for article in corpus_records.values():
        kind = study_type(article)
        assert kind in STUDY_TYPES
        seen.add(kind)
        finding = key_finding(article)
        assert finding in article.abstract and "\n" not in finding, article.pmid
        assert bool(finding) == bool(article.abstract.strip())
        sentences = split_sentences(finding)  # over the length: one sentence, and those leaning on it ('However, ...')
        assert len(finding) <= MAX_CHARACTERS or all(leans_back(sentence) for sentence in sentences[1:]), article.pmid
        assert not any(is_boilerplate(sentence) for sentence in split_sentences(finding)), article.pmid
    assert {"rct", "preclinical", "observational", "review", "case_report"} <= seen


@pytest.mark.parametrize(
    ("pmid", "expected"),
    [("10534607", "rct"), ("11166974", "observational"), ("8278214", "case_report"), ("9104663", "rct"), ("12877584", "preclinical")],
)
def test_real_records_get_the_design_they_describe(corpus_records, pmid, expected):
    assert study_type(corpus_records[pmid]) == expected


def test_a_guideline_built_on_meta_analyses_is_not_one(shared_data):
    guideline = next(iter(parse_pubmed_xml(shared_data / "pubmed-xml" / "metapub" / "34843274.xml")))
    assert study_type(guideline) == "review"


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
