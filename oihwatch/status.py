"""``oihwatch status``: what happened last, what the corpus holds, and what needs a look.

Gathering is a function of the settings, the store, the model's metadata and a 'now', so
tests hand in all four; the command only prints it. The metadata is read once, by the command:
the model shown and the threshold the relevant records are counted with are the same model's,
even when a training replaces it meanwhile. A run recorded 'running' whose process
no longer holds the write lock was killed: it shows as 'interrupted'.

Moments recorded after 'now' (runs, the last digest's end, a watermark after NCBI's today) mean
the clock ran ahead then or is behind now: each is a warning that starts "the clock looks wrong",
and ``clock`` in ``--json`` lists them. How long ago a query was harvested is read from the
success that started last by the clock, not in the future (``corpus.runs.success_started_last``).

Every moment status shows a person is in the schedule's time zone and labelled with it
(``reports.period.moment_text``), as the digest names that zone's days: the last runs, the model,
the next runs and the warnings. ``--json`` keeps the times as the store has them, ISO in UTC (the
next runs in the zone's offset, as the scheduler fires them), and names the zone as ``timezone``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta, timezone

from corpus.errors import StorageError
from corpus.ledger import mailbox_key
from corpus.runs import INTERRUPTED, clock_behind, get_watermark, last_runs, runs_after, success_started_last
from corpus.store import Store
from corpus.tags import count_to_classify
from harvester.windows import ncbi_today
from oihwatch.config import Settings, mail_problem
from oihwatch.lock import held, lock_path
from oihwatch.model_age import ModelAge, model_age
from oihwatch.model_info import model_problem, threshold_of, why_no_model
from oihwatch.scheduler import MISFIRE_GRACE_SECONDS, next_fire_time, next_fire_times
from reports.acceptance import unrecorded
from reports.address import ADDRESS_ADVICE, login_problem
from reports.period import clock_note, digest_due, moment_text


def gather_status(settings: Settings, store: Store, meta: dict | None, now: datetime) -> dict:
    """Everything ``status`` shows, as plain data (also the ``--json`` output); ``meta``: the saved
    model's metadata (``model_info.model_meta``)."""
    db = store.db
    runs = [
        {k: getattr(run, k) for k in ("step", "query", "started", "finished", "status", "found", "new", "updated", "error")}
        for run in last_runs(store).values()
    ]
    writing = held(lock_path(settings.database_path))
    if not writing:
        for run in runs:
            if run["status"] == "running":
                run.update(status="interrupted", error=INTERRUPTED)
    tagged = dict(db.execute("SELECT topic, COUNT(*) FROM tags WHERE assigned = 1 GROUP BY topic").fetchall())
    threshold = threshold_of(settings, meta)
    pending = db.execute(
        "SELECT d.period, v.recipient, v.attempts, v.error FROM deliveries v JOIN digests d ON d.id = v.digest_id "
        "WHERE v.status = 'pending' ORDER BY d.period, v.recipient"
    ).fetchall()
    last_digest = db.execute("SELECT id, period, created FROM digests ORDER BY id DESC LIMIT 1").fetchone()
    configured = {mailbox_key(r.email) for r in settings.recipients}
    refused = [row for row in db.execute(  # each address as the last digest that tried it left it
        "SELECT d.period, v.recipient, v.error FROM deliveries v JOIN digests d ON d.id = v.digest_id "
        "WHERE v.status = 'refused' AND v.digest_id = (SELECT MAX(w.digest_id) FROM deliveries w "
        "WHERE w.recipient = v.recipient AND w.status != 'skipped') ORDER BY v.recipient"
    ) if mailbox_key(row["recipient"]) in configured]  # one taken out of the config needs nothing more
    records = store.count_articles()
    status = {
        "config": str(settings.source),
        "database": str(settings.database_path),
        "integrity": integrity(store),
        "records": records,
        "deleted": store.count_articles(include_deleted=True) - records,
        "unclassified": count_to_classify(store),
        "relevant": db.execute("SELECT COUNT(*) FROM classifications WHERE relevance >= ?", (threshold,)).fetchone()[0],
        "topics": {
            name: {"label": topic.label, "tagged": tagged.get(name, 0)} for name, topic in settings.topics.items()
        },
        "last_runs": runs,
        "model": model_summary(settings, meta, model_age(settings, store, meta, now)),
        "digests": {
            **digest_counts(store),
            "last": {"period": last_digest["period"], "created": last_digest["created"],
                     "deliveries": delivery_counts(store, last_digest["id"])} if last_digest else None,
            "pending": [dict(row) for row in pending],
            "accepted_unrecorded": [] if writing else accepted_unrecorded(store),
            "refused": [dict(row) for row in refused],
        },
        "timezone": settings.schedule.timezone,
        "next_runs": next_runs(settings, now),
        "held_digest": held_digest(settings, store, now),
        "clock": clock_problems(settings, store, now),
    }
    status["warnings"] = warnings(settings, store, status, now)
    return status


