"""``oihwatch digest``: preview, or send exactly once, the weekly evidence digest."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from corpus.errors import DeliveryError, InputError
from corpus.runs import record_progress
from corpus.store import Store, utc_now
from oihwatch.app import App
from oihwatch.commands.params import IsoDate
from oihwatch.config import Settings, mail_problem, require_mail
from oihwatch.lock import held, lock_path
from oihwatch.model_info import model_meta, threshold_of, trained_for_other_rules
from oihwatch.runlog import recorded
from reports.assembly import Digest
from reports.chart import trend_png
from reports.delivery import OutboxTransport, SmtpTransport, write_preview
from reports.period import clock_note, digest_due
from reports.render import render_to_fit
from reports.sending import DigestOutcome, DigestParams, Recipient, Transport, hold_reason, preview_digest, send_digests


def digest_now() -> datetime:
    """The start of the next whole second: the end of a digest's window. ``first_seen`` keeps whole
    seconds, so a record stored in this very second (a harvest just before) falls inside the window
    instead of waiting a week for the next digest."""
    now = utc_now()
    time.sleep(1 - now.microsecond / 1e6)
    return utc_now().replace(microsecond=0)


def digest_params(settings: Settings) -> DigestParams:
    """The digest settings as the plain values ``reports`` takes (it never imports the application), with
    what the saved model says of the stored tags: its relevance threshold, and whether it was trained for
    these topics. Read when a digest is about to be made, so in a run it is the model its classify step left.
    With them, whether a process holds the write lock: if none does, a harvest recorded 'running' was killed,
    and the preview and status count it as interrupted, as the next writer records it before a send."""
    meta = model_meta(settings)
    return DigestParams(
        title=settings.digest.title,
        topics={name: topic.label for name, topic in settings.topics.items()},
        relevance_threshold=threshold_of(settings, meta),
        recipients=tuple(Recipient(r.email, tuple(r.topics)) for r in settings.recipients),
        sender=settings.smtp.sender,
        unsubscribe=settings.digest.unsubscribe,
        send_empty=settings.digest.send_empty,
        per_section=settings.digest.per_section,
        weekday=settings.digest.weekday,
        time=settings.digest.time,
        timezone=settings.schedule.timezone,
        queries=tuple(query.name for query in settings.queries),
        tags_for_other_topics=trained_for_other_rules(settings, meta),
        lock_held=held(lock_path(settings.database_path)),
    )


def transport_for(settings: Settings, outbox: Path | None) -> Transport:
    """SMTP when a host is configured, else ``.eml`` files in the outbox (``outbox``, else digest.outbox),
    which then count as delivered. With a host and ``outbox``: copies in ``outbox`` only, and every
    recipient stays pending for SMTP, so a look at the files never takes the digest from anyone."""
    smtp = settings.smtp
    if not smtp.host:
        return OutboxTransport(outbox or settings.resolve(settings.digest.outbox))
    require_mail(settings, login=outbox is None)
    if outbox is not None:
        return OutboxTransport(outbox, delivers=False)
    password = smtp.password.get_secret_value() if smtp.password else None
    return SmtpTransport(smtp.host, smtp.port, smtp.security, smtp.username, password, smtp.timeout)


def papers(count: int) -> str:
    """'1 paper', '3 papers': the count as every line about a digest prints it."""
    return f"{count} paper{'s' if count != 1 else ''}"


def delivered_verb(outcome: DigestOutcome) -> str:
    """'written for' (.eml files in the outbox, no SMTP server configured) or 'sent to' (SMTP)."""
    return "written for" if outcome.where.startswith("outbox") else "sent to"


def left_out_note(listed_earlier: int) -> str:
    """What a window reaching back into earlier digests' windows left out, for the lines on stdout."""
    if not listed_earlier:
        return ""
    return f"{listed_earlier} left out: earlier digests listed {'them' if listed_earlier != 1 else 'it'}"


