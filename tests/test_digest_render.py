"""Rendering a digest of real records: text and HTML agree, the HTML is e-mail-safe, markup injects nothing."""

from __future__ import annotations

import dataclasses
import email
import re
import shutil
import subprocess
import urllib.parse
from datetime import timedelta
from email.policy import default
from html.parser import HTMLParser

import pytest

from corpus.article import AbstractSection, Article, Author
from corpus.evidence import STUDY_TYPES
from corpus.tags import Classification, TopicScore, load_classifications, save_classifications
from digest_support import MONDAY, Clock, filled_store, params, parts, words
from harvester.pubmed_xml import parse_pubmed_xml
from reports.assembly import Tag, TrendPoint, dates_text, language_note
from reports.chart import trend_png, trend_text
from reports.delivery import OutboxTransport
from reports.message import build_message, chart_cid, unsubscribe_link
from reports.render import RenderedDigest, render_digest, render_to_fit
from reports.sending import preview_digest, send_due_digest

VOID = {"meta", "br", "img", "hr", "link", "input", "col", "area", "base", "wbr", "source"}
INLINE = {"a", "strong", "em", "b", "i", "span", "code", "sub", "sup", "bdi"}  # a word may run on across these
HOSTILE = "<script>alert('x')</script> Ketamine & <math><mi>μ</mi></math>-opioid “OIH” in Zürich <b>bold</b>"


