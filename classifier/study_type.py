"""Study type / evidence level, from publication types, MeSH, and the text when those are missing.

PubMed's publication types are the best evidence and decide first; records fresh
from PubMed often carry only "Journal Article", so the MeSH check-tags (Animals
without Humans) and the wording of title and abstract decide. A trial the abstract
describes outranks MeSH's cohort tags: NLM tags randomised trials "Prospective
Studies" too, and on the shared corpus that made 298 described RCTs "observational".
Keys and their order are ``corpus.evidence.STUDY_TYPES``.
"""

from __future__ import annotations

import re

from classifier.documents import record_text
from corpus.article import Article

# Publication type -> study type, strongest first (NLM's publication-type list).
DESIGN_PUBLICATION_TYPES: list[tuple[str, tuple[str, ...]]] = [
    ("meta_analysis", ("Meta-Analysis", "Network Meta-Analysis")),
    ("systematic_review", ("Systematic Review",)),
    ("rct", ("Randomized Controlled Trial", "Equivalence Trial")),
    ("clinical_trial", ("Clinical Trial", "Clinical Trial, Phase I", "Clinical Trial, Phase II", "Clinical Trial, Phase III",
                        "Clinical Trial, Phase IV", "Controlled Clinical Trial", "Pragmatic Clinical Trial", "Adaptive Clinical Trial")),
    ("observational", ("Observational Study", "Validation Study", "Twin Study")),
    ("case_report", ("Case Reports",)),
]
REVIEW_PUBLICATION_TYPES = frozenset(
    {"Review", "Scoping Review", "Editorial", "Comment", "Letter", "News", "Guideline", "Practice Guideline",
     "Consensus Development Conference", "Lecture", "Historical Article"}
)
# Check-tags of trial methods (records indexed before NLM had trial publication types carry only these).
TRIAL_MESH: list[tuple[str, frozenset[str]]] = [
    ("rct", frozenset({"Random Allocation"})),
    ("clinical_trial", frozenset({"Double-Blind Method", "Single-Blind Method", "Cross-Over Studies"})),
]
OBSERVATIONAL_MESH = frozenset(
    {"Cohort Studies", "Prospective Studies", "Retrospective Studies", "Cross-Sectional Studies",
     "Case-Control Studies", "Longitudinal Studies", "Follow-Up Studies", "Registries"}
)

_SYNTHESIS = [
    ("meta_analysis", re.compile(r"meta-?analy[sz]", re.I)),
    ("systematic_review", re.compile(r"systematic(ally)? (literature )?review|scoping review|umbrella review", re.I)),
]
_ANIMAL = re.compile(r"\b(rats?|mice|mouse|murine|rodents?|guinea pigs?|rabbits?|dogs|sheep|monkeys|primates|zebrafish"
                     r"|in vitro|cell lines?|cultured (cells|neurons)|knock-?out|sprague|wistar)\b", re.I)
# People studied (not "clinical", which preclinical abstracts use for the relevance of their work).
_HUMAN = re.compile(r"\b(patients?|volunteers?|participants?|subjects|women|men|children|adults|humans?)\b", re.I)
_TEXT_DESIGNS = [
    ("rct", re.compile(r"\brandomi[sz]ed,? (double-blind(ed)?,? |single-blind(ed)?,? |placebo-controlled,? |controlled,? |crossover,? )*"
                       r"(clinical )?(trial|study)\b|\brandomly (assigned|allocated|divided)|\bwere randomi[sz]ed\b", re.I)),
    ("clinical_trial", re.compile(r"\b(open-label|single-arm|phase (i|ii|iii|iv|1|2|3|4)\b|clinical trial|double-blind|placebo-controlled)", re.I)),
    ("observational", re.compile(r"\b(cohort|retrospective|prospective(ly)?|cross-sectional|case-control|registry|population-based"
                                 r"|observational|survey|database|chart review|claims data)\b", re.I)),
    ("case_report", re.compile(r"\b(case report|case series|we (report|describe|present) (a|an|the|two|three)\b|\d+-year-old"
                               r"|a case of|(a|one|this|our) patient (with|who|whose))\b", re.I)),
    ("review", re.compile(r"\b(reviews?|overview|we discuss|editorial|commentary|perspective|guidelines?"
                          r"|this (article|paper) (describes|discusses|summari[sz]es))\b", re.I)),
]
# A title that announces a review decides before the abstract's mentions of trials ("clinical trials show...").
_REVIEW_TITLE = re.compile(r"\b(review|overview|update|current concepts|an approach|perspectives?|editorial|commentary|guidelines?)\b", re.I)
_STUDY_TITLE = re.compile(r"\b(trial|randomi[sz]ed|case|study|patients)\b", re.I)


def study_type(article: Article) -> str:
    """One key of ``corpus.evidence.STUDY_TYPES``; 'other' when nothing tells."""
    types = set(article.publication_types)
    for name, names in DESIGN_PUBLICATION_TYPES:
        if types.intersection(names):
            return name
    text = record_text(article)
    for name, pattern in _SYNTHESIS:
        if pattern.search(text):
            return name
    if types & REVIEW_PUBLICATION_TYPES:
        return "review"
    mesh = set(article.mesh_terms)
    if "Animals" in mesh and "Humans" not in mesh:
        return "preclinical"
    worded = study_type_from_text(text, article.title, has_mesh=bool(mesh))
    if worded in ("rct", "clinical_trial"):
        return worded  # NLM tags trials "Prospective Studies" too: a trial the abstract describes stays a trial
    for name, names in TRIAL_MESH:
        if mesh & names:
            return name
    if mesh & OBSERVATIONAL_MESH:
        return "observational"
    return worded


def study_type_from_text(text: str, title: str = "", has_mesh: bool = False) -> str:
    """The wording decides: animal or in-vitro work (named in the title, or without people in the
    abstract) is preclinical, then designs by strength."""
    if not has_mesh and (
        (_ANIMAL.search(title) and not _HUMAN.search(title)) or (_ANIMAL.search(text) and not _HUMAN.search(text))
    ):
        return "preclinical"
    if _REVIEW_TITLE.search(title) and not _STUDY_TITLE.search(title):
        return "review"
    for name, pattern in _TEXT_DESIGNS:
        if pattern.search(text):
            return name
    return "other"