def report_outcome(outcome: DigestOutcome) -> None:
    """Where the digest went and to whom, on stdout. A digest held back says nothing here: the error does."""
    if outcome.held:
        return
    left_out = left_out_note(outcome.listed_earlier)
    late = " (an earlier period's digest, still owed)" if outcome.late else ""
    click.echo(f"digest {outcome.period}{late}: {papers(outcome.items)}"
               + (f"; {left_out}" if left_out else ""))
    if outcome.clock:
        click.echo(outcome.clock)
    for recipient in outcome.added:
        click.echo(f"{recipient} joined [[recipients]] after this digest was recorded: it goes to them too")
    for recipient in outcome.delivered:
        click.echo(f"{delivered_verb(outcome)} {recipient} via {outcome.where}")
    for recipient in outcome.copied:
        click.echo(f"copy written for {recipient} in {outcome.where}; NOT delivered")
    if outcome.copied:
        click.echo("[smtp] host is set, so --outbox writes copies only: these recipients stay pending, and the next "
                   "'oihwatch digest --send' (without --outbox) or run e-mails them")
    for recipient in outcome.skipped_empty:
        click.echo(f"nothing for {recipient} (nothing new in their topics; digest.send_empty is off)")
    for recipient in outcome.earlier_skipped:
        click.echo(f"nothing for {recipient} in this digest (nothing new in their topics when it was recorded)")
    for recipient in outcome.earlier_refused:
        click.echo(f"refused for good in an earlier run: {recipient}")
    if outcome.already_sent:
        click.echo(f"nothing sent: {('delivered before to ' + ', '.join(outcome.earlier)) if outcome.earlier else 'no one is due it'}")
    elif outcome.earlier:
        click.echo(f"delivered in an earlier run to {', '.join(outcome.earlier)}")
    if outcome.archive is not None:
        click.echo(f"archive: {outcome.archive}")
    for recipient in outcome.dropped:
        click.echo(f"not sent to {recipient}: no longer in [[recipients]]")
    for recipient, why in outcome.failed.items():
        click.echo(f"NOT delivered to {recipient}: {why}")
    for recipient, why in outcome.refused.items():
        click.echo(f"REFUSED for good, not retried: {why}")


def send_hint(store: Store, params: DigestParams, now: datetime, preview: Digest, mail: str = "") -> str:
    """What --send would do now, for the line under the ``preview`` (``mail``: why it could not
    e-mail, from ``config.mail_problem``)."""
    addresses = [r.email for r in params.recipients]
    if not addresses:
        return "no recipients configured: add a [[recipients]] block to the config before --send"
    if mail:
        return f"--send would refuse: {mail}"
    if digest_due(store, params.weekday, params.time, params.timezone, now, addresses) is None:
        return f"this period's digest is done for every recipient ({', '.join(addresses)}); --send would send nothing"
    if preview.unclassified and not params.tags_for_other_topics:  # else classify needs a train first: hold_reason
        return (f"--send would refuse while {preview.unclassified} record(s) of its window are not classified: "
                "run 'oihwatch classify' first")
    if held := hold_reason(store, params, now, preview):
        return f"--send would hold it back: {held}"
    return f"recipients: {', '.join(addresses)} (add --send)"


def deliver(store: Store, params: DigestParams, now: datetime, transport: Transport, counts: dict, *,
            period: str | None = None, since: date | None = None, archive_dir: Path | None = None) -> list[DigestOutcome]:
    """``send_digests``, its counts put in the run's record (papers of the current one, messages delivered).
    They are recorded with each recipient marked, too: a send killed midway leaves its row 'running', then
    'interrupted', and it must not read "nothing sent" beside the recipients it reached (the papers are
    then those of the digest it was sending)."""
    (run_id,) = store.db.execute(  # the row ``recorded`` started: the write lock lets no other digest run
        "SELECT MAX(id) FROM runs WHERE step = 'digest' AND status = 'running'").fetchone()
    reached = 0

    def progress(outcome: DigestOutcome) -> None:
        nonlocal reached
        reached += 1
        record_progress(store, run_id, outcome.items, reached, 0)

    outcomes = send_digests(store, params, now, transport, period=period, since=since, archive_dir=archive_dir,
                            on_delivered=progress)
    counts["found"], counts["new"] = outcomes[-1].items, sum(len(o.delivered) for o in outcomes)
    return outcomes