class BalanceChecker(HTMLParser):
    """Fails on a closing tag that does not match the open one; collects links, images and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.links: list[str] = []
        self.images: list[dict] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.flow: list[str] = []  # the text as it reads: a space where a block begins or ends
        self.headings: list[tuple[str, str]] = []  # (h1/h2/h3, its text)
        self.empty: list[str] = []  # elements closed with no text in them
        self._opened_at: list[int] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.flow.append("" if tag in INLINE else " ")
        attributes = dict(attrs)
        if tag == "a":
            self.links.append(attributes.get("href", ""))
        if tag == "img":
            self.images.append(attributes)
        if tag in ("h1", "h2", "h3"):
            self.headings.append((tag, ""))
        if tag not in VOID:
            self.stack.append(tag)
            self._opened_at.append(len(self.text))

    def handle_endtag(self, tag):
        self.flow.append("" if tag in INLINE else " ")
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
        inside = "".join(self.text[self._opened_at.pop():])
        if not inside.strip() and tag not in ("td", "tr", "table", "body", "html", "head"):
            self.empty.append(tag)
        if tag in ("h1", "h2", "h3"):
            self.headings[-1] = (tag, " ".join(inside.split()))

    def handle_data(self, data):
        self.text.append(data)
        self.flow.append(data)


def check_html(html: str) -> BalanceChecker:
    checker = BalanceChecker()
    checker.feed(html)
    checker.close()
    assert checker.stack == [], f"unclosed: {checker.stack}"
    return checker


@pytest.fixture
def real_digest(shared_data):
    clock = Clock(MONDAY - timedelta(days=2))
    with filled_store(shared_data, clock) as (store, _):
        yield store, preview_digest(store, params(), MONDAY)


def test_both_parts_hold_every_item_with_its_link_and_key_finding(real_digest):
    store, digest = real_digest
    assert len(digest.items) >= 20 and len(digest.sections) == 5
    rendered = render_digest(digest, chart_src="cid:chart")
    page = check_html(rendered.html)
    visible, text = " ".join(page.text), words(rendered.text)
    for item in digest.items:
        assert item.url in rendered.text and item.url in page.links
        assert item.key_finding and item.key_finding in text and item.key_finding in visible
        assert item.title in text and item.title in visible
        if item.doi:
            assert item.doi_url in page.links and item.doi_url in rendered.text
    for section in digest.sections:
        assert f"{section.label} ({len(section.items)})" in visible
        assert f"{section.label.upper()} ({len(section.items)})" in rendered.text
    assert "et al." in rendered.text and "curated" in rendered.text
    assert rendered.text.count("* ") == sum(len(s.items) for s in digest.sections)


def visible_text(html: str) -> str:
    """The words of an HTML part as a reader sees them, in order, spaces collapsed (a link inside a sentence
    reads as part of it)."""
    return " ".join("".join(check_html(html).flow).split())


def test_a_paper_retracted_before_it_is_first_listed_comes_last_marked_and_counted_apart(shared_data, tmp_path):
    """A retracted trial leading its section reads as the week's strongest evidence, and counted as a
    new paper it swells the week without a word: it comes after the papers that stand, under a mark."""
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=2))) as (store, _):
        section, following = preview_digest(store, params(), MONDAY).sections[:2]
        leader = section.items[0]
        record = store.get_article(leader.pmid)
        store.upsert_articles([dataclasses.replace(record, publication_types=[*record.publication_types, "Retracted Publication"])])
        save_classifications(store, [load_classifications(store, [leader.pmid])[leader.pmid]])  # classified again, as revised
        send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path))
        mail = email.message_from_bytes((tmp_path / "2026-W48" / "all@example.org.eml").read_bytes(), policy=default)
        text, html = parts(mail)
        count = len(preview_digest(store, params(), MONDAY).items)
        assert mail["Subject"].endswith(f": {count} new papers (1 already retracted)")
        counted = f"({len(section.items)}, 1 already retracted)"
        assert f"{section.label.upper()} {counted}\n{'-' * len(f'{section.label} {counted}')}\n" in text
        standing = [item.pmid for item in section.items[1:]]
        read, visible = words(text), visible_text(html)
        for part, case, pubmed in ((read, str.upper, "PubMed: https://pubmed.ncbi.nlm.nih.gov/"), (visible, str, "PubMed ")):
            heading = case(section.label)
            assert f"{count} new papers (1 already retracted)" in part.split(heading)[0]
            listed = part.split(f"{heading} {counted}")[1].split(case(following.label))[0]
            assert re.findall(re.escape(pubmed) + r"(\d+)", listed) == [*standing, leader.pmid]  # after the papers that stand
            assert f"RETRACTED — do not rely on this finding {leader.title}" in listed and listed.count("RETRACTED") == 1
            assert leader.title not in part.split(heading)[0]  # not among the strongest new evidence


def test_the_text_part_reads_at_76_columns_and_no_link_is_broken(shared_data, tmp_path):
    """Terminal clients, and quoting in a reply, show a line as it is: a 170-column title or finding runs off
    the screen. Every line fits 76 columns, continuation lines sit under their item, and a URL too long for
    a line is whole on one of its own (a link broken in two leads nowhere)."""
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=2))) as (store, _):
        digest = preview_digest(store, params(), MONDAY)
        unsubscribe = "https://lists.example.org/oih/unsubscribe?email={email}&list=opioid-induced-hyperalgesia-weekly"
        send_due_digest(store, params(unsubscribe=unsubscribe, per_section=3), MONDAY, OutboxTransport(tmp_path))
        text = parts(tmp_path / "2026-W48" / "all@example.org.eml")[0]
        lines = text.splitlines()
        assert max(len(item.title) for item in digest.items) > 100
        assert [line for line in lines if len(line) > 76 and not re.fullmatch(r"( {2})?https://\S+", line)] == []
        assert "\n-- \n" in text  # the signature separator clients recognise
        assert "\n  https://lists.example.org/oih/unsubscribe?email=all%40example.org&list=opioid-induced-hyperalgesia-weekly\n" in text
        items = [block for block in text.split("\n\n") if block.startswith("* ")]
        assert len(items) == sum(min(3, len(section.items)) for section in digest.sections)
        for block in items:
            assert all(line.startswith("  ") and not line.startswith("   ") for line in block.splitlines()[1:])
            pubmed = re.search(r"https://pubmed\.ncbi\.nlm\.nih\.gov/(\d+)/", block)
            item = next(item for item in digest.items if item.pmid == pubmed[1])
            assert f"* {item.title} " in words(block) and f"Key finding: {item.key_finding} PubMed: " in words(block)
            assert f"  PubMed: {item.url}\n" in block + "\n" and (not item.doi or f"{item.doi_url}\n" in block + "\n")
        tag_lines = [line for block in items for line in block.splitlines() if " | " in line or line.endswith(")")]
        for item in digest.items:  # a tag's label and confidence are read together, never split over two lines
            for tag in item.tags:
                said = f"{tag.label} ({tag.confidence})"
                assert any(said in line for line in tag_lines) or not any(f"{item.url}" in block for block in items), said
        legend = text.split("\n-- \n")[1]
        assert words(legend).startswith("Key findings are sentences quoted from each abstract, not summaries. Topics come")
        assert max(len(line) for line in legend.splitlines()) > 66  # filled, not cut short


def test_a_paper_not_in_english_says_so_as_pubmed_does(shared_data):
    """A title in square brackets is PubMed's translation of it, a sign few clinicians know: the paper
    itself may be in a language they cannot read."""
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=1) as (store, _):
        export = shared_data / "pubmed-xml" / "exports" / "qi29+main_finding_recognition__pubmed_result.xml"
        papers = [dataclasses.replace(record, created="2026-11-20") for record in parse_pubmed_xml(export)
                  if isinstance(record, Article) and record.pmid in ("26582223", "1948942", "7327338", "28277229")]
        store.upsert_articles(papers)
        save_classifications(store, [Classification(a.pmid, 0.9, "case_report", "", "t", []) for a in papers])
        rendered = render_digest(preview_digest(store, params(), MONDAY))
        text, visible = words(rendered.text), visible_text(rendered.html)
        notes = {"26582223": "[Article in Chinese]", "1948942": "[Article in Norwegian]", "7327338": "[Article in Italian]",
                 "28277229": ""}  # in English and Spanish: no note
        for paper in papers:
            title = f"{paper.title} {notes[paper.pmid]}".strip()
            assert f"* {title} " in text and f"{title} " in visible
        assert text.count("[Article in ") == visible.count("[Article in ") == 3
        assert language_note(["tlh"]) == "[Article in tlh]" and language_note(["fre", "ger"]) == "[Article in French, German]"
        assert language_note(["und"]) == language_note([]) == language_note(["English"]) == ""


def test_html_is_email_safe_after_inlining(real_digest):
    _, digest = real_digest
    html = render_digest(digest, chart_src="cid:chart").html
    page = check_html(html)
    assert "<style" not in html and "class=" not in html and "<script" not in html
    assert "table" in page.tags and 'style="' in html
    assert page.images == [{"src": "cid:chart", "alt": page.images[0]["alt"], "width": "560",
                            "style": page.images[0]["style"]}]


def test_headings_outline_the_digest_and_the_chart_is_described_once(real_digest):
    """Screen readers jump between headings; the chart's alt text does not repeat the caption below it."""
    _, digest = real_digest
    html = render_digest(digest, chart_src="cid:chart").html
    page = check_html(html)
    sections = [f"{s.label} ({len(s.items)})" for s in digest.sections]
    assert [text for tag, text in page.headings if tag != "h3"] == [
        digest.title, "The week at a glance", "Strongest new evidence", *sections]
    assert [tag for tag, _ in page.headings[:3]] == ["h1", "h2", "h2"]
    assert sum(tag == "h3" for tag, _ in page.headings) == sum(len(s.items) for s in digest.sections)
    assert 'h2 style="margin: 0 0 10px 0;font-size: 18px;' in html  # the look, inlined for mail clients
    caption = trend_text(digest.trend)
    assert caption in " ".join(page.text) and page.images[0]["alt"] not in caption
    assert "chart" in page.images[0]["alt"].lower()


