"""``oihwatch status``'s warnings, gathered from a real store and settings at a fixed 'now'."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from corpus.ledger import mark_delivered, mark_failed, mark_refused, record_digest
from corpus.runs import STOPPED, finish_run, last_runs, set_watermark, start_run
from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.config import default_config_text, load_settings
from oihwatch.lock import lock_path, write_lock
from oihwatch.runlog import recorded
from oihwatch.status import gather_status

NOW = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)


def test_a_first_harvest_cut_short_says_where_it_got_to_not_never(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    settings = load_settings(path, {})
    with Store(settings.database_path) as store:
        before = gather_status(settings, store, None, NOW)["warnings"]
        set_watermark(store, "oih", "2006-01-04")  # what a killed first backfill leaves behind
        after = gather_status(settings, store, None, NOW)["warnings"]
    assert "query oih has never been harvested: run 'oihwatch harvest'" in before
    assert "query oih has not finished a harvest yet (stored up to 2006-01-04): run 'oihwatch harvest' to go on from there" in after


def test_a_harvest_running_now_is_not_told_to_run(tmp_path):
    """During a long first backfill, 'run oihwatch harvest' would start a second writer that waits for the
    lock and fails: the running step says all there is to say."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    settings = load_settings(path, {})
    with Store(settings.database_path) as store:
        set_watermark(store, "oih", "2006-01-04")
        start_run(store, "harvest", "oih")
        with write_lock(lock_path(settings.database_path), "harvest"):
            status = gather_status(settings, store, None, NOW)
    assert [run["status"] for run in status["last_runs"] if run["step"] == "harvest"] == ["running"]
    assert not [warning for warning in status["warnings"] if "query oih" in warning]


def test_the_relevant_records_are_counted_by_the_threshold_of_the_model_shown(tmp_path, research_store):
    """status reads model.json once: a training that replaces the model meanwhile cannot make it show
    one model and count the records about OIH with another's threshold."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    settings = load_settings(path, {})
    models = settings.resolve(settings.classifier.model_dir)
    models.mkdir()
    (models / "model.joblib").write_bytes(b"")
    (models / "model.json").write_text(json.dumps({"model_version": "after", "thresholds": {"oih": 1.01}}), encoding="utf-8")
    status = gather_status(settings, research_store, {"model_version": "before", "thresholds": {"oih": 0.0}}, NOW)
    assert status["relevant"] == research_store.db.execute("SELECT COUNT(*) FROM classifications").fetchone()[0] > 0
    assert status["model"]["version"] == "before"


def digest_site(tmp_path):
    """A config with two recipients and a store with three digests: W48 delivered to both, W49 refused
    for one, W50 reaching nobody yet (one never tried, one refused for now twice)."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org") + '\n[[recipients]]\nemail = "all@example.org"\n'
                    '\n[[recipients]]\nemail = "pharmacy@example.org"\n', encoding="utf-8")
    settings = load_settings(path, {})
    with Store(settings.database_path) as store:
        ids = {}
        for week in ("2026-W48", "2026-W49", "2026-W50"):
            ids[week] = record_digest(store, week, "2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00", "s", {},
                                      {"all@example.org": f"<{week}.a>", "pharmacy@example.org": f"<{week}.p>"}, []).id
        mark_delivered(store, ids["2026-W48"], "all@example.org", "sent")
        mark_delivered(store, ids["2026-W48"], "pharmacy@example.org", "sent")
        mark_delivered(store, ids["2026-W49"], "all@example.org", "sent")
        mark_refused(store, ids["2026-W49"], "pharmacy@example.org", "550 5.1.1 mailbox unavailable")
        for _ in range(2):
            mark_failed(store, ids["2026-W50"], "pharmacy@example.org", "452 4.2.2 mailbox full")
    return path, settings


