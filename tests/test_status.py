"""``oihwatch status``'s warnings, gathered from a real store and settings at a fixed 'now'."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from corpus.runs import set_watermark
from corpus.store import Store
from oihwatch.config import default_config_text, load_settings
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
