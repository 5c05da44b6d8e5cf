"""Study type / evidence level, from publication types, MeSH, and the text when those are missing.

PubMed's publication types are the best evidence and decide first; records fresh
from PubMed often carry only "Journal Article", so the MeSH check-tags (Animals
without Humans) and the wording of title and abstract decide. A trial the abstract
describes outranks MeSH's cohort tags: NLM tags randomised trials "Prospective
Studies" too, and on the shared corpus that made 298 described RCTs "observational".
A meta-analysis or systematic review read from the text must be the record itself, not
one it mentions (25 of the 72 the text named on the shared corpus were mentions: trials,
reviews, a guideline), and a guideline or an editorial stays one whatever it cites.
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

# A synthesis only when the record is one: its title says so, or the abstract speaks of its own
# review ("we conducted a meta-analysis", "this systematic review", "were systematically reviewed"),
# or names one beside the methods of one (databases searched, pooled or random-effects estimates).
# A mention alone is not ("Subsequent meta-analyses have also failed ..." in a trial of PCA).
_META = r"meta-?analy[sz](is|es)"
_REVIEW = r"systematic(ally)? (literature )?review|scoping review|umbrella review"
_SYNTHESIS_TITLE = re.compile(rf"{_META}|metaanalysis|{_REVIEW}", re.I)
_SYNTHESIS_SELF = re.compile(
    rf"\b(we|authors?) ([\w-]+ ){{0,2}}?(performed|conducted|undertook|carried out|did|present|report|used|update)d? "
    rf"(an? |the |our )?([\w-]+ ){{0,2}}?({_META}|{_REVIEW})"
    rf"|\b(this|the present|the current|our|present) ([\w-]+ )?({_META}|{_REVIEW})"
    rf"|\bto (conduct|perform|undertake|carry out|update) an? ([\w-]+ ){{0,2}}?({_META}|{_REVIEW})|\bto systematically review"
    rf"|\b({_META}|{_REVIEW})\b[^.;]{{0,100}}?\b(was|were) (performed|conducted|undertaken|carried out|done)\b"
    rf"|\b(combined|pooled)\b[^.;]{{0,60}}\bin an? {_META}|\b(was|were) systematically reviewed|\ban? systematic review and {_META} of\b",
    re.I,
)
_POOLING = re.compile(r"\brandom[- ]effects?|\bfixed[- ]effects? (model|meta)|\bpooled (estimate|effect|odds|risk|relative|mean|standardi[sz]ed|analysis)"
                      r"|\bforest plot", re.I)
_SEARCHING = re.compile(r"\b(searched|search strategy|literature search|electronic databases?|MEDLINE|PubMed|EMBASE|Cochrane (Library|Central|Controlled)"
                        r"|(studies|trials|articles) (were|was) (included|identified|selected|retrieved)|(eligible|included) (studies|trials))\b", re.I)
_META_MENTION = re.compile(_META + "|metaanalysis", re.I)
_REVIEW_MENTION = re.compile(_REVIEW, re.I)
_ANIMAL = re.compile(r"\b(rats?|mice|mouse|murine|rodents?|guinea pigs?|rabbits?|dogs|sheep|monkeys|primates|zebrafish"
                     r"|in vitro|cell lines?|cultured (cells|neurons)|knock-?out|sprague|wistar)\b", re.I)
# People studied (not "clinical", which preclinical abstracts use for the relevance of their work).
# "Human" alone is often material ("human whole blood", "human cell lines"), not people studied.
_HUMAN = re.compile(r"\b(patients?|volunteers?|participants?|subjects|women|men|children|adults|humans)\b", re.I)
_HUMAN_TITLE = re.compile(_HUMAN.pattern + r"|\bhuman\b", re.I)  # "... on the human HPA axis in vivo and in vitro"
# An abstract that opens on a handful of patients ("Eight cancer patients ... developed hyperalgesia")
# is a case series even when they were "retrospectively sampled".
_CASES = re.compile(r"^(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) (?!hundred|thousand)([\w-]+ ){0,3}?(patients|cases)\b"
                    r"|\breport of (\w+ )?(two|three|four|five|six|seven|eight|nine|ten|\d) cases\b|\b(case report|case series|a case of)\b"
                    r"|\bwe (report|describe|present) (a|an|the|two|three)\b", re.I | re.M)
_TEXT_DESIGNS = [
    # "randomized, open injection, double blind experimental design": the design words within one clause
    # (not "randomized studies are needed": others' trials, in the plural)
    ("rct", re.compile(r"\brandomi[sz]ed\b(?!,? (\w+ )?(studies|trials)\b)[\w ,/-]{0,60}?\b(trial|study|design|experiment|manner|fashion)\b"
                       r"|\brandomly (assigned|allocated|divided)|\bwere randomi[sz]ed\b", re.I)),
    ("clinical_trial", re.compile(r"\b(open[- ]label|single[- ]arm|phase (i|ii|iii|iv|1|2|3|4)\b|clinical trial|double[- ]blind|placebo[- ]controlled)", re.I)),
    ("case_report", _CASES),
    ("observational", re.compile(r"\b(cohort|retrospective(ly)?|prospective(ly)?|cross-sectional|case-control|registry|population-based"
                                 r"|observational|survey|database|chart review|claims data|matched ([\w-]+ ){0,2}?controls?|control subjects)\b", re.I)),
    ("case_report", re.compile(r"\b(\d+-year-old|(a|one|this|our) patient (with|who|whose))\b", re.I)),
    ("review", re.compile(r"\b(reviews?|overview|we discuss|editorial|commentary|perspective|guidelines?"
                          r"|this (article|paper) (describes|discusses|summari[sz]es))\b", re.I)),
]
# A title that announces a review decides before the abstract's mentions of trials ("clinical trials show...").
_REVIEW_TITLE = re.compile(r"\b(review|overview|update|current concepts|an approach|perspectives?|editorial|commentary|guidelines?)\b", re.I)
# An abstract that calls itself a review, before the trials it reviews ("This review was based on ... trials"),
# unless it reports cases ("a case report and a brief review of the literature").
_REVIEW_SELF = re.compile(r"\b(this|the present|our) ([\w-]+ )?review\b(?! (board|committee|process))|\b(a|an) (brief|selective|narrative|short|critical|comprehensive) review\b"
                          r"|\bwe (briefly )?review\b|\b(this|the present) (article|paper|chapter) (reviews|summari[sz]es)\b", re.I)
_STUDY_TITLE = re.compile(r"\b(trial|randomi[sz]ed|case|study|patients)\b", re.I)


def study_type(article: Article) -> str:
    """One key of ``corpus.evidence.STUDY_TYPES``; 'other' when nothing tells, and for a notice
    (retraction, erratum), whose text is the retracted trial's but which is no evidence itself."""
    if article.is_notice:
        return "other"
    types = set(article.publication_types)
    for name, names in DESIGN_PUBLICATION_TYPES:
        if types.intersection(names):
            return name
    if types & (REVIEW_PUBLICATION_TYPES - {"Review"}):
        return "review"  # a guideline or an editorial built on meta-analyses is still a guideline or an editorial
    text = record_text(article)
    synthesis = synthesis_type(article.title, text)
    if synthesis:
        return synthesis
    if "Review" in types:
        return "review"
    mesh = set(article.mesh_terms)
    if "Animals" in mesh and "Humans" not in mesh:
        return "preclinical"
    # MeSH "Humans" beside "Animals" is often human material ("human whole blood" assays): the wording decides
    worded = study_type_from_text(text, article.title, humans_only=bool(mesh) and "Animals" not in mesh)
    if worded in ("rct", "clinical_trial"):
        return worded  # NLM tags trials "Prospective Studies" too: a trial the abstract describes stays a trial
    for name, names in TRIAL_MESH:
        if mesh & names:
            return name
    if mesh & OBSERVATIONAL_MESH:
        return "observational"
    return worded