def gather_unreadable(settings: Settings, meta: dict | None, now: datetime, damage: str) -> dict:
    """What status can tell of a corpus too damaged to be read at all (a file cut short, whose schema SQLite
    cannot read): what the config and the model say, with ``damage`` as ``integrity`` and the first warning.
    What only the corpus holds (its counts, runs and digests) is None: unknown, not zero."""
    model = model_summary(settings, meta)
    return {
        "config": str(settings.source),
        "database": str(settings.database_path),
        "integrity": damage,
        "records": None,
        "deleted": None,
        "unclassified": None,
        "relevant": None,
        "topics": {name: {"label": topic.label, "tagged": None} for name, topic in settings.topics.items()},
        "last_runs": None,
        "model": model,
        "digests": None,
        "timezone": settings.schedule.timezone,
        "next_runs": next_runs(settings, now),
        "held_digest": None,
        "clock": None,
        "warnings": [damage, *mail_warnings(settings), *model_warnings(settings, model)],
    }


def next_runs(settings: Settings, now: datetime) -> dict[str, str | None]:
    """When each scheduled job fires next."""
    return {name: times[0].isoformat() if times else None
            for name, times in next_fire_times(settings.schedule, now, count=2).items()}


def integrity(store: Store) -> str:
    """'ok', or why the corpus file is damaged: the quick check each pass makes before its steps, so
    status says what makes every run fail (a failed pass cannot record it in a damaged file). On a
    corpus of 5,000 records (130 MB) it takes 0.04 s, or 0.75 s when none of the file is cached."""
    try:
        store.check_integrity()
    except StorageError as exc:
        return str(exc)
    return "ok"


def accepted_unrecorded(store: Store) -> list[dict]:
    """The delivery still pending whose message the server accepted while the corpus could not record it
    (``reports.acceptance``): the next send records it rather than sends it again. Asked only while no
    process holds the write lock, as a send notes each message it is sending."""
    note = unrecorded(store)
    if note is None:
        return []
    (period,) = store.db.execute("SELECT period FROM digests WHERE id = ?", (note.digest_id,)).fetchone()
    return [{"period": period, "recipient": note.recipient, "note": str(note.path)}]


def digest_counts(store: Store) -> dict[str, int]:
    """How many digests are recorded; how many every recipient has ('delivered': sent, written to the
    outbox, skipped or dropped, none pending or refused); how many some recipient still waits for
    ('with_pending') or was refused ('with_refused'); and ('sent') how many reached at least one recipient."""
    row = store.db.execute(
        "SELECT COUNT(*), COALESCE(SUM(pending + refused = 0), 0), COALESCE(SUM(pending > 0), 0), "
        "COALESCE(SUM(refused > 0), 0), COALESCE(SUM(reached > 0), 0) FROM (SELECT d.id, "
        "COALESCE(SUM(v.status = 'pending'), 0) AS pending, COALESCE(SUM(v.status = 'refused'), 0) AS refused, "
        "COALESCE(SUM(v.status IN ('sent', 'written')), 0) AS reached "
        "FROM digests d LEFT JOIN deliveries v ON v.digest_id = d.id GROUP BY d.id)"
    ).fetchone()
    return dict(zip(("recorded", "delivered", "with_pending", "with_refused", "sent"), row))


def delivery_counts(store: Store, digest_id: int) -> dict[str, int]:
    """A digest's deliveries by status ('sent', 'written', 'pending', 'refused', 'skipped', 'dropped')."""
    return dict(store.db.execute(
        "SELECT status, COUNT(*) FROM deliveries WHERE digest_id = ? GROUP BY status ORDER BY status", (digest_id,)
    ).fetchall())


