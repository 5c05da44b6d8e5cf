"""The archive marks a paper retracted or corrected after the digest that listed it went out, on that digest's page."""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from markupsafe import escape

from corpus.article import Link
from corpus.tags import load_classifications, save_classifications
from digest_support import MONDAY, Clock, filled_store, params, parts, words
from reports import delivery
from reports.delivery import OutboxTransport
from reports.render import archive_index
from reports.sending import archive_missing, preview_digest, send_digests, send_due_digest
from test_digest_render import check_html, visible_text

RETRACTED_SINCE = "Retracted since this digest (see the 23-30 Nov 2026 digest)"
CORRECTED_SINCE = "Erratum published (PMID 99000002) since this digest (see the 23-30 Nov 2026 digest)"


@pytest.fixture
def two_weeks(shared_data, tmp_path):
    """The 2026-W48 digest archived, then one of its strongest papers retracted and another corrected;
    returns the store, the two papers and a function sending (and archiving) a week's digest."""
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=12) as (store, _):
        strongest = preview_digest(store, params(), MONDAY).strongest
        assert len(strongest) >= 2

        def send(week: int):
            return send_due_digest(store, params(), MONDAY + timedelta(weeks=week), OutboxTransport(tmp_path / "out"),
                                   archive_dir=tmp_path / "archive")

        send(0)
        retracted, corrected = (store.get_article(item.pmid) for item in strongest[:2])
        clock.now = MONDAY + timedelta(days=3)
        store.upsert_articles([
            dataclasses.replace(retracted, publication_types=[*retracted.publication_types, "Retracted Publication"],
                                links=[*retracted.links, Link("RetractionIn", "99000001")]),
            dataclasses.replace(corrected, links=[*corrected.links, Link("ErratumIn", "99000002")]),
        ])
        yield store, retracted, corrected, send, tmp_path / "archive"


def test_a_paper_retracted_after_its_digest_is_marked_on_that_digest_s_archived_page(two_weeks):
    store, retracted, corrected, send, archive = two_weeks
    before = (archive / "2026-W48.html").read_text()
    assert "since this digest" not in before
    send(1)
    page = (archive / "2026-W48.html").read_text()
    checked = check_html(page)
    visible = visible_text(page)
    assert "Since this digest went out, papers in it were retracted or corrected" in [text for _, text in checked.headings][1]
    assert f"{RETRACTED_SINCE}: {retracted.title}" in visible and f"{CORRECTED_SINCE}: {corrected.title}" in visible
    strongest = visible[visible.index("Strongest new evidence"):]
    assert f"{retracted.title} \u26a0 {RETRACTED_SINCE}" in strongest  # still there, but no longer unmarked
    assert f"{corrected.title} \u26a0 {CORRECTED_SINCE}" in strongest
    for paper, mark in ((retracted, RETRACTED_SINCE), (corrected, CORRECTED_SINCE)):  # above it in each of its sections
        listed = sum(tag == "h3" and text == paper.title for tag, text in checked.headings)
        assert listed and visible.count(f"\u26a0 {mark} {paper.title}") == listed
        assert visible.count(mark) == 2 + listed  # and in the banner and the strongest evidence
    assert "RETRACTED" not in visible  # retracted since, not when it was sent
    this_week = (archive / "2026-W49.html").read_text()
    assert "since this digest" not in this_week and "Papers from earlier digests were retracted or corrected" in this_week

    index = (archive / "index.html").read_text()
    entries = re.findall(r"<li[^>]*>(.*?)</li>", index)
    assert [("2026-W49.html" in e, "Since it went out" in e) for e in entries] == [(True, False), (False, True)]
    assert "Since it went out, papers in it: 1 retracted, 1 corrected" in " ".join(" ".join(check_html(index).text).split())


def test_marking_again_adds_nothing_twice(two_weeks):
    store, retracted, corrected, send, archive = two_weeks
    send(1)
    first = (archive / "2026-W48.html").read_text()
    assert send(1).already_sent  # a rerun writes the pages again
    (archive / "2026-W49.html").unlink()
    archive_missing(store, params(), archive, MONDAY + timedelta(weeks=1, hours=2))
    assert (archive / "2026-W48.html").read_text() == first and (archive / "2026-W49.html").exists()
    assert (archive / "index.html").read_text().count("Since it went out") == 1


