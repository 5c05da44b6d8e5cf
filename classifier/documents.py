"""The text a classifier reads from a record: title and abstract only.

New PubMed records arrive weeks before NLM indexes them with MeSH, so the model
never reads MeSH; MeSH only feeds weak labels and the optional MeSH rule.
"""

from __future__ import annotations

from corpus.article import Article


def record_text(article: Article) -> str:
    """Title and abstract (section labels kept: 'CONCLUSIONS:' is informative)."""
    return f"{article.title}\n{article.abstract}".strip()


def has_text(article: Article) -> bool:
    """A record with neither title nor abstract gets no tags."""
    return bool(article.title.strip() or article.abstract.strip())
