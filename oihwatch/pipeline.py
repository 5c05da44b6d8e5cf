"""One full pass (harvest → classify → digest if due): what ``oihwatch run`` and the scheduler do.

Each step is recorded in the store's run log and reported as one line. A failing step
does not stop the others where they can still run (after a failed harvest, classify still
runs and a digest owed from an earlier week still goes out); the pass as a whole then fails.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from corpus.errors import ClassifierError, OihwatchError
from corpus.runs import record_progress, success_recorded_last
from harvester.harvest import Stop, harvest_all
from oihwatch.app import App
from oihwatch.commands.classify import classify_records, current_model, train_and_save
from oihwatch.commands.digest import check_delivered, deliver, delivered_verb, digest_params, papers, transport_for
from oihwatch.commands.harvest import eutils_client
from oihwatch.model_age import ModelAge, model_age
from oihwatch.model_info import model_meta, model_problem, rules_for
from oihwatch.runlog import recorded
from reports.period import digest_due
from reports.sending import archive_missing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepResult:
    step: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{self.step}: {'ok' if self.ok else 'FAILED'}: {self.message}"


def harvest_step(app: App, stop: Stop | None = None) -> str:
    """Harvest every configured query (the harvester records its own runs); once ``stop`` is set,
    it ends before its next request to NCBI, or in its retry back-off."""
    settings = app.settings
    stop = stop or Stop()
    with app.writing("harvest") as store, eutils_client(settings, sleep=stop.sleep) as client:
        results = harvest_all(settings.queries, settings.harvest, store, client, stop=stop)
    return "; ".join(result.summary() for result in results) or "no queries configured"


def classify_step(app: App) -> str:
    """Classify new and changed records, training a model first if there is none usable (the topics
    changed, or oihwatch or scikit-learn did, or its file is damaged), or training it again when it is out
    of date with the corpus (``model_age``: the curated labels changed, or a quarter more records were
    stored, since it was trained). A new model has every record classified again, as 'oihwatch train' and 'oihwatch
    classify' would."""
    try:
        if (age := outdated_model(app)) is None:
            return f"{classify_records(app)} records classified"
        current_model(app, rules_for(app.settings)[0])  # a file that cannot be loaded is the reason to tell
    except ClassifierError as exc:
        version = train_and_save(app, report_on_stderr=True)
        why = re.sub(r"[;:] run 'oihwatch train'.*$", "", str(exc))  # the cause, without its advice
        return f"trained model {version} ({why}); {classify_records(app)} records classified"
    return retrained(app, age)


def outdated_model(app: App) -> ModelAge | None:
    """What the corpus gained since the saved model was trained, when that makes the model out of date; None
    when it does not, or there is no usable model (classify fails then, and a model is trained)."""
    meta = model_meta(app.settings)
    if meta is None or model_problem(app.settings, meta):
        return None
    age = model_age(app.settings, app.store, meta, app.store.clock())
    return age if age and age.out_of_date else None


def retrained(app: App, age: ModelAge) -> str:
    """Train the model ``age`` makes out of date again and classify every record with it; its train run counts
    the records stored (``new``) and curated labels recorded (``updated``) since the model it replaced was
    trained. A training that fails (a full disk) keeps the model in force: the records are classified with
    it, so no digest waits for them, and the step fails saying why, every pass until it trains."""
    try:
        version = train_and_save(app, report_on_stderr=True)
    except OihwatchError as exc:
        saved = classify_records(app)
        raise ClassifierError(f"could not train the model again ({age.out_of_date}): {exc}; {saved} records "
                              "classified with the model in force") from None
    train = success_recorded_last(app.store, "train")
    record_progress(app.store, train.id, train.found, age.stored_since, age.labels_since)
    return f"retrained model {version} ({age.out_of_date}); {classify_records(app)} records classified"


def digest_step(app: App, now: datetime) -> str:
    """Send this period's digest if it is due and not yet delivered to everyone, after those of earlier
    periods some recipient still lacks. A new digest is held back (the step fails, nothing is recorded)
    while the saved model was trained for other topics or topic rules than the config's (a topic's
    readers would get the wrong papers or none), while records of its window wait for classify, as
    they do after a classify step that failed, or while the last harvest failed, for up to
    ``HARVEST_OUTAGE_GRACE`` (``reports.outage``): it would leave them out, or tell clinicians there is
    nothing new. A digest it could not e-mail (no smtp.sender, no $OIHWATCH_SMTP_PASSWORD for
    smtp.username, a login smtplib cannot send) fails the step at its start, every
    pass, while the harvest and classify before it go on. Due or not, it adds to the archive the page
    of a recorded digest it lacks (``reports.sending.archive_missing``). A last digest that ends in the
    future (a clock that ran ahead) is said on the line, with where this one's window starts instead."""
    settings = app.settings
    if not settings.recipients:
        return "skipped: no [[recipients]] in the config yet ('oihwatch digest' writes a preview)"
    params = digest_params(settings)
    transport = transport_for(settings, None)
    with app.writing("digest") as store, recorded(store, "digest") as counts:
        archive = settings.resolve(settings.digest.outbox) / "archive"
        period = digest_due(store, params.weekday, params.time, params.timezone, now, [r.email for r in params.recipients])
        if period is None:  # a page a failed write left out of the archive is still added
            archive_missing(store, params, archive, now)
            return "not due: this period's digest is done for every recipient (sent, skipped, refused or dropped)"
        outcomes = deliver(store, params, now, transport, counts, period=period, archive_dir=archive)
        check_delivered(outcomes)
    return "; ".join(
        f"{o.period}{' (owed from before)' if o.late else ''}: {papers(o.items)}, "
        + (f"written for {len(o.delivered)} recipient(s) in {o.where}" if delivered_verb(o) == "written for"
           else f"delivered to {len(o.delivered)} recipient(s)")
        + (f", {len(o.earlier)} had it already" if o.earlier else "")
        + (f"; {o.clock}" if o.clock else "")
        for o in outcomes
    )


def run_steps(app: App, steps: list[tuple[str, Callable[[], str]]], report: Callable[[StepResult], None],
              stop: Stop | None = None) -> list[StepResult]:
    """Run each step under one write lock, on a corpus checked for damage first; a failure is
    reported and the next step still runs. Once ``stop`` is set no step starts (``Stopped``)."""
    results = []
    with app.writing("run") as store:
        store.check_integrity()
        for name, step in steps:
            if stop is not None:
                stop.check()
            try:
                result = StepResult(name, True, step())
            except OihwatchError as exc:
                result = StepResult(name, False, " ".join(str(exc).split()))
            except Exception as exc:  # a bug in one step must not silence the others; the traceback goes to the log
                log.error("%s step crashed:\n%s", name, traceback.format_exc())
                result = StepResult(name, False, f"{type(exc).__name__}: {exc} (a bug; see the log above)")
            report(result)
            results.append(result)
    return results


def pass_steps(app: App, clock: Callable[[], datetime], stop: Stop | None = None) -> list[tuple[str, Callable[[], str]]]:
    """Harvest → classify → digest if due: ``oihwatch run`` and the nightly scheduled job. The digest
    reads the clock when its step starts, so its window takes in what this pass's harvest stored."""
    return [("harvest", lambda: harvest_step(app, stop)), ("classify", lambda: classify_step(app)), ("digest", lambda: digest_step(app, clock()))]


def full_pass(app: App, clock: Callable[[], datetime], report: Callable[[StepResult], None]) -> list[StepResult]:
    """``oihwatch run``: the pass's steps under one lock."""
    return run_steps(app, pass_steps(app, clock), report)
