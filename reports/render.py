"""Render a digest to plain text and e-mail-safe HTML: a pure function of the digest.

Both parts come from paired Jinja templates that share one per-item partial per format.
Autoescaping is on for the HTML templates (a title holding ``<script>`` or MathML shows as text)
and ``StrictUndefined`` turns a typo in a template into an error instead of an empty string.
Mail clients ignore ``<style>`` blocks and classes (Gmail on a phone among them), so the CSS is
inlined with css-inline and the class attributes are dropped afterwards.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import css_inline
import jinja2
import markupsafe

from reports.assembly import Digest, Item
from reports.chart import trend_text

STRONG_TYPES = frozenset({"meta_analysis", "systematic_review", "rct"})
# Autoescaping makes every quote inside text content '&#34;', so this only ever meets real attributes.
_CLASS_ATTRIBUTE = re.compile(r'\sclass="[^"]*"')


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def full_stop(text: str) -> str:
    """``text`` ending in one full stop: 'Smith J et al.' stays as it is."""
    return text if text.endswith(".") else f"{text}."


# Columns of the plain-text part: a 78-column reader shows a line whole, with room for a reply's '> '.
# Its lines are broken here, not marked format=flowed (RFC 3676): the clients that show a line as it
# is (terminals, a reply's quote) are the ones it is for, and most others show the HTML part.
TEXT_WIDTH = 76


def wrap(text: str, indent: str = "", first: str | None = None) -> str:
    """``text`` filled to ``TEXT_WIDTH`` columns, its first line after ``first`` (``indent`` when None), the
    others after ``indent``: continuation lines sit under their item. A word longer than a line (a URL, a
    DOI) is never broken, nor at its hyphens: it takes a line of its own, and its link still works; nor is a
    ``whole`` phrase (a tag's label and confidence)."""
    filled = textwrap.fill(text, TEXT_WIDTH, initial_indent=indent if first is None else first, subsequent_indent=indent,
                           break_long_words=False, break_on_hyphens=False)
    return filled.replace(_GLUE, " ")


# What ``whole`` joins a phrase's words with, so that ``wrap`` reads it as one word: a private-use character
# no text of PubMed's holds (a no-break space may be in a title), written back as a space once filled.
_GLUE = "\ue000"


def whole(phrase: str) -> str:
    """``phrase`` as one word for ``wrap``: 'Ketamine and NMDA antagonists (likely)' stays on one line."""
    return phrase.replace(" ", _GLUE)


_NOTICE_PMID = re.compile(r"PMID (\d+)")


def pmid_links(text: str) -> markupsafe.Markup:
    """A notice's 'PMID 123' as a link to it on PubMed, the rest escaped: the reader opens the erratum or the
    expression of concern itself rather than copy its number."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(_NOTICE_PMID.sub(
        lambda m: f'PMID <a href="https://pubmed.ncbi.nlm.nih.gov/{m[1]}/" class="since-link">{m[1]}</a>', escaped))


def pubmed_list(items: Sequence[Item]) -> str:
    """One PubMed search that lists these papers (PubMed reads a comma-separated list of PMIDs)."""
    return "https://pubmed.ncbi.nlm.nih.gov/?term=" + "%2C".join(item.pmid for item in items)


MAX_LINKED = 200  # PMIDs in one link: 1.8 KB of URL; thousands would be refused (414) and swell the mail


@dataclass(frozen=True)
class Shown:
    """A section as one e-mail shows it: the papers it lists, and the rest, linked."""

    listed: Sequence[Item]
    rest: Sequence[Item]

    @property
    def rest_link(self) -> str:
        return pubmed_list(self.rest[:MAX_LINKED])

    @property
    def rest_where(self) -> str:
        return "all on PubMed" if len(self.rest) <= MAX_LINKED else f"the first {MAX_LINKED} of them on PubMed"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(full_stop=full_stop, wrap=wrap, whole=whole, pmid_links=pmid_links)
    return env


def window_text(since: str, until: str) -> str:
    """'2026-11-16 to 2026-11-23' from ISO timestamps."""
    return f"{since[:10]} to {until[:10]}" if since else f"up to {until[:10]}"


def inline_css(html: str) -> str:
    inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
    return _CLASS_ATTRIBUTE.sub("", inliner.inline(html))


def render_digest(
    digest: Digest, *, chart_src: str = "", unsubscribe: str = "", topics_note: str = "", per_section: int | None = None,
    archive_page: bool = False,
) -> RenderedDigest:
    """Subject, text and HTML of one recipient's digest; ``chart_src`` is a ``cid:`` URL or a file name;
    ``topics_note`` says what a reader of some topics gets ('' for a reader of every topic).

    An ``archive_page`` links the archive's index and the pages of the later digests its marks name; an
    e-mail or the preview has no pages beside it to link.

    ``per_section`` lists only a section's first papers (the strongest evidence, then the newest)
    and links the rest as one PubMed search: a mail of hundreds of papers is clipped by mail
    clients (Gmail shows about 100 KB) and read by no one.
    """
    context = {
        "shown": {section.topic: Shown(section.items[:per_section], section.items[per_section:] if per_section else ())
                  for section in digest.sections},
        "digest": digest,
        "window": window_text(digest.since, digest.until),
        "trend_text": trend_text(digest.trend, every_topic=not topics_note),
        "chart_src": chart_src,
        "unsubscribe": unsubscribe,
        "topics_note": topics_note,
        "strong_types": STRONG_TYPES,
        "archive_page": archive_page,
    }
    env = environment()
    text = env.get_template("digest.txt.j2").render(context)
    html = inline_css(env.get_template("digest.html.j2").render(context))
    return RenderedDigest(digest.subject, re.sub(r"\n{4,}", "\n\n\n", text), html)


# Gmail shows an e-mail's HTML up to 102 KB and hides the rest (the footer, with its unsubscribe link,
# among it) behind "[Message clipped]"; a margin under it for the headers a provider may add.
CLIPPED_ABOVE = 100_000


def render_to_fit(digest: Digest, *, per_section: int | None, **options) -> RenderedDigest:
    """The e-mail listing up to ``per_section`` papers a section, or the most a
    section that keeps the HTML within ``CLIPPED_ABOVE`` bytes (a week of many papers, a reader of every
    topic), one at least: the papers left out stay in the section's PubMed link and in the archive. A few
    renders, in a big week only."""
    rendered = render_digest(digest, per_section=per_section, **options)
    most = per_section or max((len(section.items) for section in digest.sections), default=0)
    if len(rendered.html.encode()) <= CLIPPED_ABOVE or most <= 1:
        return rendered
    fits, low, high = render_digest(digest, per_section=1, **options), 2, most - 1
    while low <= high:  # the most papers a section that fit: halving the range each render
        middle = (low + high) // 2
        tried = render_digest(digest, per_section=middle, **options)
        if len(tried.html.encode()) <= CLIPPED_ABOVE:
            fits, low = tried, middle + 1
        else:
            high = middle - 1
    return fits


def changed_note(changed: Mapping[str, int]) -> str:
    """'Since it went out, papers in it: 1 retracted, 2 corrected' ('' for none), beside a digest in the archive
    index; ``changed`` counts papers by their heaviest notice (``reports.gather.changed_since``)."""
    said = [f"{count} {words}" for words, count in changed.items() if count]
    return f"Since it went out, papers in it: {', '.join(said)}" if said else ""


def archive_index(entries: list[tuple[str, str, Mapping[str, int]]], title: str, generated: datetime) -> str:
    """The archive's index.html: (file name, subject, papers changed since by notice) newest first."""
    page = environment().get_template("archive_index.html.j2")
    notes = [(name, subject, changed_note(changed)) for name, subject, changed in entries]
    return inline_css(page.render(entries=notes, title=title, generated=generated.strftime("%Y-%m-%d %H:%M UTC")))