def test_tags_show_their_confidence_in_a_word_not_a_probability(real_digest):
    """A tag favours recall, so a raw score beside it (13%) would contradict it."""
    _, digest = real_digest
    rendered = render_digest(digest)
    tag_lines = [line for line in rendered.text.splitlines() if " | " in line]
    assert tag_lines and not any("%" in line for line in tag_lines)
    page = check_html(rendered.html)
    shown = {f"{tag.label} ({tag.confidence})" for item in digest.items for tag in item.tags}
    assert shown <= set(page.text) and all(t in words(rendered.text) for t in shown)
    assert "curated" in {tag.confidence for item in digest.items for tag in item.tags}


def test_a_tag_reads_likely_from_even_odds_and_curated_when_a_person_checked_it():
    assert Tag.of("K", TopicScore("ketamine", 0.5, True, "model")).confidence == "likely"
    assert Tag.of("K", TopicScore("ketamine", 0.13, True, "rule")).confidence == "possible"
    assert Tag.of("K", TopicScore("ketamine", 1.0, True, "curator")).confidence == "curated"


def test_markup_and_non_ascii_in_titles_and_findings_are_escaped(shared_data):
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=2) as (store, _):
        hostile = Article(pmid="40000001", title=HOSTILE, journal="J <Pain> & Co", pub_date="2026 Nov", created="2026-11-20",
                          abstract_sections=[AbstractSection("a < b & c > d </p><img src=x onerror=alert(1)>", "CONCLUSIONS")])
        store.upsert_articles([hostile])
        save_classifications(store, [Classification(hostile.pmid, 0.95, "rct", hostile.abstract_sections[0].text, "t",
                                                    [TopicScore("ketamine", 0.9, True)])])
        rendered = render_digest(preview_digest(store, params(), MONDAY), chart_src="cid:c")
        page = check_html(rendered.html)
        assert "<script" not in rendered.html and "<math" not in rendered.html and "<img src=x" not in rendered.html
        assert "&lt;script&gt;" in rendered.html and "&amp;" in rendered.html and "Zürich" in rendered.html
        assert HOSTILE in " ".join(page.text)  # shown exactly as written, as text
        assert HOSTILE in words(rendered.text) and "a < b & c > d" in rendered.text  # the text part is not HTML-escaped
        assert page.images[0]["src"] == "cid:c" and len(page.images) == 1