def test_a_page_that_cannot_be_marked_leaves_the_warning_digest_s_page_missing_until_it_can(two_weeks):
    """The next send or run adds what the archive lacks: the page with the warnings is written last."""
    store, retracted, corrected, send, archive = two_weeks
    (archive / "2026-W48.html").unlink()
    (archive / "2026-W48.html").mkdir()  # cannot be replaced
    outcome = send(1)
    assert outcome.delivered and outcome.archive_error.startswith("the 2026-W49 digest is not in the archive: ")
    assert not (archive / "2026-W49.html").exists()
    (archive / "2026-W48.html").rmdir()
    archive_missing(store, params(), archive, MONDAY + timedelta(weeks=1, hours=1))
    assert RETRACTED_SINCE in visible_text((archive / "2026-W48.html").read_text()) and (archive / "2026-W49.html").exists()


def test_a_late_delivery_of_the_earlier_digest_carries_the_marks_too(two_weeks, tmp_path):
    store, retracted, corrected, send, archive = two_weeks
    send(1)
    store.db.execute("UPDATE deliveries SET status = 'pending' WHERE digest_id = 1")  # as if its send had failed
    late, _ = send_digests(store, params(), MONDAY + timedelta(weeks=1, hours=1), OutboxTransport(tmp_path / "out"))
    assert late.period == "2026-W48" and late.delivered == ["all@example.org"]
    text, html = parts(tmp_path / "out" / "2026-W48" / "all@example.org.eml")
    assert text.index("SINCE THIS DIGEST WENT OUT") < text.index("THE WEEK AT A GLANCE")
    assert f"* {retracted.title} [{RETRACTED_SINCE}] " in words(text) and RETRACTED_SINCE in html
    assert f": {retracted.title} ({retracted.pubmed_url}) [{RETRACTED_SINCE}] - " in words(text)  # in the strongest evidence


def test_an_archive_page_links_the_index_and_the_digest_its_marks_name_and_an_e_mail_does_not(two_weeks, tmp_path):
    """'see the 23-30 Nov 2026 digest' names a page in the same folder: it is one click away, and every page
    leads back to the index. An e-mail has no page beside it to link."""
    store, retracted, corrected, send, archive = two_weeks
    send(1)
    for name in ("2026-W48.html", "2026-W49.html"):
        page = check_html((archive / name).read_text())
        assert "index.html" in page.links
        assert all((archive / link).is_file() for link in page.links if not link.startswith(("https://", "mailto:")))
    page = (archive / "2026-W48.html").read_text()
    marks = visible_text(page).count(RETRACTED_SINCE) + visible_text(page).count(CORRECTED_SINCE)
    assert re.findall(r'<a href="2026-W49\.html"[^>]*>([^<]*)</a>', page) == ["the 23-30 Nov 2026 digest"] * marks
    assert marks > 4  # the banner, the strongest evidence, the sections

    store.db.execute("UPDATE deliveries SET status = 'pending' WHERE digest_id = 1")  # as if its send had failed
    send_digests(store, params(), MONDAY + timedelta(weeks=1, hours=1), OutboxTransport(tmp_path / "late"))
    html = parts(tmp_path / "late" / "2026-W48" / "all@example.org.eml")[1]
    assert RETRACTED_SINCE in visible_text(html)
    assert all(link.startswith(("https://", "mailto:")) for link in check_html(html).links)


def test_a_page_marked_again_lists_every_paper_its_digest_sent(two_weeks):
    """What readers were sent stays on the page: a paper classified again below today's relevance cut-off
    (a retrain, another threshold) is still listed, and the counts stay those of the digest."""
    store, retracted, corrected, send, archive = two_weeks
    sent = preview_digest(store, params(), MONDAY)
    dropped = next(item.pmid for item in sent.items if item.pmid not in (retracted.pmid, corrected.pmid))
    [classification] = load_classifications(store, [dropped]).values()
    save_classifications(store, [dataclasses.replace(classification, relevance=0.0)])
    send(1)
    page = (archive / "2026-W48.html").read_text()
    assert RETRACTED_SINCE in visible_text(page) and store.get_article(dropped).title in page
    assert len(preview_digest(store, params(), MONDAY).items) == len(sent.items)