def model_summary(settings: Settings, meta: dict | None, age: ModelAge | None = None) -> dict | None:
    """The parts of a model's metadata an operator reads: version, when, on what, how good, and why
    it cannot be used, if so; and with the corpus's ``age`` (None: unknown), what was stored and labelled
    since and, when that makes it out of date, why (the next run trains it again)."""
    if meta is None:
        return None
    return {
        "version": meta.get("model_version", ""),
        "trained": meta.get("created", ""),
        "training_data_hash": meta.get("training_data_hash", ""),
        "records": meta.get("records", 0),
        "stored_since": age.stored_since if age else None,
        "labels_since": age.labels_since if age else None,
        "out_of_date": age.gained if age else None,
        "skipped": meta.get("skipped", {}),
        "cv_metrics": meta.get("cv_metrics", {}),
        "problem": model_problem(settings, meta),
    }


def warnings(settings: Settings, store: Store, status: dict, now: datetime) -> list[str]:
    """Plain sentences for what an operator should act on, their moments in the schedule's time zone (``moment_text``)."""
    zone = settings.schedule.timezone
    found = [] if status["integrity"] == "ok" else [status["integrity"]]
    found.extend(status["clock"])
    for run in status["last_runs"]:
        if run["status"] in ("failed", "interrupted"):
            found.append(f"last {run['step']} {run['query']} {run['status']} (started {moment_text(run['started'], zone)}): {run['error']}"
                         .replace("  ", " "))
    harvesting = {run["query"] for run in status["last_runs"] if run["step"] == "harvest" and run["status"] == "running"}
    found.extend(harvest_warnings(settings, store, now, harvesting))
    found.extend(mail_warnings(settings))
    found.extend(model_warnings(settings, status["model"]))
    for row in status["digests"]["refused"]:
        found.append(f"the {row['period']} digest to {row['recipient']} was refused for good, not retried: "
                     f"{advised(row['recipient'], row['error'])}")
    accepted = status["digests"]["accepted_unrecorded"]
    for row in accepted:
        found.append(f"the {row['period']} digest to {row['recipient']} was accepted by the server, but the corpus could "
                     f"not record it then (it is noted in {row['note']}); the next 'oihwatch digest --send' or run "
                     "records it, without sending it again")
    noted = {(row["period"], row["recipient"]) for row in accepted}  # pending still, but not 'not tried yet'
    found.extend(pending_warnings([row for row in status["digests"]["pending"]
                                   if (row["period"], row["recipient"]) not in noted]))
    if status["held_digest"]:
        found.append(status["held_digest"]["reason"])
    return found


def clock_problems(settings: Settings, store: Store, now: datetime) -> list[str]:
    """What says the clock is wrong: PubMed's create dates after today (it is behind now), runs that started
    after now, a last digest that ends after now, a watermark after NCBI's today (it ran ahead then, or is
    behind now). Each says what the next harvest or digest does about it, its moments in the schedule's zone."""
    today, zone = ncbi_today(now), settings.schedule.timezone
    found = []
    if behind := clock_behind(store, today):
        found.append(f"{behind}; until then every harvest fails and no new digest is recorded")
    count, latest = runs_after(store, now)
    if count:
        found.append(f"the clock looks wrong: {count} run(s) are recorded as started after now ({moment_text(now, zone)}), the "
                     f"last at {moment_text(latest, zone)}: the clock ran ahead then, or is behind now")
    if note := clock_note(store, now, zone):
        found.append(note)
    for query in settings.queries:
        mark = get_watermark(store, query.name)
        if mark is not None and mark > today.isoformat():
            found.append(f"the clock looks wrong: query {query.name} is recorded as harvested up to {mark}, after today "
                         f"({today} at NCBI); the next harvest moves it back to where the first search past today began")
    return found


def harvest_warnings(settings: Settings, store: Store, now: datetime, harvesting: Collection[str] = ()) -> list[str]:
    """A query never harvested, or not since a scheduled harvest passed (with the misfire grace; a harvest
    cron that never fires is refused when the config is loaded). A query ``harvesting`` now (its run shows
    'running') is on its way: telling to run 'oihwatch harvest' would start a second writer that waits for
    the lock and fails."""
    found, zone = [], settings.schedule.timezone
    for query in settings.queries:
        if query.name in harvesting:
            continue
        success = success_started_last(store, "harvest", query.name, now)
        if success is None:
            watermark = get_watermark(store, query.name)
            found.append(f"query {query.name} has never been harvested: run 'oihwatch harvest'" if watermark is None else
                         f"query {query.name} has not finished a harvest yet (stored up to {watermark}): "
                         "run 'oihwatch harvest' to go on from there")
        elif missed := missed_harvest(settings, success.started, now):
            found.append(f"query {query.name} last harvested successfully {moment_text(success.started, zone)}, longer ago "
                         f"than the schedule expects (a harvest was due at {moment_text(missed, zone)})")
    return found