def test_digests_recorded_are_told_apart_from_digests_delivered(tmp_path):
    path, settings = digest_site(tmp_path)
    with Store(settings.database_path) as store:
        digests = gather_status(settings, store, None, NOW)["digests"]
    assert {k: digests[k] for k in ("recorded", "delivered", "with_pending", "with_refused", "sent")} == {
        "recorded": 3, "delivered": 1, "with_pending": 1, "with_refused": 1, "sent": 2}
    assert digests["last"]["period"] == "2026-W50" and digests["last"]["deliveries"] == {"pending": 2}
    result = CliRunner().invoke(cli, ["-c", str(path), "status"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert ("digests 3 recorded, 1 delivered to every recipient (1 still pending for some, 1 refused for some); "
            "last 2026-W50: 2 pending\n") in result.stdout


def test_text_status_names_each_pending_recipient_with_its_attempts_and_last_error(tmp_path):
    path, settings = digest_site(tmp_path)
    with Store(settings.database_path) as store:
        warnings = gather_status(settings, store, None, NOW)["warnings"]
    pending = ["digest delivery to all@example.org pending for 2026-W50 (not tried yet); "
               "'oihwatch digest --send' (or the next run) retries it",
               "digest delivery to pharmacy@example.org pending for 2026-W50 (2 attempts), last error: 452 4.2.2 mailbox "
               "full; 'oihwatch digest --send' (or the next run) retries it"]
    assert [w for w in warnings if "pending" in w] == pending
    result = CliRunner().invoke(cli, ["-c", str(path), "status"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    for warning in pending:
        assert f"warning: {warning}\n" in result.stdout


def test_a_step_stopped_by_ctrl_c_is_recorded_interrupted_not_failed(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    settings = load_settings(path, {})
    with Store(settings.database_path) as store:
        with pytest.raises(KeyboardInterrupt), recorded(store, "classify") as counts:
            counts["new"] = 3
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C delivers it
        with pytest.raises(ValueError), recorded(store, "train"):
            raise ValueError("no labels")
        runs = last_runs(store)
        warnings = gather_status(settings, store, None, NOW)["warnings"]
    assert (runs[("classify", "")].status, runs[("classify", "")].error, runs[("classify", "")].new) == ("interrupted", STOPPED, 3)
    assert (runs[("train", "")].status, runs[("train", "")].error) == ("failed", "no labels")
    assert any(w.startswith("last classify interrupted (started ") and w.endswith(f": {STOPPED}") for w in warnings)


def test_last_runs_say_each_steps_counts_in_its_own_words(tmp_path):
    """The run log keeps found / new / updated for every step, and only a harvest's mean that: a digest's
    are its papers and deliveries, a classify's the records classified, a train's the records trained on."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    settings = load_settings(path, {})
    with Store(settings.database_path) as store:
        finish_run(store, start_run(store, "harvest", "oih"), "ok", 1200, 3, 9)
        finish_run(store, start_run(store, "sweep", "oih"), "ok", 1, 0, 1)
        for step, counts in (("classify", {"found": 822, "updated": 822}), ("digest", {"found": 1, "new": 3}),
                             ("train", {"found": 5789})):
            with recorded(store, step) as kept:
                kept.update(counts)
    assert counts_column(path) == {"harvest": "1,200 found, 3 new, 9 updated", "sweep": "1 found, 0 new, 1 updated",
                                   "classify": "822 classified", "digest": "1 paper, for 3 recipients", "train": "5,789 records"}
    with Store(settings.database_path) as store:
        with recorded(store, "digest"), recorded(store, "train"):  # a digest not due; a train of an older version
            pass
    rows = counts_column(path)
    assert (rows["digest"], rows["train"]) == ("nothing sent or written", "")


def counts_column(config) -> dict[str, str]:
    """Step → its counts, as the text status's table of last runs shows them."""
    result = CliRunner().invoke(cli, ["-c", str(config), "status"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    rows = (line.split("│") for line in result.stdout.splitlines())
    return {cells[1].strip(): cells[5].strip() for cells in rows if len(cells) == 8}


def test_a_model_json_cut_short_is_told_in_classifys_words_not_as_no_trained_model(tmp_path):
    """'no trained model' sent the operator looking for a train that never ran, while classify named the
    file it could not read; both now say so, and that 'oihwatch train' writes the model anew."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    Store(tmp_path / "oihwatch.db").close()
    models = tmp_path / "models"
    models.mkdir()
    meta = json.dumps({"model_version": "v1", "model_file": "model-0123456789abcdef.joblib", "settings": {}}, indent=2)
    (models / "model.json").write_text(meta[:40], encoding="utf-8")
    classify = CliRunner().invoke(cli, ["-c", str(path), "classify"])
    assert classify.exit_code == 1 and classify.output.count("\n") == 1
    reason = classify.output.removeprefix("Error: ").rstrip("\n")
    assert reason.startswith(f"cannot read {models / 'model.json'} (") and reason.endswith("; run 'oihwatch train' to rebuild the model")
    status = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    assert status.exit_code == 0, status.output
    warnings = json.loads(status.stdout)["warnings"]
    assert reason in warnings and not [w for w in warnings if "no trained model" in w]


def harvest_site(tmp_path, **environ: str):
    """Settings with the default schedule but ``environ``'s, and a store whose clock the test sets."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    moment = [NOW]
    return load_settings(path, environ), Store(path.parent / "oihwatch.db", clock=lambda: moment[0]), moment


def harvested(store, moment, at: datetime) -> None:
    """A successful harvest of query 'oih' that started ``at`` by the machine's clock."""
    moment[0] = at
    finish_run(store, start_run(store, "harvest", "oih"), "ok")


def overdue(settings, store, now) -> list[str]:
    return [w for w in gather_status(settings, store, None, now)["warnings"] if "longer ago than the schedule" in w]


def test_a_harvest_is_overdue_only_once_a_scheduled_one_passed_with_the_grace_not_across_a_dst_fold(tmp_path):
    """02:30 comes twice on the night Berlin leaves summer time: the next two harvests then seemed 0 apart, and
    status warned 6 h after a good harvest. The success is now compared with the harvest scheduled after it."""
    settings, store, moment = harvest_site(tmp_path, OIHWATCH_SCHEDULE_TIMEZONE="Europe/Berlin")
    with store:
        harvested(store, moment, datetime(2027, 10, 30, 0, 30, tzinfo=timezone.utc))  # Saturday 02:30 CEST
        assert overdue(settings, store, datetime(2027, 10, 30, 20, 0, tzinfo=timezone.utc)) == []
        assert overdue(settings, store, datetime(2027, 10, 31, 6, 29, tzinfo=timezone.utc)) == []  # Sunday 02:30 CEST + 6 h
        assert overdue(settings, store, datetime(2027, 10, 31, 6, 31, tzinfo=timezone.utc)) == [
            "query oih last harvested successfully 2027-10-30 02:30 CEST, longer ago than the schedule expects "
            "(a harvest was due at 2027-10-31 02:30 CEST)"]


def test_a_weekday_schedule_is_not_overdue_over_the_weekend(tmp_path):
    settings, store, moment = harvest_site(tmp_path, OIHWATCH_SCHEDULE_HARVEST="30 2 * * 1-5")
    with store:
        harvested(store, moment, datetime(2027, 11, 12, 7, 30, tzinfo=timezone.utc))  # Friday 02:30 in New York
        assert overdue(settings, store, datetime(2027, 11, 15, 1, 0, tzinfo=timezone.utc)) == []  # Sunday evening
        assert overdue(settings, store, datetime(2027, 11, 15, 13, 0, tzinfo=timezone.utc)) == []  # Monday's, within 6 h
        assert len(overdue(settings, store, datetime(2027, 11, 15, 14, 0, tzinfo=timezone.utc))) == 1


def test_a_back_dated_harvest_is_not_taken_for_the_latest_success(tmp_path):
    """A run whose clock was set back six weeks is recorded after this morning's good harvest: status
    judged how long ago the query was harvested by it, and warned."""
    settings, store, moment = harvest_site(tmp_path)
    with store:
        harvested(store, moment, NOW - timedelta(hours=4))
        harvested(store, moment, NOW - timedelta(weeks=6))
        assert overdue(settings, store, NOW) == []


def test_moments_a_clock_running_ahead_recorded_are_each_a_warning_and_in_the_json(tmp_path):
    """One run seven weeks ahead: its harvest, watermark and digest lie in the future, and status said nothing."""
    settings, store, moment = harvest_site(tmp_path)
    with store:
        harvested(store, moment, NOW - timedelta(hours=4))
        moment[0] = NOW + timedelta(weeks=7)
        finish_run(store, start_run(store, "harvest", "oih", "2026-10-28", "2027-01-15"), "ok")
        set_watermark(store, "oih", "2027-01-15")
        record_digest(store, "2027-W03", "2026-11-20T12:00:00+00:00", "2027-01-15T12:00:00+00:00", "s", {}, {}, [])
        status = gather_status(settings, store, None, NOW)
    assert status["clock"] == [
        "the clock looks wrong: 1 run(s) are recorded as started after now (2026-11-27 07:00 EST), the last at "
        "2027-01-15 07:00 EST: the clock ran ahead then, or is behind now",
        "the clock looks wrong: the 2027-W03 digest is recorded up to 2027-01-15 07:00 EST, after now "
        "(2026-11-27 07:00 EST); so the next digest's window starts at 2026-11-27 03:00 EST instead, and it "
        "leaves out what earlier digests listed",
        "the clock looks wrong: query oih is recorded as harvested up to 2027-01-15, after today (2026-11-27 at NCBI); "
        "the next harvest moves it back to where the first search past today began"]
    assert status["warnings"][:3] == status["clock"] and json.loads(json.dumps(status))["clock"] == status["clock"]
