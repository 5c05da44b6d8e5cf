"""A record's text as every reader stores it: control characters dropped, whitespace folded.

What a reader stores is printed as it is: by ``search`` on a terminal, in the exports, in the
digest's text part. Control characters are no text there but commands: ESC and CSI (U+009B, a
C1 control) start sequences that clear a terminal, recolour it, set its title or plant a link on
a word; NUL, BEL and DEL are noise. So every reader drops the C0 controls, DEL and the C1
controls from what it reads, but tab and line feed. The controls that end a line (CR, VT, FF,
the file, group and record separators, NEL: where ``str.splitlines`` breaks) become a line
feed, and the unit separator, which is whitespace too, a space: a reader that folds whitespace
or splits an abstract into lines reads them as it did before. PubMed XML cannot hold C0
controls (XML 1.0 forbids them) but can hold DEL and the C1 ones (``&#x9b;``).
"""

from __future__ import annotations

_LINE_ENDS = "\r\x0b\x0c\x1c\x1d\x1e\x85"
_CONTROLS = {
    code: "\n" if chr(code) in _LINE_ENDS else " " if chr(code).isspace() else None
    for code in (*range(0x20), *range(0x7F, 0xA0))
    if chr(code) not in "\t\n"
}


def without_controls(text: str) -> str:
    """``text`` without control characters: tab and line feed stay, one that ends a line is a line feed (CR LF one)."""
    return text.replace("\r\n", "\n").translate(_CONTROLS)


def one_line(text: str) -> str:
    """A field's text: control characters dropped, whitespace folded to single spaces."""
    return " ".join(text.translate(_CONTROLS).split())