def missed_harvest(settings: Settings, started: str, now: datetime) -> datetime | None:
    """The first scheduled harvest after a success that ``started`` then, if more than the misfire grace has
    passed since it (None otherwise): compared in UTC, the real gap, which wall clocks miss across a DST
    change, and against the schedule's own times, whatever the gap between them (weekdays only)."""
    # started is kept to the second: a success that started as a harvest fired (02:30:00.4) is that harvest
    due = next_fire_time(settings.schedule, "harvest", datetime.fromisoformat(started) + timedelta(seconds=1))
    grace = timedelta(seconds=MISFIRE_GRACE_SECONDS)
    return due if due is not None and now.astimezone(timezone.utc) - due.astimezone(timezone.utc) > grace else None


def model_warnings(settings: Settings, model: dict | None) -> list[str]:
    """No model, or one that cannot be used (``model_summary``), and what to run."""
    if model is None:
        return [why_no_model(settings)]
    if model.get("problem"):
        return [f"the saved model cannot be used: {model['problem']}, then 'oihwatch classify' "
                "(or 'oihwatch run', which does both)"]
    return []


def held_digest(settings: Settings, store: Store, now: datetime) -> dict[str, str] | None:
    """The digest due now that would be held back (records waiting for classify, a failing harvest), as
    its ``period`` and the ``reason`` a send would give; None when none is due, or it would go. The next
    nightly pass sends it once it may go, not the digest job that ``next_runs`` names, a week on."""
    addresses = [recipient.email for recipient in settings.recipients]
    period = addresses and digest_due(store, settings.digest.weekday, settings.digest.time, settings.schedule.timezone,
                                      now, addresses)
    if not period:
        return None
    # Only now: the digest code (templates, charts, mail) would slow every status, which monitoring runs often.
    from oihwatch.commands.digest import digest_params
    from reports.sending import hold_reason, preview_digest

    params = digest_params(settings)
    held_back = hold_reason(store, params, now, preview_digest(store, params, now))
    return {"period": period, "reason": held_back} if held_back else None


def advised(recipient: str, error: str) -> str:
    """A refusal's stored text, which says what to do. An earlier version stored the server's reply
    alone ('SMTP ... refused ana@example.org: 550 ...'), and refused for good only an address (at
    RCPT): such a text gets the advice an address's refusal holds now."""
    if f" refused {recipient}: " in error and ADDRESS_ADVICE not in error:
        return f"{error}; {ADDRESS_ADVICE}"
    return error


def mail_warnings(settings: Settings) -> list[str]:
    """Why the digest could not be e-mailed, as far as status can tell: the sender is in the config,
    but the password is in the environment of whatever sends (a service's EnvironmentFile, the
    crontab), which status, run from a shell or by monitoring, does not see."""
    if problem := mail_problem(settings, login=False):
        return [f"the digest cannot be e-mailed: {problem}"]
    if not (problem := mail_problem(settings)):
        return []
    if settings.smtp.password is None and not login_problem(settings.smtp.username, ""):  # only the password is missing
        return [f"smtp.username in {settings.where('smtp.username')} asks for a login, but $OIHWATCH_SMTP_PASSWORD "
                "is not set in this shell; if the service sets it (EnvironmentFile), ignore this; otherwise the "
                "digest cannot be e-mailed: set it where oihwatch runs"]
    return [f"the digest cannot be e-mailed: {problem}"]  # a login smtplib cannot send, user name or password


def pending_warnings(pending: list[dict]) -> list[str]:
    """One sentence per recipient still owed a digest: which, how often tried, and the last error."""
    owed: dict[str, list[dict]] = {}
    for row in pending:  # oldest period first
        owed.setdefault(row["recipient"], []).append(row)
    found = []
    for recipient, rows in owed.items():
        periods = ", ".join(f"{r['period']} ({_attempts(r['attempts'])})" for r in rows)
        error = next((r["error"] for r in reversed(rows) if r["error"]), "")
        found.append(f"digest delivery to {recipient} pending for {periods}" + (f", last error: {error}" if error else "")
                     + f"; 'oihwatch digest --send' (or the next run) retries {'it' if len(rows) == 1 else 'them'}")
    return found


def _attempts(count: int) -> str:
    return "not tried yet" if not count else f"{count} attempt{'s' if count > 1 else ''}"
