"""A search query is read token by token: of several mistakes, the first typed is the one reported, and a
NOT or -word with nothing before it is refused for that before anything in its own word."""

from __future__ import annotations

import pytest

from corpus.errors import InputError
from corpus.search import fts_query


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("-ket*amine", "-ket*amine leaves papers out of what the query finds before it, and comes first;"),
        ('-"unclosed', '-"unclosed leaves papers out of what the query finds before it, and comes first;'),
        ("NOT[tiabs] pain", "NOT[tiabs] leaves papers out of what the query finds before it, and comes first;"),
        ("pain OR -x*y", "-x*y leaves papers out of what the query finds before it, and comes after OR;"),
        ("pain (-Lp[a)", "-Lp[a leaves papers out of what the query finds before it, and comes first in its (group);"),
        # a field: that is no column is refused before what it is put on
        ("-foo:bar", "unknown search field 'foo';"),
        ("ket*amine foo:bar", "a * goes at the end of a word, as in ketamin*, not as in 'ket*amine';"),
        ("foo:bar ket*amine", "unknown search field 'foo';"),
        ("NOT pain ket*amine", "NOT leaves papers out of what the query finds before it, and comes first;"),
        ("opioid induc* hyperalgesia[tiabs]", "unknown PubMed tag [tiabs] (did you mean [tiab]?);"),
    ],
)
def test_the_first_mistake_typed_is_the_one_reported(typed: str, error: str) -> None:
    with pytest.raises(InputError) as raised:
        fts_query(typed)
    assert str(raised.value).startswith(error)
