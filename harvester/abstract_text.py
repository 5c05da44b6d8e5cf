"""A structured abstract written out as text, read back into its sections.

Files other than PubMed XML flatten an abstract's sections: oihwatch's JSON Lines and CSV
exports write one ``LABEL: text`` line per section (``Article.abstract``), RIS and MEDLINE
text put them all on one line. The labels are NLM's, upper case ("BACKGROUND", "DESIGN,
SETTING, AND PARTICIPANTS"), which is what tells a label from a sentence; a mixed-case
label ("Results") is read as part of the text, which keeps the words but not the break.
"""

from __future__ import annotations

import re

from corpus.article import AbstractSection
from harvester.text import one_line, without_controls

_LABEL = r"([A-Z][A-Z0-9 ,&/()-]{1,60}):\s+"
_LABELLED_LINE = re.compile(rf"^{_LABEL}(.*)$")
# On one line, a label starts the abstract or follows the end of a sentence.
_INLINE_LABEL = re.compile(rf"(?:^|(?<=[.?!)\]])\s+){_LABEL}")


def sections_from_lines(text: str) -> list[AbstractSection]:
    """One section per non-blank line, labelled when the line starts with 'LABEL: '; the text as written
    (PubMed's no-break and thin spaces stay)."""
    sections = []
    for line in without_controls(text).splitlines():
        match = _LABELLED_LINE.match(line.strip())
        if match:
            sections.append(AbstractSection(match.group(2), match.group(1)))
        elif line.strip():
            sections.append(AbstractSection(line.strip()))
    return sections


def sections_from_line(text: str) -> list[AbstractSection]:
    """'BACKGROUND: ... METHODS: ...' on one line → its sections; an abstract not starting with a label is one section."""
    text = one_line(text)
    if not text:
        return []
    labels = list(_INLINE_LABEL.finditer(text))
    if not labels or labels[0].start() != 0:
        return [AbstractSection(text)]
    ends = [match.start() for match in labels[1:]] + [len(text)]
    return [AbstractSection(text[match.end() : end].strip(), match.group(1)) for match, end in zip(labels, ends)]