def synthesis_type(title: str, text: str) -> str:
    """'meta_analysis' or 'systematic_review' when the record is one, else ''."""
    titled = _SYNTHESIS_TITLE.search(title)
    meta, review = _META_MENTION.search(text), _REVIEW_MENTION.search(text)
    if not (titled or meta or review):
        return ""  # the costly patterns below all need one of these words
    own = titled or _SYNTHESIS_SELF.search(text)
    pooled = meta and _POOLING.search(text)
    if own:
        return "meta_analysis" if _META_MENTION.search(own.group(0)) or pooled else "systematic_review"
    if pooled:
        return "meta_analysis"
    if _SEARCHING.search(text):  # a review or meta-analysis word is there (checked above)
        return "systematic_review"
    return ""


def study_type_from_text(text: str, title: str = "", humans_only: bool = False) -> str:
    """The wording decides: a review that says so (of animal work too), then animal or in-vitro work
    (named in the title, or without people in the abstract) is preclinical unless MeSH says only
    humans were studied, then designs by strength."""
    if (_REVIEW_TITLE.search(title) and not _STUDY_TITLE.search(title)) or (_REVIEW_SELF.search(text) and not _CASES.search(text)):
        return "review"
    if not humans_only and (
        (_ANIMAL.search(title) and not _HUMAN_TITLE.search(title)) or (_ANIMAL.search(text) and not _HUMAN.search(text))
    ):
        return "preclinical"
    for name, pattern in _TEXT_DESIGNS:
        if pattern.search(text):
            return name
    return "other"
