"""``oihwatch status`` names every moment in the schedule's time zone, labelled, as the digest names its
days; ``--json`` keeps the store's UTC. The case: Monday 07:35 in Berlin, NCBI failing since Sunday night,
so the week's digest is held, and the nightly pass, not next week's digest job, sends it."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from corpus.runs import finish_run, start_run
from corpus.store import Store
from oihwatch.commands.ops import print_status
from oihwatch.config import default_config_text, load_settings
from oihwatch.status import gather_status

NOW = datetime(2027, 12, 6, 6, 35, tzinfo=timezone.utc)  # Monday 07:35 in Berlin, the digest due at 07:00
HELD = ("the 2027-W49 digest is held: the last harvest (query oih) failed at 2027-12-06 07:05 CET; it goes out after "
        "the next successful harvest, or from 2027-12-09 07:00 CET with a note that PubMed could not be searched "
        "since 2027-12-04")


def berlin_site(tmp_path):
    """A config in Berlin's zone with one reader, and a store whose harvests failed from Sunday night on."""
    path = tmp_path / "config.toml"
    text = default_config_text("ops@example.org").replace('timezone = "America/New_York"', 'timezone = "Europe/Berlin"', 1)
    path.write_text(text + '\n[[recipients]]\nemail = "all@example.org"\n', encoding="utf-8")
    settings = load_settings(path, {})
    moment = [NOW]
    store = Store(settings.database_path, clock=lambda: moment[0])
    for at, status in (("2027-12-04T01:30:02", "ok"), ("2027-12-05T01:30:02", "failed"), ("2027-12-06T01:30:02", "failed"),
                       ("2027-12-06T06:05:01", "failed")):  # the nightly passes at 02:30, and Monday's at 07:05
        moment[0] = datetime.fromisoformat(at + "+00:00")
        finish_run(store, start_run(store, "harvest", "oih"), status, error="" if status == "ok" else "NCBI answered HTTP 500")
    return settings, store


def test_every_moment_status_shows_is_in_the_schedules_zone_and_the_nightly_pass_is_said_to_send_the_held_digest(
        tmp_path, capsys):
    settings, store = berlin_site(tmp_path)
    meta = {"model_version": "0.1.0+20270301013008.ce526eea", "created": "2027-03-01T01:30:08+00:00", "records": 147}
    with store:
        info = gather_status(settings, store, meta, NOW)
    print_status(info)
    shown = capsys.readouterr().out
    assert HELD in info["warnings"] and f"warning: {HELD}\n" in shown
    assert ("next runs harvest 2027-12-07 02:30 CET (with the held 2027-W49 digest, once it may go: see the warning), "
            "digest 2027-12-13 07:00 CET\n") in shown
    assert "model 0.1.0+20270301013008.ce526eea trained 2027-03-01 02:30 CET on 147 records" in shown
    assert "last runs (Europe/Berlin)" in shown and re.search(r"│ harvest │ oih +│ 2027-12-06 07:05 CET │ failed ", shown)
    assert ("warning: last harvest oih failed (started 2027-12-06 07:05 CET): NCBI answered HTTP 500\n"
            "warning: query oih last harvested successfully 2027-12-04 02:30 CET, longer ago than the schedule expects "
            "(a harvest was due at 2027-12-05 02:30 CET)\n") in shown
    assert not re.search(r"\d\d:\d\d:\d\d|[+-]\d\d:\d\d|UTC", shown)  # no moment left in UTC, or unlabelled

    assert info["timezone"] == "Europe/Berlin" and info["held_digest"] == {"period": "2027-W49", "reason": HELD}
    assert [run["started"] for run in info["last_runs"]] == ["2027-12-06T06:05:01+00:00"]  # --json: as the store has it
    assert info["model"]["trained"] == "2027-03-01T01:30:08+00:00"
    assert info["next_runs"] == {"harvest": "2027-12-07T02:30:00+01:00", "digest": "2027-12-13T07:00:00+01:00"}


def test_without_a_held_digest_the_next_runs_are_only_their_times(tmp_path, capsys):
    settings, store = berlin_site(tmp_path)
    with store:
        finish_run(store, start_run(store, "harvest", "oih"), "ok")  # NCBI back at 07:35: the digest may go
        info = gather_status(settings, store, None, NOW)
    print_status(info)
    assert info["held_digest"] is None
    assert "next runs harvest 2027-12-07 02:30 CET, digest 2027-12-13 07:00 CET\n" in capsys.readouterr().out
