"""Scheduling: jobs, their settings and next fire times, computed from a given 'now' (no waiting)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from corpus.errors import ConfigError
from oihwatch.config import ScheduleSettings, load_settings, settings_from_mapping
from oihwatch.scheduler import MISFIRE_GRACE_SECONDS, build_scheduler, in_zone, next_fire_times

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


def test_a_time_the_spring_change_skips_is_listed_as_the_time_the_job_runs():
    times = next_fire_times(ScheduleSettings(), datetime(2026, 3, 7, 12, 0, tzinfo=timezone.utc), count=2)["harvest"]
    assert [t.isoformat() for t in times] == ["2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"]


# The nights clocks fall back in 2026: 1 November in New York (02:00 EDT -> 01:00 EST), 25 October in
# Berlin (03:00 CEST -> 02:00 CET); the wall times of the hour before are shown twice.
@pytest.mark.parametrize(
    "harvest, tz, after, expected",
    [
        ("30 1 * * *", "America/New_York", "2026-10-31 12:00",
         ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"]),
        ("30 2 * * *", "Europe/Berlin", "2026-10-24 12:00",
         ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"]),
        # A fixed hour after the repeated one still runs, once.
        ("30 1-2 * * *", "America/New_York", "2026-10-31 12:00",
         ["2026-11-01T01:30:00-04:00", "2026-11-01T02:30:00-05:00", "2026-11-02T01:30:00-05:00"]),
        # Asked for during the repeated hour, after the first 02:30: the next run is the next night's.
        ("30 2 * * *", "Europe/Berlin", "2026-10-25 01:00",
         ["2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00", "2026-10-28T02:30:00+01:00"]),
    ],
)
def test_a_fixed_time_the_fall_change_repeats_runs_once_at_the_first(harvest, tz, after, expected):
    """As in cron(8): a job whose minute and hour do not start with '*' runs once that night."""
    now = datetime.fromisoformat(after).replace(tzinfo=timezone.utc)
    times = next_fire_times(ScheduleSettings(harvest=harvest, timezone=tz), now, count=3)["harvest"]
    assert [t.isoformat() for t in times] == expected


@pytest.mark.parametrize(
    "harvest, tz, after, expected",
    [
        ("0 * * * *", "America/New_York", "2026-11-01 04:30",
         ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]),
        ("*/15 * * * *", "Europe/Berlin", "2026-10-25 00:40",
         ["2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:15:00+01:00"]),
        # cron(8) counts a minute starting with '*' as a wildcard too: every 20 minutes of both hours.
        ("*/20 1 * * *", "America/New_York", "2026-11-01 05:30",
         ["2026-11-01T01:40:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:20:00-05:00"]),
    ],
)
def test_a_wildcard_job_runs_at_each_time_the_clocks_show(harvest, tz, after, expected):
    now = datetime.fromisoformat(after).replace(tzinfo=timezone.utc)
    times = next_fire_times(ScheduleSettings(harvest=harvest, timezone=tz), now, count=3)["harvest"]
    assert [t.isoformat() for t in times] == expected


@pytest.mark.parametrize(
    "tz, sunday, at",
    [("America/New_York", date(2026, 11, 1), "01:30"), ("Europe/Berlin", date(2026, 10, 25), "02:30")],
)
def test_the_scheduler_listing_status_and_digest_agree_on_the_repeated_hour(tmp_path, monkeypatch, tz, sunday, at):
    """The digest due at a repeated time is due at the first; its job fires then, and only then."""
    from click.testing import CliRunner

    from oihwatch.cli import cli
    from oihwatch.commands import unattended
    from oihwatch.status import next_runs
    from reports.period import latest_due

    hour, minute = at.split(":")
    cron = f"{int(minute)} {int(hour)} * * sun"
    path = tmp_path / "config.toml"
    path.write_text(f'[ncbi]\nemail = "a@b.org"\n[digest]\nweekday = "sun"\ntime = "{at}"\n'
                    f'[schedule]\ntimezone = "{tz}"\nharvest = "{cron}"\ndigest = "{cron}"\n', encoding="utf-8")
    settings = load_settings(path, {})
    midnight = datetime.combine(sunday, datetime.min.time(), timezone.utc)
    saturday = midnight - timedelta(hours=12)
    due = latest_due("sun", at, tz, midnight + timedelta(hours=12))
    first = due.isoformat()
    assert due.utcoffset() > (due + timedelta(weeks=1)).utcoffset()  # summer time: the first of the two

    assert next_runs(settings, saturday) == {"harvest": first, "digest": first}
    after_first = due + timedelta(minutes=1)
    next_week = (due + timedelta(weeks=1)).isoformat()  # the same wall time, now with the winter offset
    assert next_runs(settings, after_first)["digest"] == next_week

    for job in build_scheduler(settings.schedule, {"harvest": print, "digest": print}).get_jobs():
        fire = job.trigger.get_next_fire_time(None, saturday)
        assert in_zone(fire, tz).isoformat() == first
        assert in_zone(job.trigger.get_next_fire_time(fire, fire), tz).isoformat() == next_week

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return saturday.astimezone(tz)

    monkeypatch.setattr(unattended, "datetime", Clock)
    result = CliRunner().invoke(cli, ["-c", str(path), "schedule", "--list"])
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        assert line.split("next: ")[1].split(", ")[:2] == [first, next_week]


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
        ({"harvest": "0 0 31 4 *"}, r"schedule\.harvest in .*: never fires: no day matches it \(such as 30 February\)"),
        ({"digest": "every monday"}, r"schedule\.digest in .*not a cron expression"),
        ({"timezone": "Mars/Olympus"}, r"schedule\.timezone in .*unknown time zone"),
    ],
)
def test_bad_schedule_is_a_config_error(tmp_path, schedule, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_mapping({"ncbi": {"email": "a@b.org"}, "schedule": schedule}, tmp_path / "c.toml", {})


@pytest.mark.parametrize(
    "digest, expected",
    [
        # crontab(5): 0 and 7 are Sunday, 1 Monday; ranges, lists, steps and names as cron reads them.
        ("0 7 * * 1", ["Mon 30", "Mon 07", "Mon 14"]),
        ("0 7 * * 0", ["Sun 29", "Sun 06", "Sun 13"]),
        ("0 7 * * 7", ["Sun 29", "Sun 06", "Sun 13"]),
        ("0 7 * * 1-5", ["Mon 30", "Tue 01", "Wed 02", "Thu 03", "Fri 04", "Mon 07"]),
        ("0 7 * * 5-7", ["Sat 28", "Sun 29", "Fri 04", "Sat 05"]),
        ("0 7 * * 0,3", ["Sun 29", "Wed 02", "Sun 06"]),
        ("0 7 * * */2", ["Sat 28", "Sun 29", "Tue 01", "Thu 03", "Sat 05"]),
        ("0 7 * * 1-5/2", ["Mon 30", "Wed 02", "Fri 04", "Mon 07"]),
        ("0 7 * * MON-fri", ["Mon 30", "Tue 01", "Wed 02", "Thu 03", "Fri 04", "Mon 07"]),
        ("0 7 * * fri-sun", ["Sat 28", "Sun 29", "Fri 04", "Sat 05"]),
        ("0 7 * * sun,wed", ["Sun 29", "Wed 02", "Sun 06"]),
        # Both day fields restricted: cron runs on either (the 1st, and every Monday).
        ("0 7 1 * 1", ["Mon 30", "Tue 01", "Mon 07", "Mon 14"]),
        # A day field starting with '*' does not widen: odd days of the month that are Wednesdays.
        ("0 7 */2 * 3", ["Wed 09", "Wed 23", "Wed 13"]),
    ],
)
def test_weekdays_count_as_in_crontab(digest, expected):
    """From NOW, Friday 27 November 2026 12:00 UTC (today's 07:00 is past)."""
    times = next_fire_times(ScheduleSettings(digest=digest, timezone="UTC"), NOW, count=len(expected))["digest"]
    assert [t.strftime("%a %d") for t in times] == expected
    assert {t.strftime("%H:%M") for t in times} == {"07:00"}


@pytest.mark.parametrize(
    "digest, message",
    [
        ("0 7 * * 8", r"weekday '8' is not 0-7"),
        ("0 7 * * 5-1", r"weekday range '5-1' runs backwards"),
        ("0 7 * * */0", r"weekday step '0'"),
        ("0 7 * * funday", r"weekday 'funday'"),
        ("0 7 * *", r"4 fields where cron has 5"),
    ],
)
def test_bad_weekday_fields_are_config_errors(tmp_path, digest, message):
    with pytest.raises(ConfigError, match=r"schedule\.digest in .*not a cron expression.*" + message):
        settings_from_mapping({"ncbi": {"email": "a@b.org"}, "schedule": {"digest": digest}}, tmp_path / "c.toml", {})


def test_schedule_list_reads_weekdays_as_cron(tmp_path):
    """The operator's check: Monday digests listed for Mondays."""
    from click.testing import CliRunner

    from oihwatch.cli import cli

    path = tmp_path / "config.toml"
    path.write_text('[ncbi]\nemail = "a@b.org"\n[schedule]\ndigest = "0 7 * * 1"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(path), "schedule", "--list"])
    assert result.exit_code == 0, result.output
    digest_line = next(line for line in result.output.splitlines() if line.startswith("digest"))
    days = {datetime.fromisoformat(t).weekday() for t in digest_line.split("next: ")[1].split(", ")}
    assert days == {0}  # Monday
