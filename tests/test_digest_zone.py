"""A digest names the days of its schedule's time zone: far from UTC, the UTC day is another."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from corpus.article import Link
from corpus.store import iso_utc
from corpus.tags import save_classifications
from digest_support import Clock, classify, created_on, filled_store, params, parts, real_articles, words
from reports.delivery import OutboxTransport
from reports.outage import HarvestOutage
from reports.sending import hold_reason, preview_digest, send_due_digest
from test_digest_render import visible_text

# (zone, digest.time, when the run sends it): Monday 7 Dec 2026 local time is Sunday 6 Dec in UTC in
# Kiritimati (UTC+14), and Tuesday 8 Dec in UTC in Pago Pago (UTC-11) once its evening digest is due.
ZONES = [("Pacific/Kiritimati", "07:00", "07:30"), ("Pacific/Pago_Pago", "18:00", "18:30")]


@pytest.mark.parametrize("zone, due, sent", ZONES)
def test_subject_header_trend_marks_and_index_name_the_local_days(shared_data, tmp_path, zone, due, sent):
    hour, minute = (int(part) for part in sent.split(":"))
    first = datetime(2026, 12, 7, hour, minute, tzinfo=ZoneInfo(zone))  # a Monday, local time
    clock = Clock(first - timedelta(days=1))
    with filled_store(shared_data, clock, limit=12) as (store, _):
        news = created_on(real_articles(shared_data, 24)[12:], (first + timedelta(days=3)).date())
        settings = params(timezone=zone, time=due)
        archive = tmp_path / "archive"

        def send(week: int):
            return send_due_digest(store, settings, first + timedelta(weeks=week), OutboxTransport(tmp_path / "out"),
                                   archive_dir=archive)

        earlier = send(0)
        retracted = store.get_article(preview_digest(store, settings, first).strongest[0].pmid)
        clock.now = first + timedelta(days=3)
        store.upsert_articles([*news, dataclasses.replace(
            retracted, links=[*retracted.links, Link("RetractionIn", "99000001")],
            publication_types=[*retracted.publication_types, "Retracted Publication"])])
        save_classifications(store, [classify(article, index) for index, article in enumerate(news)])
        later = send(1)

        subject = f"OIH evidence digest, 7-14 Dec 2026: {later.items} new papers; 1 retraction/correction warning"
        text, html = parts(tmp_path / "out" / later.period / "all@example.org.eml")
        assert text.startswith("OIH evidence digest, 7-14 Dec 2026\n")
        assert f"{later.items} new papers · 7-14 Dec 2026" in visible_text(html)
        trend = f"{later.items} in this digest, {earlier.items} in the one before (7 Dec)."
        assert trend in words(text) and trend in visible_text(html)
        assert (archive / f"{later.period}.subject").read_text() == subject
        assert (archive / f"{earlier.period}.subject").read_text().startswith("OIH evidence digest, 30 Nov - 7 Dec 2026: ")
        assert subject in (archive / "index.html").read_text()
        assert "Retracted since this digest (see the 7-14 Dec 2026 digest)" in visible_text(
            (archive / f"{earlier.period}.html").read_text())
        start, end = (moment.astimezone(timezone.utc).date() for moment in (first, first + timedelta(weeks=1)))
        assert f"papers first seen {start} to {end} (UTC)." in words(text)  # the footer says which days it names


@pytest.mark.parametrize("zone", [zone for zone, _, _ in ZONES])
def test_the_day_pubmed_was_last_searched_is_a_local_day(shared_data, zone):
    monday = datetime(2026, 12, 7, 12, tzinfo=ZoneInfo(zone))
    with filled_store(shared_data, Clock(monday - timedelta(days=1)), limit=3) as (store, _):
        searched = datetime(2026, 12, 5, 13, 30, tzinfo=ZoneInfo(zone))  # Saturday local, Friday or Sunday in UTC
        outage = HarvestOutage("oih", iso_utc(monday - timedelta(hours=1)), iso_utc(searched))
        digest = dataclasses.replace(preview_digest(store, params(timezone=zone), monday), outage=outage)
        assert digest.caveat.startswith("PubMed could not be searched since 2026-12-05;")
        assert digest.subject.endswith("; PubMed not searched since 2026-12-05")
        held = hold_reason(store, params(timezone=zone), monday, digest)  # the operator is told the note it will carry
        assert held.endswith("with a note that PubMed could not be searched since 2026-12-05")