def test_citation_lines_end_once_and_missing_parts_leave_no_gap(shared_data):
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=1) as (store, _):
        sici = "10.1002/(sici)1097-0142(19960815)78:4<852::aid-cncr23>3.0.co;2-t"
        papers = [
            Article(pmid="40000002", title="Four authors", pub_date="2001", doi=sici, journal="Tidsskrift", created="2026-11-20",
                    authors=[Author(last=name, initials="A") for name in ("Bruserud", "Arnes", "Kjørsvik", "Four")],
                    abstract_sections=[AbstractSection("Finding two.", "CONCLUSIONS")]),
            Article(pmid="40000003", title="No citation at all", created="2026-11-20", abstract_sections=[AbstractSection("Finding three.", "CONCLUSIONS")]),
            Article(pmid="40000004", title="Authors only", created="2026-11-20", authors=[Author(last="Solo", initials="B")],
                    abstract_sections=[AbstractSection("Finding four.", "CONCLUSIONS")]),
        ]
        store.upsert_articles(papers)
        save_classifications(store, [Classification(a.pmid, 0.9, "rct", a.abstract_sections[0].text, "t", []) for a in papers])
        rendered = render_digest(preview_digest(store, params(), MONDAY))
        assert "Bruserud A, Arnes A, Kjørsvik A et al. Tidsskrift. 2001\n" in rendered.text and "et al.." not in rendered.text
        assert f"* No citation at all\n  {STUDY_TYPES['rct']}\n" in rendered.text
        assert "Solo B.\n" in rendered.text
        page = check_html(rendered.html)
        assert page.empty == [] and "Solo B</bdi></p>" in rendered.html and "&middot; </p>" not in rendered.html

        link = "https://doi.org/10.1002/(sici)1097-0142(19960815)78:4%3C852::aid-cncr23%3E3.0.co;2-t"
        assert f"  DOI:\n  {link}\n" in rendered.text and link in page.links  # too long for the line: on one of its own
        assert urllib.parse.unquote(link.removeprefix("https://doi.org/")) == sici
        assert f"DOI {sici}" in " ".join(page.text)  # shown as written


def odd_digest(digest):
    """``digest`` with its first paper's finding one 3,000-letter word and its first author's name opening with a
    right-to-left override that is never closed, as a broken or hostile record can hold them."""
    section = digest.sections[0]
    odd = dataclasses.replace(section.items[0], key_finding="x" * 3000, authors="\u202eEvil B, Other C", journal="Journal of Pain")
    return dataclasses.replace(digest, sections=(dataclasses.replace(section, items=(odd, *section.items[1:])), *digest.sections[1:]))