def test_a_lost_archive_is_rebuilt_page_by_page_with_one_index(shared_data, tmp_path, monkeypatch):
    """Rebuilding N pages writes the index once, not after each page (N indexes of up to N pages each);
    the files are those the sends wrote."""
    clock = Clock(MONDAY - timedelta(days=1))
    with filled_store(shared_data, clock, limit=6) as (store, _):
        archive, last = tmp_path / "archive", MONDAY + timedelta(weeks=3)
        for week in range(4):
            send_due_digest(store, params(), MONDAY + timedelta(weeks=week), OutboxTransport(tmp_path / "out"), archive_dir=archive)
        written = {path.name: path.read_bytes() for path in archive.iterdir()}
        shutil.rmtree(archive)
        indexes = []
        monkeypatch.setattr(delivery, "archive_index", lambda *args: indexes.append(args) or archive_index(*args))
        archive_missing(store, params(), archive, last)
        assert len(indexes) == 1 and [name for name, _, _ in indexes[0][0]] == [f"2026-W{week}.html" for week in (51, 50, 49, 48)]
        assert {path.name: path.read_bytes() for path in archive.iterdir()} == written
        archive_missing(store, params(), archive, last)
        assert len(indexes) == 1  # nothing missing, nothing written
        (archive / "index.html").unlink()  # its write failed once (the pages were in place), or it was deleted
        archive_missing(store, params(), archive, last)
        assert len(indexes) == 2 and (archive / "index.html").read_bytes() == written["index.html"]


def test_a_page_whose_chart_or_subject_could_not_be_written_is_completed_by_the_next_send_or_run(shared_data, tmp_path,
                                                                                                   monkeypatch):
    """The disk fills while the page's files are written: no page is left pointing at a chart that is not
    there, and once space is freed the run that finds the digest done still writes the page whole, and the
    index names it by its subject, not '2026-W48'. A page an earlier version left without them is too."""
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=6) as (store, _):
        archive = tmp_path / "archive"
        write_bytes = Path.write_bytes

        def no_chart(path: Path, data: bytes) -> int:
            if path.name.endswith(".png.tmp"):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return write_bytes(path, data)

        monkeypatch.setattr(Path, "write_bytes", no_chart)
        sent = send_due_digest(store, params(), MONDAY, OutboxTransport(tmp_path / "out"), archive_dir=archive)
        assert sent.delivered == ["all@example.org"] and "No space left on device" in sent.archive_error
        assert not (archive / "2026-W48.html").exists()
        monkeypatch.undo()  # space freed
        archive_missing(store, params(), archive, MONDAY + timedelta(hours=1))
        subject = (archive / "2026-W48.subject").read_text(encoding="utf-8")
        assert (archive / "2026-W48.png").read_bytes().startswith(b"\x89PNG")
        assert f">{escape(subject)}</a>" in (archive / "index.html").read_text(encoding="utf-8")

        for suffix in (".png", ".subject"):  # as a page written first, before its chart or subject, was left
            (archive / f"2026-W48{suffix}").unlink()
            archive_missing(store, params(), archive, MONDAY + timedelta(hours=2))
            assert (archive / f"2026-W48{suffix}").exists()


def test_the_index_tells_a_concern_from_a_correction_and_every_notice_links_to_pubmed(two_weeks, tmp_path):
    """An expression of concern says the data may not be sound, graver than an erratum: the index counts each
    paper under its heaviest notice, and a notice's PMID opens the notice itself, on the pages and in the e-mail."""
    store, retracted, corrected, send, archive = two_weeks
    listed = sorted(p for p, in store.db.execute("SELECT pmid FROM digest_items") if p not in (retracted.pmid, corrected.pmid))
    concerned = store.get_article(listed[0])
    store.upsert_articles([dataclasses.replace(concerned, links=[*concerned.links, Link("ExpressionOfConcernIn", "99000003"),
                                                                 Link("ErratumIn", "99000004")])])
    save_classifications(store, [load_classifications(store, [concerned.pmid])[concerned.pmid]])
    send(1)
    index = " ".join(" ".join(check_html((archive / "index.html").read_text()).text).split())
    assert "Since it went out, papers in it: 1 retracted, 1 under an expression of concern, 1 corrected" in index
    _, mail = parts(tmp_path / "out" / "2026-W49" / "all@example.org.eml")
    for html in ((archive / "2026-W48.html").read_text(), (archive / "2026-W49.html").read_text(), mail):
        links = check_html(html).links
        for notice in ("99000001", "99000002", "99000003", "99000004"):
            if f"PMID {notice}" in visible_text(html):
                assert f"https://pubmed.ncbi.nlm.nih.gov/{notice}/" in links
        assert "https://pubmed.ncbi.nlm.nih.gov/99000003/" in links
