"""Key finding: one to three sentences copied verbatim from the abstract, never rewritten nor cut.

The CONCLUSIONS (or INTERPRETATION, IMPLICATIONS) section of a structured abstract
when there is one (also when the labels were flattened into the text as
"CONCLUSIONS: ..."); otherwise the closing sentences, from a concluding cue
("In conclusion", "These results") when one is near the end. Publisher matter that
PubMed keeps at the end of abstracts (copyright lines, trial registration, funding,
"Level of evidence", and whole sections of it: "DATABASE:", "DATA AVAILABILITY:") is
never chosen: 19 shared records had a copyright line in their finding, one as the whole
of it. A finding is taken from one section and never crosses into the next: the
closing sentences are those of the last section that holds more than publisher matter
(30035852's took in its "DATABASE: ... PDB ... 6FL5" line, 25320599's its METHODS), so
a finding never holds a line break. Past ``MAX_CHARACTERS`` whole sentences away from
the conclusion are left out (a results list of 1,316 characters led one finding).
"""

from __future__ import annotations

import re
from itertools import groupby

import re2

from corpus.article import Article

MAX_SENTENCES = 3
# Longer findings lose whole sentences, the ones away from the conclusion. Measured on the 5,779
# shared records (docs/classifier.md): 500 took the main sentence from 4 of 10 changed findings
# read (two sentences of 500-520 characters); 600 from 2 of 19, and shortens 93.
MAX_CHARACTERS = 600
_CONCLUSION_LABEL = re.compile(r"^(main )?(conclusions?|interpretations?|implications?|significance|summary)\b", re.I)
_CONCLUSION_CATEGORY = {"CONCLUSIONS"}
# Sections that are publisher or registration matter by their label, whatever their sentences say:
# "DATABASE: Structural data are available in the PDB under the accession number 6FL5." (30035852),
# "Clinical trial registration ID: ClinicalTrials.gov number, NCT01095302." (29514256).
_PUBLISHER_LABEL = re.compile(
    r"regist|identifier|\bNCT\b|prospero|database|accession|availab|data sharing|funding|financ|sponsor|\bgrants?\b"
    r"|copyright|licen[cs]e|conflicts? of interest|competing interests?|disclosure|declaration|acknowledg|supplementa"
    r"|\bcontact\b|key ?words|level of evidence|evidence level|\bethics\b|dissemination",
    re.I,
)
# "CONCLUSIONS: ..." flattened into the text, or a heading glued between two sentences as some
# publishers send them to PubMed: "... (P = .118).ConclusionOur results demonstrate ...".
_INLINE_CONCLUSION = re.compile(r"\b(?:CONCLUSIONS?|INTERPRETATION|Conclusions?)(?: AND (?:RELEVANCE|IMPLICATIONS))?\s*:\s*"
                                r"|(?<=[.!?)\]])(?:CONCLUSIONS?|Conclusions?)(?=[A-Z][a-z])")
_CUE = re.compile(r"^(in conclusion|in summary|to conclude|we conclude|these (results|findings|data|observations)|our (results|findings|data)"
                  r"|taken together|overall|collectively|thus|therefore|this study (shows|demonstrates|suggests)|it (is|was) concluded)", re.I)
# A sentence opening with these leans on the one before ("In contrast, pain rose"), so the finding
# takes that one too. Not "Thus" or "Therefore": they open a conclusion that stands on its own.
_CONNECTIVE = re.compile(r"^(in contrast|by contrast|on the contrary|on the other hand|conversely|however|nevertheless|nonetheless"
                         r"|moreover|furthermore|in addition|additionally|also|similarly|likewise|instead|yet)\b(?! to\b)", re.I)
