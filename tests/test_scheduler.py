"""Scheduling: jobs, their settings and next fire times, computed from a given 'now' (no waiting)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from corpus.errors import ConfigError
from oihwatch.config import ScheduleSettings, settings_from_mapping
from oihwatch.scheduler import MISFIRE_GRACE_SECONDS, build_scheduler, next_fire_times

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)  # a Friday


def test_default_schedule_harvests_nightly_and_digests_on_monday_eastern():
    times = next_fire_times(ScheduleSettings(), NOW, count=3)
    eastern = ZoneInfo("America/New_York")
    assert [t.astimezone(eastern).strftime("%a %d %H:%M") for t in times["harvest"]] == [
        "Sat 28 02:30", "Sun 29 02:30", "Mon 30 02:30",
    ]
    assert [t.astimezone(eastern).strftime("%a %d %H:%M") for t in times["digest"]] == [
        "Mon 30 07:00", "Mon 07 07:00", "Mon 14 07:00",
    ]
    assert times["digest"][0].astimezone(timezone.utc).hour == 12  # EST is UTC-5 in November


@pytest.mark.parametrize(
    "harvest, tz, expected_utc",
    [
        ("0 3 * * sat,sun", "America/New_York", ["2026-11-28 08:00", "2026-11-29 08:00", "2026-12-05 08:00"]),
        ("15 */6 * * *", "UTC", ["2026-11-27 12:15", "2026-11-27 18:15", "2026-11-28 00:15"]),
        ("0 1 1 * *", "Europe/Berlin", ["2026-12-01 00:00", "2027-01-01 00:00", "2027-02-01 00:00"]),
        ("30 2 * * *", "Australia/Sydney", ["2026-11-27 15:30", "2026-11-28 15:30", "2026-11-29 15:30"]),
    ],
)
def test_next_fire_times_for_several_expressions_and_zones(harvest, tz, expected_utc):
    times = next_fire_times(ScheduleSettings(harvest=harvest, timezone=tz), NOW, count=3)["harvest"]
    assert [t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") for t in times] == expected_utc


def test_daylight_saving_change_keeps_local_time():
    spring = datetime(2027, 3, 12, 12, 0, tzinfo=timezone.utc)
    times = next_fire_times(ScheduleSettings(harvest="30 3 * * *"), spring, count=3)["harvest"]
    eastern = ZoneInfo("America/New_York")
    assert {t.astimezone(eastern).strftime("%H:%M") for t in times} == {"03:30"}
    assert len({t.utcoffset() for t in times}) == 2  # the offset changed on 14 March


def test_jobs_coalesce_never_overlap_and_run_one_at_a_time():
    calls = []
    scheduler = build_scheduler(ScheduleSettings(), {"harvest": lambda: calls.append("h"), "digest": lambda: calls.append("d")})
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"harvest", "digest"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS
    assert scheduler._executors["default"]._pool._max_workers == 1
    jobs["harvest"].func()
    assert calls == ["h"]


@pytest.mark.parametrize(
    "schedule, message",
    [
        ({"harvest": "61 * * * *"}, r"schedule\.harvest in .*not a cron expression"),
        ({"digest": "every monday"}, r"schedule\.digest in .*not a cron expression"),
        ({"timezone": "Mars/Olympus"}, r"schedule\.timezone in .*unknown time zone"),
    ],
)
def test_bad_schedule_is_a_config_error(tmp_path, schedule, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_mapping({"ncbi": {"email": "a@b.org"}, "schedule": schedule}, tmp_path / "c.toml", {})
