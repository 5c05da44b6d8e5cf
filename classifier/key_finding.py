"""Key finding: one to three sentences copied verbatim from the abstract, never rewritten.

The CONCLUSIONS (or INTERPRETATION, IMPLICATIONS) section of a structured abstract
when there is one (also when the labels were flattened into the text as
"CONCLUSIONS: ..."); otherwise the closing sentences, from a concluding cue
("In conclusion", "These results") when one is near the end. Sentence splitting
leaves "e.g.", "vs.", "et al.", initials, decimals and "P < .05" alone.
"""

from __future__ import annotations

import re

from corpus.article import Article

MAX_SENTENCES = 3
_CONCLUSION_LABEL = re.compile(r"^(main )?(conclusions?|interpretations?|implications?|significance|summary)\b", re.I)
_CONCLUSION_CATEGORY = {"CONCLUSIONS"}
_INLINE_CONCLUSION = re.compile(r"\b(?:CONCLUSIONS?|INTERPRETATION|Conclusions?)(?: AND (?:RELEVANCE|IMPLICATIONS))?\s*:\s*")
_CUE = re.compile(r"^(in conclusion|in summary|to conclude|we conclude|these (results|findings|data|observations)|our (results|findings|data)"
                  r"|taken together|overall|collectively|thus|therefore|this study (shows|demonstrates|suggests))", re.I)
# Words after which a period does not end a sentence.
_ABBREVIATIONS = {
    "e.g", "i.e", "vs", "v", "et al", "al", "fig", "figs", "approx", "ca", "cf", "no", "nos", "dr", "mr", "mrs", "ms", "st",
    "etc", "resp", "incl", "min", "max", "mg", "kg", "ml", "wk", "wks", "yr", "yrs", "hr", "hrs", "sec", "inc", "ltd", "co",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "ref", "refs", "vol", "ed", "eds",
}
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“(\[]?[A-Z0-9])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, edges trimmed of whitespace."""
    spans, start = [], 0
    for match in _BOUNDARY.finditer(text):
        word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[start : match.start()])
        token = word.group(1).rstrip(".") if word else ""
        if token.lower() in _ABBREVIATIONS or (len(token) == 1 and token.isupper()):
            continue  # "vs. placebo", "Smith J. Pain", "et al. Found"
        spans.append(_trimmed(text, start, match.end()))
        start = match.end()
    if text[start:].strip():
        spans.append(_trimmed(text, start, len(text)))
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def key_finding(article: Article) -> str:
    """Up to three sentences copied verbatim from the abstract; empty when there is no abstract."""
    for section in reversed(article.abstract_sections):
        if section.category.upper() in _CONCLUSION_CATEGORY or _CONCLUSION_LABEL.match(section.label):
            return _leading(section.text, MAX_SENTENCES)
    text = article.abstract.strip()  # labels kept, so the sentences quoted stay one piece of the abstract
    if not text:
        return ""
    inline = list(_INLINE_CONCLUSION.finditer(text))
    if inline:
        return _leading(text[inline[-1].end() :], MAX_SENTENCES)
    return _closing(text)


def _leading(text: str, count: int) -> str:
    spans = sentence_spans(text)
    return text[spans[0][0] : spans[: count][-1][1]] if spans else ""


def _closing(text: str) -> str:
    """From a concluding cue among the last three sentences to the end; else the last two."""
    spans = sentence_spans(text)
    tail = spans[-MAX_SENTENCES:]
    first = next((a for a, b in tail if _CUE.match(text[a:b])), spans[-2:][0][0])
    return text[first : spans[-1][1]]