# Results rather than conclusions: a closing sentence with a P value or an interval gives way to a
# conclusion after it, one without results of its own ("... (p = 0.74). Epidural fentanyl can produce effective
# analgesia ..."; not "... 15.4 +/- 5.1 hours ... Only 10% of patients required ...").
_STATISTIC = re.compile(r"\bp\s*[<=>≤≥]|\b95\s?%|\+/-|±", re.I)
_RESULT = re.compile(_STATISTIC.pattern + r"|%", re.I)
# Two patterns: what may stand anywhere in a sentence (RE2: every sentence of every abstract is
# scanned, and Python's re took 13 µs a sentence on this alternation, RE2 1.5), and what opens one.
_BOILERPLATE = re2.compile(
    r"(?i)©|\(c\)\s*\d{4}|\bcopyright\b|all rights reserved"
    r"|trial registration|clinicaltrials\.gov|\bNCT\s?\d{8}|\bISRCTN|\bPROSPERO\b|\bCRD\d{8,}|\bUMIN\b"
)
_BOILERPLATE_OPENING = re.compile(
    r"published by\b|unique identifier|\(?(funded|sponsored|supported) by\b|funding\b"
    r"|((therapeutic|prognostic|diagnostic|economic) )?level (of evidence\b|[1-5IV]+\b)|\(abstract truncated",
    re.I,
)
# A journal's citation line before its copyright: "Cancer Res; 78(5); 1214-24.", "Head Neck 38: E665-E672, 2016."
_CITATION = re.compile(r"[A-Z][A-Za-z .]{1,40}?;?\s+(\d{4};)?\d+(\(\d+\))?\s*[;:]\s*[A-Z]?\d+(-[A-Z]?\d+)?(, \d{4})?\.?")

# After these a period never ends a sentence ("e.g. morphine", "vs. Placebo", "Fig. 2", "U.S. Food").
# Units are words like any other: "... within 120 min. The numbers" ends one (62 shared abstracts).
_NEVER_FINAL = {
    "e.g", "i.e", "vs", "v", "cf", "approx", "ca", "fig", "figs", "no", "nos", "dr", "mr", "mrs", "st", "incl", "ref", "refs",
    "vol", "U.S", "U.K", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}