def test_one_field_s_direction_marks_and_one_long_word_garble_only_themselves(real_digest):
    html = render_digest(odd_digest(real_digest[1])).html
    assert "<bdi>\u202eEvil B, Other C</bdi> · <em><bdi>Journal of Pain</bdi></em> · <bdi>" in html  # each field isolated
    cell = html[html.rfind("<td", 0, html.index("x" * 3000)):]
    assert "overflow-wrap: anywhere;word-break: break-word;" in cell[:cell.index(">")]  # the word's own cell breaks it


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_one_long_word_leaves_the_message_as_wide_as_the_window_in_a_real_browser_engine(real_digest, tmp_path):
    """A word longer than the column widened the whole message (22,563 px at 800), cutting every finding off."""
    measure = "<script>window.onload=()=>{document.title='W'+document.documentElement.scrollWidth;}</script>"
    page = tmp_path / "digest.html"
    page.write_text(render_digest(odd_digest(real_digest[1])).html.replace("</body>", measure + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=800,1600",
         "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True, timeout=120).stdout
    assert int(re.search(r"<title>W(\d+)</title>", dom)[1]) <= 800


def test_message_structure_and_headers(real_digest):
    _, digest = real_digest
    cid = chart_cid(digest.period)
    rendered = render_digest(digest, chart_src=f"cid:{cid}", unsubscribe="mailto:list@example.org?subject=unsubscribe")
    message = build_message(rendered, sender="digest@example.org", recipient="a@example.org",
                            message_id="<m.1@example.org>", date=MONDAY, unsubscribe="mailto:list@example.org?subject=unsubscribe",
                            chart_png=trend_png(digest.trend), cid=cid)
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    html_part, image = related.get_payload()
    assert html_part.get_content_type() == "text/html" and image.get_content_type() == "image/png"
    assert image["Content-ID"] == f"<{cid}>" and f'src="cid:{cid}"' in html_part.get_content()
    assert image.get_content().startswith(b"\x89PNG")
    assert message["Message-ID"] == "<m.1@example.org>" and message["Date"] == "Mon, 23 Nov 2026 14:00:00 +0000"
    assert message["List-Unsubscribe"] == "<mailto:list@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None  # RFC 8058: one-click needs an https: link
    text, html = parts(message)
    assert text == rendered.text


@pytest.mark.parametrize("length", range(60, 100, 3))
@pytest.mark.parametrize("word", ["correction", "Überblick"])
def test_headers_read_back_as_written_at_any_length(length, word):
    subject = (f"OIH digest, 2026-W49: 3 new papers; 2 retraction/{word} warnings" + " more" * 20)[:length].rstrip()
    page = "https://lists.example.org/oih/leave?token=" + "a1" * 40
    message = build_message(RenderedDigest(subject, "text", "<p>html</p>"), sender="digest@example.org",
                            recipient="a@example.org", message_id="<m.3@example.org>", date=MONDAY, unsubscribe=page)
    raw = message.as_bytes()
    assert b"Subject:\n" not in raw and b"=?utf-8?" not in raw.split(b"List-Unsubscribe: ")[1].split(b"\n")[0]
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Subject"] == subject and parsed["List-Unsubscribe"] == f"<{page}>"


def test_an_https_unsubscribe_page_naming_the_recipient_gets_the_one_click_header(real_digest):
    page, one_click = unsubscribe_link("https://lists.example.org/oih/leave/{email}", "digest@example.org", "a.b@example.org")
    assert (page, one_click) == ("https://lists.example.org/oih/leave/a.b%40example.org", True)
    assert unsubscribe_link("https://lists.example.org/oih/leave", "d@example.org", "a@example.org") == (
        "https://lists.example.org/oih/leave", False)
    assert unsubscribe_link("list@example.org", "digest@example.org", "a@example.org") == (
        "mailto:list@example.org?subject=unsubscribe", False)
    rendered = render_digest(real_digest[1], unsubscribe=page)
    message = build_message(rendered, sender="digest@example.org", recipient="a.b@example.org",
                            message_id="<m.2@example.org>", date=MONDAY, unsubscribe=page, one_click=one_click)
    assert message["List-Unsubscribe"] == f"<{page}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="{page}"' in rendered.html


def test_trend_chart_and_its_text_equivalent():
    """Papers are counted in whole numbers, and the line reads naturally for one earlier digest or several."""
    trend = [TrendPoint("9 Nov", 3), TrendPoint("16 Nov", 6), TrendPoint("23 Nov", 4)]
    assert trend_text(trend) == "New papers: 4 in this digest, on average 5 in the 2 before (9 Nov: 3, 16 Nov: 6)."
    assert trend_text(trend[1:]) == "New papers: 4 in this digest, 6 in the one before (16 Nov)."
    assert trend_text(trend[2:]) == "New papers: 4 in this digest, the first."
    assert trend_text(trend[1:], every_topic=False) == (
        "New papers in all topics, not only yours: 4 in this digest, 6 in the one before (16 Nov).")
    png = trend_png(trend)
    assert png.startswith(b"\x89PNG") and len(png) < 60_000
    assert trend_png([TrendPoint("23 Nov", 0)]).startswith(b"\x89PNG")


@pytest.mark.parametrize("since, until, zone, dates", [
    ("2026-11-23T12:40:00+00:00", "2026-11-30T12:40:00+00:00", "America/New_York", "23-30 Nov 2026"),
    ("2026-11-27T05:00:00+00:00", "2026-12-04T07:00:00+00:00", "America/New_York", "27 Nov - 4 Dec 2026"),
    ("2026-12-28T12:00:00+00:00", "2027-01-04T12:00:00+00:00", "America/New_York", "28 Dec 2026 - 4 Jan 2027"),
    ("2026-11-30T05:00:00+00:00", "2026-11-30T12:40:00+00:00", "America/New_York", "30 Nov 2026"),
    ("", "2026-11-30T12:40:00+00:00", "America/New_York", "up to 30 Nov 2026"),
    ("2026-11-27T00:00:00+00:00", "2026-12-04T07:00:00+00:00", "UTC", "27 Nov - 4 Dec 2026"),
    ("2026-11-27T00:00:00+00:00", "2026-12-04T07:00:00+00:00", "America/New_York", "26 Nov - 4 Dec 2026"),
    ("2026-12-31T17:00:00+00:00", "2027-01-03T17:00:00+00:00", "Pacific/Kiritimati", "1-4 Jan 2027"),
    ("2027-01-01T05:00:00+00:00", "2027-01-04T05:00:00+00:00", "Pacific/Pago_Pago", "31 Dec 2026 - 3 Jan 2027"),
])
def test_a_digest_is_dated_as_people_write_dates(since, until, zone, dates):
    """In the days of the schedule's time zone, where a UTC midnight is the evening before in New York."""
    assert dates_text(since, until, zone) == dates


def test_subject_and_heading_name_the_dates_and_the_footer_keeps_the_period(real_digest):
    """Clinicians date things by day and month, not by ISO week; operators still find the period."""
    _, digest = real_digest
    rendered = render_digest(digest, chart_src="cid:chart")
    assert rendered.subject.startswith("OIH evidence digest, 16-23 Nov 2026: ") and "W48" not in rendered.subject
    assert rendered.text.startswith(f"OIH evidence digest, 16-23 Nov 2026\n{'=' * 35}\n{len(digest.items)} new papers on ")
    page = check_html(rendered.html)
    visible = " ".join(" ".join(page.text).split())
    assert f"{len(digest.items)} new papers · 16-23 Nov 2026" in visible
    footer = "Digest 2026-W48: papers first seen 2026-11-16 to 2026-11-23 (UTC)."
    assert footer in visible and footer in rendered.text
    assert visible.count("W48") == rendered.text.count("W48") == 1


def test_archive_lists_every_digest(shared_data, tmp_path):
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=5) as (store, _):
        for week in range(2):
            send_due_digest(store, params(), MONDAY + timedelta(weeks=week), OutboxTransport(tmp_path / "out"),
                            archive_dir=tmp_path / "archive")
        index = (tmp_path / "archive" / "index.html").read_text()
        page = check_html(index)
        assert page.links == ["2026-W49.html", "2026-W48.html"]
        assert (tmp_path / "archive" / "2026-W48.png").read_bytes().startswith(b"\x89PNG")
        check_html((tmp_path / "archive" / "2026-W48.html").read_text())


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
@pytest.mark.parametrize("width", [420, 1000])
def test_screenshot_in_a_real_browser_engine(real_digest, tmp_path, width):
    _, digest = real_digest
    (tmp_path / "digest.png").write_bytes(trend_png(digest.trend))
    page = tmp_path / "digest.html"
    page.write_text(render_digest(digest, chart_src="digest.png").html, encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", f"--window-size={width},1600",
         page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_a_long_section_lists_its_strongest_papers_and_links_the_rest(real_digest):
    """A first digest after a long backfill can hold hundreds of papers: mail clients clip it."""
    _, digest = real_digest
    long_sections = [s for s in digest.sections if len(s.items) > 2]
    assert long_sections
    rendered = render_digest(digest, per_section=2)
    page = check_html(rendered.html)
    visible = " ".join(" ".join(page.text).split())
    for section in digest.sections:
        assert f"{section.label} ({len(section.items)})" in visible  # the heading still counts them all
        rest = section.items[2:]
        if not rest:
            continue
        link = "https://pubmed.ncbi.nlm.nih.gov/?term=" + "%2C".join(item.pmid for item in rest)
        assert link in page.links and link in rendered.text
        assert f"{len(rest)} more in {section.label}" in visible
        assert f"+ {len(rest)} more in {section.label}" in rendered.text
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["term"] == [",".join(i.pmid for i in rest)]
    listed = {item.pmid for section in digest.sections for item in section.items[:2]}
    assert rendered.text.count("* ") == sum(min(2, len(s.items)) for s in digest.sections)
    for item in digest.items:
        assert (f"PubMed: {item.url}" in rendered.text) == (item.pmid in listed)
    assert len(rendered.html) < len(render_digest(digest).html) / 2
    whole = render_digest(digest, per_section=max(len(s.items) for s in digest.sections))
    assert "more in" not in whole.text and whole.text == render_digest(digest).text


def test_the_link_to_the_rest_of_a_long_section_names_a_bounded_number_of_papers(real_digest, monkeypatch):
    """Thousands of PMIDs in one URL are refused by servers (414) and swell the mail the cap shrinks."""
    _, digest = real_digest
    monkeypatch.setattr("reports.render.MAX_LINKED", 2)
    section = max(digest.sections, key=lambda s: len(s.items))
    assert len(section.items) > 3
    rendered = render_digest(digest, per_section=1)
    link = "https://pubmed.ncbi.nlm.nih.gov/?term=" + "%2C".join(item.pmid for item in section.items[1:3])
    assert f"+ {len(section.items) - 1} more in {section.label} (weaker evidence or older), the first 2 of them on PubMed: {link}" in words(rendered.text)
    assert f"PubMed:\n  {link}\n" in rendered.text
    assert link in check_html(rendered.html).links


def test_a_mail_gmail_would_clip_lists_fewer_papers_a_section_until_it_fits(shared_data, tmp_path, monkeypatch):
    """Gmail hides what follows 102 KB of HTML, the unsubscribe link among it: per_section is the most a
    section lists, and fewer go when that much would not fit. Here the limit is what 3 a section take."""
    clock = Clock(MONDAY - timedelta(days=2))
    with filled_store(shared_data, clock) as (store, _):
        digest = preview_digest(store, params(), MONDAY)
        assert max(len(s.items) for s in digest.sections) > 3
        three = len(render_digest(digest, per_section=3, chart_src="x.png").html.encode())
        monkeypatch.setattr("reports.render.CLIPPED_ABOVE", three)
        fitted = render_to_fit(digest, per_section=50, chart_src="x.png")
        assert fitted.html == render_digest(digest, per_section=3, chart_src="x.png").html  # the most that fit
        monkeypatch.setattr("reports.render.CLIPPED_ABOVE", three - 1)
        assert render_to_fit(digest, per_section=50, chart_src="x.png").text.count("\n* ") == sum(min(2, len(s.items)) for s in digest.sections)
        # What goes out by mail fits (the archive lists every paper).
        send_due_digest(store, params(per_section=50), MONDAY, OutboxTransport(tmp_path / "out"), archive_dir=tmp_path / "archive")
        [mail] = sorted((tmp_path / "out").glob("*/*.eml"))
        html = parts(mail)[1]
        assert len(html.encode()) <= three - 1 and "more in" in html
        assert all(item.url in (tmp_path / "archive" / f"{digest.period}.html").read_text() for item in digest.items)
        monkeypatch.setattr("reports.render.CLIPPED_ABOVE", 10**9)  # room for all: per_section alone decides
        assert render_to_fit(digest, per_section=2).html == render_digest(digest, per_section=2).html


def test_mails_are_capped_per_section_but_the_archive_lists_everything(shared_data, tmp_path):
    clock = Clock(MONDAY - timedelta(days=2))
    with filled_store(shared_data, clock) as (store, _):
        send_due_digest(store, params(per_section=1), MONDAY, OutboxTransport(tmp_path / "out"), archive_dir=tmp_path / "archive")
        [mail] = sorted((tmp_path / "out").glob("*/*.eml"))
        text, html = parts(mail)
        digest = preview_digest(store, params(), MONDAY)
        assert text.count("\n* ") == len(digest.sections) and "more in" in text and "more in" in html
        archive = (tmp_path / "archive" / f"{digest.period}.html").read_text()
        assert "more in" not in archive
        assert all(item.url in archive for item in digest.items)