def check_delivered(outcomes: list[DigestOutcome]) -> None:
    """Raise, once everything was tried, when a recipient still lacks a digest: pending ones are
    retried by the next send; a refusal for good says why, and what to correct. So does an archive
    page not written, which held no e-mail back."""
    problems = [o.held for o in outcomes if o.held]
    failed = [o for o in outcomes if o.failed]
    if failed:
        problems.append(f"{sum(len(o.failed) for o in failed)} recipient(s) still pending for "
                        f"{', '.join(o.period for o in failed)}; the next 'oihwatch digest --send' or run sends only what is missing")
    refused = {recipient: why for o in outcomes for recipient, why in o.refused.items()}  # each says what to do
    problems.extend(f"refused for good, not retried: {why}" for _, why in sorted(refused.items()))
    problems.extend(o.archive_error for o in outcomes if o.archive_error)
    if problems:
        raise DeliveryError("; and ".join(problems))


@click.command()
@click.option("--since", type=IsoDate(), metavar="D",
              help="start the window at the start of this day in schedule.timezone (YYYY-MM-DD, not in the future) instead of the end of the last "
                   "digest; a period's digest, once recorded, keeps its window")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="write the preview, or with --send the .eml files, here instead of digest.outbox; with [smtp] "
                   "host set these are copies only: the recipients stay pending and get the digest by SMTP with "
                   "the next --send without --outbox (or run)")
@click.option("--send", is_flag=True, help="record and deliver the digest; without it, only write a preview")
@click.pass_obj
def digest(app: App, since: datetime | None, outbox: Path | None, send: bool) -> None:
    """Preview the weekly evidence digest, or send it exactly once per recipient.

    Without --send, writes what this period's digest holds (HTML and text) to OUTBOX/preview/
    and records nothing. With --send, records the digest and delivers it: by SMTP when
    [smtp] host is set, else as .eml files in the outbox; either way it adds the digest to the
    HTML archive (digest.outbox/archive/index.html). A rerun sends only what is missing; a
    period already sent sends nothing. Papers an earlier digest listed are left out, and a
    digest whose records are not all classified yet is refused: run 'oihwatch classify' first.
    So is one while the saved model was trained for other topics or topic rules than the
    config's: run 'oihwatch train' and 'oihwatch classify'. So is one while the last harvest
    failed, until three days after it was due: it then goes out saying since when PubMed
    could not be searched.

    \b
    Example:
        oihwatch digest --send
    """
    settings = app.settings
    params = digest_params(settings)
    now = digest_now()
    day = since.date() if since else None
    today = now.astimezone(ZoneInfo(params.timezone)).date()  # the days the digest names are the schedule zone's
    if day is not None and day > today:  # as harvest says it: one line
        raise InputError(f"--since {day} is in the future (today is {today} in {params.timezone}): "
                         "nothing can have been first seen yet")
    configured = settings.resolve(settings.digest.outbox)
    if not send:
        whole = preview_digest(app.store, params, now, day)
        rendered = render_to_fit(whole, chart_src=f"{whole.period}.png", per_section=params.per_section)
        path = write_preview((outbox or configured) / "preview", whole.period, rendered.text, rendered.html, trend_png(whole.trend))
        notes = "".join(f", {note}" for note in (f"{whole.unclassified} not classified yet" if whole.unclassified else "",
                                                  left_out_note(whole.listed_earlier)) if note)
        click.echo(f"preview of {whole.period} ({papers(len(whole.items))}{notes}): {path}")
        if day is None and (note := clock_note(app.store, now, params.timezone)):
            click.echo(note)
        click.echo(f"nothing sent; {send_hint(app.store, params, now, whole, mail_problem(settings))}")
        return
    transport = transport_for(settings, outbox)
    with app.writing("digest") as store, recorded(store, "digest") as counts:  # the archive lists every digest: one place
        outcomes = deliver(store, params, now, transport, counts, since=day, archive_dir=configured / "archive")
        for outcome in outcomes:
            report_outcome(outcome)
        check_delivered(outcomes)