# After these (and after dotted ones such as "i.v.", "s.c.", "b.i.d." and a capital's initial) it does
# only before a capitalised word: "of 10 mg i.v. Nausea was rare" ends, "of i.v. PCA over" does not.
_SOMETIMES_FINAL = {"al", "etc", "resp", "inc", "ltd", "co", "ed", "eds"}
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*(?:\s+|(?=\(ABSTRACT TRUNCATED))(?=[\"'“(\[]?[A-Z0-9©])")
_CAPITALISED = re.compile(r"[\"'“]?([A-Z][a-z]|[A-Z]\s|[A-Z]{4,}[A-Z ]*:|©)")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_INITIAL_BEFORE = re.compile(r"\b[A-Z]\.\s+$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, edges trimmed of whitespace."""
    spans, start = [], 0
    for match in _BOUNDARY.finditer(text):
        if not _ends_sentence(text, start, match):
            continue
        spans.append(_trimmed(text, start, match.end()))
        start = match.end()
    if text[start:].strip():
        spans.append(_trimmed(text, start, len(text)))
    return spans


def _ends_sentence(text: str, start: int, match: re.Match) -> bool:
    word = _LAST_WORD.search(text, start, match.start())
    token = word.group(1).rstrip(".") if word else ""
    key = token if token.isupper() else token.lower()  # "level V." and "DR." end sentences; "Fig." and "St." do not
    capital = len(token) == 1 and token.isupper()
    if key in _NEVER_FINAL or (capital and _INITIAL_BEFORE.search(text, start, word.start())):
        return False  # "vs. Placebo", "M. J. Hazucha"
    if capital or "." in token or key in _SOMETIMES_FINAL:
        return bool(_CAPITALISED.match(text, match.end()))
    return True


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def is_boilerplate(sentence: str) -> bool:
    """A copyright, registration, funding or evidence-level line, or a journal's citation line."""
    return bool(_BOILERPLATE_OPENING.match(sentence) or _BOILERPLATE.search(sentence) or _CITATION.fullmatch(sentence))


def key_finding(article: Article) -> str:
    """Up to three sentences copied verbatim from one section of the abstract; empty when there is no abstract."""
    sections = [section for section in article.abstract_sections if not _PUBLISHER_LABEL.search(section.label)]
    for section in reversed(sections):
        if section.category.upper() in _CONCLUSION_CATEGORY or _CONCLUSION_LABEL.match(section.label):
            return _leading(section.text)
    # A section of nothing but publisher matter (an unlabelled copyright line) gives none: the one before it does.
    return next(filter(None, (_concluding(section.text) for section in reversed(sections))), "")


def _concluding(text: str) -> str:
    """The finding of a section not labelled a conclusion: from a "CONCLUSIONS:" written into its text, else
    its closing sentences."""
    inline = list(_INLINE_CONCLUSION.finditer(text))
    return _leading(text[inline[-1].end() :]) if inline else _closing(text)


def _leading(text: str) -> str:
    """The first sentences, up to the limits and up to any publisher matter."""
    runs = _finding_runs(text)
    return _quoted(text, _shortened(text, runs[0][:MAX_SENTENCES], keep="first")) if runs else ""


def _closing(text: str) -> str:
    """From a concluding cue among the last three sentences to the end; else the last two, less
    statistics that a conclusion follows, and with the sentence a connective leans on unless that
    one is a results list."""
    runs = _finding_runs(text)
    if not runs:
        return ""
    spans = runs[-1]
    sentences = [text[a:b] for a, b in spans]
    last = len(spans) - 1
    cue = next((i for i in range(max(0, last - MAX_SENTENCES + 1), last + 1) if _CUE.match(sentences[i])), None)
    if cue is not None:  # the conclusion opens there
        return _quoted(text, _shortened(text, spans[cue:], keep="first"))
    if last > 0 and _STATISTIC.search(sentences[last - 1]) and not _RESULT.search(sentences[last]):
        first = last
    else:
        first = max(0, last - 1)
    while (first > 0 and last - first + 1 < MAX_SENTENCES and leans_back(sentences[first])
           and not _is_results_list(sentences[first - 1])):
        first -= 1
    return _quoted(text, _shortened(text, spans[first:], keep="last"))


def _is_results_list(sentence: str) -> bool:
    """Two statistics or more: results a connective after them does not take into the finding
    ("... 12.3 mm +/- 0.9 ... [P < 0.0001]); 2) ... In addition, at 1 year ..."). A sentence with one is
    taken in: "... pain (P < 0.05). In addition, tramadol was as effective as lignocaine" needs it."""
    return len(_STATISTIC.findall(sentence)) >= 2


def _shortened(text: str, spans: list[tuple[int, int]], keep: str) -> list[tuple[int, int]]:
    """Whole sentences dropped from the end away from the conclusion (``keep``: its 'first' or 'last'
    sentence) while the finding is longer than ``MAX_CHARACTERS``; one sentence stays, however long.
    A sentence opening on a connective goes with the one it leans on ("However, when ..."), and never
    stands alone: rather both, over the length."""
    while len(spans) > 1 and spans[-1][1] - spans[0][0] > MAX_CHARACTERS:
        shorter = spans[:-1] if keep == "first" else spans[1:]
        if keep == "last":  # start at the next sentence that leans on none before it
            standing = next((i for i, (start, end) in enumerate(shorter) if not leans_back(text[start:end])), None)
            if standing is None:
                break
            shorter = shorter[standing:]
        spans = shorter
    return spans


def leans_back(sentence: str) -> bool:
    """Whether ``sentence`` opens on a connective that leans on the one before ("However, ...")."""
    return bool(_CONNECTIVE.match(sentence))


def _quoted(text: str, spans: list[tuple[int, int]]) -> str:
    """The sentences as one piece of the text, with what stands between them."""
    return text[spans[0][0] : spans[-1][1]]


def _finding_runs(text: str) -> list[list[tuple[int, int]]]:
    """The sentence spans of ``text`` in runs that publisher matter separates."""
    groups = groupby(sentence_spans(text), key=lambda span: is_boilerplate(text[span[0] : span[1]]))
    return [list(spans) for boilerplate, spans in groups if not boilerplate]
