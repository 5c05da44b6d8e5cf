"""Send a period's digest exactly once per recipient: the function the CLI and the scheduler call.

1. If the period has no digest yet, gather the records first seen since the last digest (those no
   earlier digest listed), and record the digest, its items, its warnings and one pending delivery
   per recipient, before sending. While a record of its window waits for classify, the tags come
   from a model trained for other topics (``DigestParams.tags_for_other_topics``), or the latest
   harvest failed (``reports.outage``), the digest is held back instead: recorded, it would leave
   that paper out for good, file papers under topics no longer configured, or say "nothing new".
   Past ``HARVEST_OUTAGE_GRACE`` after it was due, a harvest still failing holds it no longer: it
   goes out saying since when PubMed could not be searched. Nor is a digest recorded while the
   machine's clock is provably behind (``corpus.runs.clock_behind``): it would be for a past period,
   with a window that ends before it starts. One recorded by a clock that ran ahead, ending in the
   future, makes the next window start before it (``reports.period.window_start``), and says so.
2. Send each pending delivery; mark it after the server (or the outbox) accepted it. A server's
   refusal concerns one recipient's message and the others go on over the same connection: refused
   for now (4xx, or a refusal of the sender or by policy) stays pending; refused for good (a 5xx to
   the address, or a message too large or rejected at the end of DATA, which this digest would meet
   again) is marked refused and never retried, while the next digest goes to them as usual. The
   same refusal at the end of DATA for every recipient tried is the sender's, and keeps them all
   pending. Only a lost connection stops the run.
3. A rerun rebuilds the recorded digest and sends only what is pending; a period whose
   deliveries are all done sends nothing.
4. An earlier period's digest that some recipient still lacks (the server was down all week)
   goes out as it was recorded, before the current one: the next window starts where its
   window ended, so nothing else would ever bring them its papers.

``reports`` never imports the application, so settings arrive as a plain ``DigestParams``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Protocol

from corpus.errors import ConfigError, DeliveryError, InputError, StorageError
from corpus.ledger import (
    Delivery, DigestRecord, add_deliveries, deliveries, find_digest, mailbox_key, mark_delivered, mark_failed, mark_refused,
    owing_digests, record_digest, unlisted,
)
from corpus.runs import clock_behind
from corpus.store import Store, iso_utc
from reports.acceptance import Note, note_sending, record_noted
from reports.assembly import OTHER_LABEL, Digest, for_recipient, local_day
from reports.chart import trend_png
from reports.delivery import OutboxUnwritable, RecipientRefused, archived, write_archive_index, write_archive_page
from reports.gather import changed_since, gather_new_digest, gather_recorded_digest, listed_in
from reports.message import build_message, chart_cid, message_id, unsubscribe_link
from reports.outage import harvest_outage
from reports.period import clock_note, latest_due, moment_text, period_to_send, window_start
from reports.render import render_digest, render_to_fit


@dataclass(frozen=True)
class Recipient:
    email: str
    topics: tuple[str, ...] = ()  # empty = every topic


@dataclass(frozen=True)
class DigestParams:
    """The digest settings, as plain values."""

    title: str
    topics: Mapping[str, str]  # topic name -> label, in display order
    relevance_threshold: float
    recipients: tuple[Recipient, ...]
    sender: str
    unsubscribe: str = ""  # an address, or an https: link in which {email} is each recipient's address
    send_empty: bool = True
    per_section: int | None = None  # papers listed per section in an e-mail (None: all)
    weekday: str = "mon"
    time: str = "07:00"
    timezone: str = "UTC"  # the schedule's: when the digest is due, and whose days it names
    queries: tuple[str, ...] = ()  # the configured queries' names: a digest waits while their harvest fails
    # The saved model was trained for other topics or topic rules than ``topics``: the stored tags fit
    # those, so a new digest waits for a train and a classify (a reader of a new topic would get nothing).
    tags_for_other_topics: bool = False
    # A process holds the corpus's write lock (``oihwatch.lock.held``; a sender holds it itself): a harvest
    # recorded 'running' may be under way. False: its process was killed, and it counts as interrupted.
    lock_held: bool = True


class Transport(Protocol):
    status: str  # what a delivery becomes once accepted: 'sent' or 'written'
    where: str
    delivers: bool  # False: a copy only (files written while SMTP is configured); the recipient stays pending

    def __enter__(self) -> Transport: ...
    def __exit__(self, *exc) -> None: ...
    def send(self, message, recipient: str) -> None: ...


@dataclass
class DigestOutcome:
    period: str
    where: str
    items: int = 0
    unclassified: int = 0
    new: bool = False  # recorded in this run
    held: str = ""  # why it is not recorded (``_hold``): clock behind, tags for other topics, unclassified records, no harvest
    clock: str = ""  # the last digest ends in the future: where this one's window starts instead (``clock_note``)
    listed_earlier: int = 0  # records of the window left out: an earlier digest listed them
    late: bool = False  # an earlier period's digest, still owed to someone
    delivered: list[str] = field(default_factory=list)  # in this run
    copied: list[str] = field(default_factory=list)  # a copy written in this run, still pending (``Transport.delivers``)
    earlier: list[str] = field(default_factory=list)  # in earlier runs
    failed: dict[str, str] = field(default_factory=dict)  # recipient -> why; still pending, retried next time
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> the server's 5xx; never retried
    skipped_empty: list[str] = field(default_factory=list)  # nothing in their topics, no warning, send_empty off
    dropped: list[str] = field(default_factory=list)  # pending, but no longer in [[recipients]]
    added: list[str] = field(default_factory=list)  # configured after the digest was recorded
    earlier_skipped: list[str] = field(default_factory=list)  # skipped when the digest was recorded
    earlier_refused: list[str] = field(default_factory=list)  # refused for good in an earlier run
    archive: Path | None = None
    archive_error: str = ""  # why the archive page could not be written (the e-mails went regardless)

    @property
    def already_sent(self) -> bool:
        return not (self.new or self.held or self.delivered or self.copied or self.failed or self.refused or self.dropped)


# Told of each recipient marked delivered, in the same transaction (a run's counts move with the marks).
OnDelivered = Callable[[DigestOutcome], None]


def _topics_note(params: DigestParams, recipient: Recipient) -> str:
    """What a reader of some topics gets, said under the heading ('' for a reader of every topic)."""
    labels = ", ".join(params.topics[t] for t in recipient.topics if t in params.topics)
    return f"{labels}; every reader also gets {OTHER_LABEL} (the OIH papers no topic fits)" if labels else ""


def recorded_digest(store: Store, period: str, since: date | None, zone: str) -> DigestRecord | None:
    """The period's digest if recorded. Its window cannot move (some recipients may have it), so a
    ``since`` other than the day it starts on (in ``zone``, the schedule's) is an error rather than
    silently ignored. The day, not the moment: a digest recorded without ``--since`` starts when the
    one before it ended."""
    record = find_digest(store, period)
    # Its day in the schedule's zone, or the UTC day an earlier version recorded a --since at (its midnight).
    if record is not None and since is not None and since not in (local_day(record.since, zone), date.fromisoformat(record.since[:10])):
        raise InputError(f"--since {since}: the {period} digest is already recorded for records first seen "
                         f"{local_day(record.since, zone)} to {local_day(record.until, zone)} and a recorded digest "
                         "never changes; leave out --since, or use it once the next digest is due")
    return record


def _wanted(params: DigestParams, digest: Digest, period: str, recipients: Iterable[Recipient]) -> tuple[dict[str, str], list[str]]:
    """Recipient -> Message-ID of those who get this digest, and those skipped: nothing new in their
    topics with send_empty off. Warnings go to everyone: skipping a recipient because nothing is new
    in their topics would lose the warning for them for good."""
    wanted, skipped = {}, []
    for recipient in recipients:
        if params.send_empty or digest.warnings or for_recipient(digest, recipient.topics).sections:
            wanted[recipient.email] = message_id(period, recipient.email, params.sender)
        else:
            skipped.append(recipient.email)
    return wanted, skipped


def _hold(store: Store, params: DigestParams, now: datetime, digest: Digest) -> str:
    """Why the period's new digest must wait ('' when it may go): the clock is behind (first: the period and
    its window are wrong then), the tags were made for other topics (classify cannot run before a train then),
    records of its window wait for classify, or the latest harvest failed (``digest.outage``), until
    ``HARVEST_OUTAGE_GRACE`` after the digest was due."""
    outage = digest.outage
    if behind := clock_behind(store, now.astimezone(timezone.utc).date()):
        return f"the {digest.period} digest is not recorded or sent: {behind}, then send again"
    if params.tags_for_other_topics:
        return (f"the {digest.period} digest is not recorded or sent: its papers' tags come from a model trained for "
                "other topics or topic rules than those in the config, so a topic added or changed since would get the "
                "wrong papers or none; run 'oihwatch train' and 'oihwatch classify', then send again")
    if digest.unclassified:
        return (f"the {digest.period} digest is not recorded or sent: {digest.unclassified} record(s) first seen in its "
                "window are not classified yet, and it would leave them out; run 'oihwatch classify' (or fix what "
                "makes it fail), then send again")
    if outage is not None:
        release = outage.release(latest_due(params.weekday, params.time, params.timezone, now))
        if now < release:
            return (f"the {digest.period} digest is held: the last harvest (query {outage.query}) "
                    f"{outage.ended_in(params.timezone)}; it goes out after the next successful harvest, or from "
                    f"{moment_text(release, params.timezone)} with a note that "
                    f"PubMed could not be searched since {digest.unsearched_since}")
    return ""


def hold_reason(store: Store, params: DigestParams, now: datetime, digest: Digest) -> str:
    """Why ``digest``, as ``preview_digest`` made it just now, would be held back if sent ('' if it would go,
    or is recorded already: only a new digest waits). The harvest is judged by the outage the preview read
    (``Digest.outage``): a hint under a preview reads the runs once."""
    if find_digest(store, digest.period) is not None:
        return ""
    return _hold(store, params, now, digest)


def _record(store: Store, params: DigestParams, period: str, now: datetime, since: date | None,
            outcome: DigestOutcome) -> tuple[DigestRecord | None, Digest]:
    """Record the period's new digest, or hold it back (None, ``outcome.held`` says why)."""
    start = window_start(store, now, since, params.timezone)
    content = gather_new_digest(store, period=period, since=start, until=iso_utc(now), title=params.title,
                                topics=params.topics, threshold=params.relevance_threshold, zone=params.timezone)
    outcome.unclassified = content.digest.unclassified
    outcome.listed_earlier = content.digest.listed_earlier
    digest = replace(content.digest, outage=harvest_outage(store, params.queries, lock_held=params.lock_held))
    outcome.held = _hold(store, params, now, digest)
    if outcome.held:
        return None, digest
    outcome.clock = clock_note(store, now, params.timezone)
    wanted, outcome.skipped_empty = _wanted(params, digest, period, params.recipients)
    record = record_digest(store, period, start, iso_utc(now), digest.subject, content.items, wanted, content.marks,
                           skipped=outcome.skipped_empty)
    outcome.new = True
    return record, digest


def _add_newcomers(store: Store, params: DigestParams, record: DigestRecord, digest: Digest,
                   outcome: DigestOutcome) -> None:
    """A recipient configured after the period's digest was recorded gets it too, once."""
    missing = set(unlisted(deliveries(store, record.id), [r.email for r in params.recipients]))
    newcomers = [r for r in params.recipients if r.email in missing]
    wanted, outcome.skipped_empty = _wanted(params, digest, record.period, newcomers)
    if wanted or outcome.skipped_empty:
        add_deliveries(store, record.id, wanted, skipped=outcome.skipped_empty)
        outcome.added = list(wanted)


def _rebuilt(store: Store, params: DigestParams, record: DigestRecord) -> Digest:
    """A recorded digest as it went out, in today's settings' words (title, topic labels, time zone), with its note
    if the harvest was failing when it was recorded."""
    digest = gather_recorded_digest(store, record, title=params.title, topics=params.topics, zone=params.timezone)
    return replace(digest, outage=harvest_outage(store, params.queries, before=record.created))


def preview_digest(store: Store, params: DigestParams, now: datetime, since: date | None = None) -> Digest:
    """The whole digest of the period to send now (``period_to_send``) as it would be (or was) sent; records nothing."""
    period = period_to_send(store, params.weekday, params.time, params.timezone, now)
    record = recorded_digest(store, period, since, params.timezone)
    if record is not None:
        return _rebuilt(store, params, record)
    content = gather_new_digest(store, period=period, since=window_start(store, now, since, params.timezone), until=iso_utc(now),
                                title=params.title, topics=params.topics, threshold=params.relevance_threshold,
                                zone=params.timezone)
    return replace(content.digest, outage=harvest_outage(store, params.queries, lock_held=params.lock_held))


def send_due_digest(store: Store, params: DigestParams, now: datetime, transport: Transport, *,
                    period: str | None = None, since: date | None = None,
                    archive_dir: Path | None = None, on_delivered: OnDelivered | None = None) -> DigestOutcome:
    """Send what is missing of the period's digest (``period_to_send`` by default); never send twice.
    A digest not recorded yet is held back (``outcome.held``, nothing recorded or sent) while records
    of its window wait for classify, their tags were made for other topics, or the harvest fails
    (``_hold``). The page in ``archive_dir`` is written first, with those of earlier digests missing
    from it (``archive_missing``); failing to write them (``outcome.archive_error``) holds no e-mail back.
    ``on_delivered`` is called with the outcome in the transaction marking each recipient delivered."""
    _require_recipients(params)
    period = period or period_to_send(store, params.weekday, params.time, params.timezone, now)
    outcome = DigestOutcome(period, transport.where)
    record = recorded_digest(store, period, since, params.timezone)
    if record is None:
        record, digest = _record(store, params, period, now, since, outcome)
        if record is None:
            return outcome
    else:
        digest = _rebuilt(store, params, record)
        _add_newcomers(store, params, record, digest, outcome)
    outcome.items = len(digest.items)
    chart = trend_png(digest.trend)
    if archive_dir is not None:
        try:
            with _Archive(store, params, archive_dir, now) as archive:
                _archive_page(store, params, archive, digest, chart)
            outcome.archive = archive.index
            archive_missing(store, params, archive_dir, now)
        except DeliveryError as exc:  # a copy to browse: the e-mails go all the same, and the caller says it failed
            outcome.archive_error = str(exc)
    _deliver(store, params, record, digest, chart, now, transport, outcome, on_delivered)
    return outcome


def archive_missing(store: Store, params: DigestParams, folder: Path, now: datetime) -> None:
    """Write the archive page of every recorded digest that ``folder`` lacks, whole (``archived``): one whose
    write failed (its e-mails went all the same, and the error promised the page), or an archive folder
    emptied or moved; then the index, once. A DeliveryError names the first digest that is still missing."""
    periods = [row[0] for row in store.db.execute("SELECT period FROM digests ORDER BY id")]
    with _Archive(store, params, folder, now) as archive:
        for period in periods:
            if not archived(folder, period):
                digest = _rebuilt(store, params, find_digest(store, period))
                _archive_page(store, params, archive, digest, trend_png(digest.trend))


def _archive_page(store: Store, params: DigestParams, archive: _Archive, digest: Digest, chart: bytes) -> None:
    """Write ``digest``'s page (the whole digest, every topic) in the archive.
    A digest with warnings first rewrites the pages of the earlier digests that listed those papers,
    which then mark them retracted or corrected since: a clinician looks a paper up again on the page
    that brought it. Its own page comes last, so while one of those fails it is missing, and the
    next send or run (``archive_missing``) tries them all again. Each page is rendered whole from
    the store, so writing it again changes nothing."""
    try:
        if digest.warnings:
            for earlier in listed_in(store, [warning.pmid for warning in digest.warnings], digest.period):
                rebuilt = _rebuilt(store, params, earlier)
                archive.write(rebuilt, trend_png(rebuilt.trend))
        archive.write(digest, chart)
    except DeliveryError as exc:
        raise DeliveryError(f"the {digest.period} digest is not in the archive: {exc}, then the next run or "
                            "'oihwatch digest --send' adds it (it sends nothing twice)") from None


class _Archive:
    """Pages written into the archive folder, and its ``index.html`` rewritten once they are: rewritten
    after each page, rebuilding a lost archive of N digests read N subjects N times (9 s of 520 pages).
    Rewritten after a page that failed too, listing those written before it, and whenever it is missing."""

    def __init__(self, store: Store, params: DigestParams, folder: Path, now: datetime):
        self.store, self.title, self.folder, self.now = store, params.title, folder, now
        self.written = 0
        self.index: Path | None = None

    def write(self, digest: Digest, chart: bytes) -> None:
        full = render_digest(digest, chart_src=f"{digest.period}.png", archive_page=True)
        write_archive_page(self.folder, digest.period, full.subject, full.html, chart)
        self.written += 1

    def __enter__(self) -> _Archive:
        return self

    def _lacks_index(self) -> bool:
        """Pages without ``index.html``: its write failed once (the pages were in place, so no later run
        wrote a page, and with it the index), or it was deleted."""
        return not (self.folder / "index.html").exists() and any(self.folder.glob("*.html"))

    def __exit__(self, kind, error, traceback) -> None:
        if not self.written and not self._lacks_index():
            return
        try:
            self.index = write_archive_index(self.folder, self.title, self.now, changed_since(self.store))
        except DeliveryError:
            if error is None:  # else the page's error, naming the digest, goes on
                raise


def send_owed_digests(store: Store, params: DigestParams, now: datetime, transport: Transport,
                      current: str, on_delivered: OnDelivered | None = None) -> list[DigestOutcome]:
    """Deliver what earlier periods' digests (not ``current``) still owe, oldest first, as recorded."""
    outcomes = []
    for record in owing_digests(store, excluding=current):
        outcome = DigestOutcome(record.period, transport.where, late=True)
        digest = _rebuilt(store, params, record)
        outcome.items = len(digest.items)
        _deliver(store, params, record, digest, trend_png(digest.trend), now, transport, outcome, on_delivered)
        outcomes.append(outcome)
    return outcomes


def send_digests(store: Store, params: DigestParams, now: datetime, transport: Transport, *,
                 period: str | None = None, since: date | None = None, archive_dir: Path | None = None,
                 on_delivered: OnDelivered | None = None) -> list[DigestOutcome]:
    """What ``digest --send`` and a run do: earlier digests still owed, then that of ``period_to_send``."""
    _require_recipients(params)
    period = period or period_to_send(store, params.weekday, params.time, params.timezone, now)
    owed = send_owed_digests(store, params, now, transport, period, on_delivered)
    return [*owed, send_due_digest(store, params, now, transport, period=period, since=since, archive_dir=archive_dir,
                                   on_delivered=on_delivered)]


def _require_recipients(params: DigestParams) -> None:
    if not params.recipients:
        raise ConfigError("recipients: none configured; add a [[recipients]] block before sending a digest")


def _deliver(store: Store, params: DigestParams, record: DigestRecord, digest: Digest, chart: bytes, now: datetime,
             transport: Transport, outcome: DigestOutcome, on_delivered: OnDelivered | None) -> None:
    """Send each of the digest's pending deliveries; mark each one only once the server accepted it (first,
    one accepted that an earlier send could not mark: ``reports.acceptance``)."""
    record_noted(store)
    listed = deliveries(store, record.id)
    pending = [d for d in listed if not d.done]
    outcome.earlier = [d.recipient for d in listed if d.delivered]
    outcome.earlier_skipped = [d.recipient for d in listed if d.status == "skipped" and d.recipient not in outcome.skipped_empty]
    outcome.earlier_refused = [d.recipient for d in listed if d.status == "refused"]
    if not pending:
        return
    configured = {mailbox_key(r.email): r for r in params.recipients}
    cid = chart_cid(record.period)
    at_data: dict[str, RecipientRefused] = {}  # refused for good at the end of DATA: settled once all were tried
    not_attempted = ""  # why the recipients after a send that stopped them all were not tried
    with contextlib.ExitStack() as connected:
        try:
            connected.enter_context(transport)
        except DeliveryError as exc:  # no connection or no login: a failed attempt for each, so status says why
            for delivery in pending:
                if mailbox_key(delivery.recipient) in configured:
                    mark_failed(store, record.id, delivery.recipient, str(exc))
            raise
        for delivery in pending:
            recipient = configured.get(mailbox_key(delivery.recipient))
            if recipient is None:  # taken out of the config: never sent, and the period is not held up
                mark_delivered(store, record.id, delivery.recipient, "dropped")
                outcome.dropped.append(delivery.recipient)
                continue
            mine = for_recipient(digest, recipient.topics)
            unsubscribe, one_click = unsubscribe_link(params.unsubscribe, params.sender, recipient.email)
            rendered = render_to_fit(mine, chart_src=f"cid:{cid}", unsubscribe=unsubscribe,
                                     topics_note=_topics_note(params, recipient), per_section=params.per_section)
            message = build_message(rendered, sender=params.sender, recipient=recipient.email,
                                    message_id=delivery.message_id, date=now, unsubscribe=unsubscribe,
                                    one_click=one_click, chart_png=chart if mine.sections else None, cid=cid)
            if not transport.delivers:  # a copy: the recipient is still owed the digest, and nothing is marked
                transport.send(message, recipient.email)
                outcome.copied.append(delivery.recipient)
                continue
            note = note_sending(store, delivery, transport.status)
            try:
                transport.send(message, recipient.email)
            except RecipientRefused as exc:
                if exc.reply:
                    at_data[delivery.recipient] = exc
                elif exc.permanent:  # retrying would fail the same way every run, and hold every later digest up
                    mark_refused(store, record.id, delivery.recipient, str(exc))
                    outcome.refused[delivery.recipient] = str(exc)
                else:
                    mark_failed(store, record.id, delivery.recipient, str(exc))
                    outcome.failed[delivery.recipient] = str(exc)
                continue
            except DeliveryError as exc:
                mark_failed(store, record.id, delivery.recipient, str(exc))
                outcome.failed[delivery.recipient] = str(exc)
                not_attempted = f"not attempted after {_stopped_by(exc)}; still pending"
                break
            _mark_accepted(store, record, delivery, transport, outcome, note, on_delivered)
    _settle_at_data(store, record, at_data, transport.where, outcome)
    for delivery in pending:
        if delivery.recipient not in (*outcome.delivered, *outcome.copied, *outcome.dropped, *outcome.failed, *outcome.refused):
            outcome.failed[delivery.recipient] = not_attempted


def _mark_accepted(store: Store, record: DigestRecord, delivery: Delivery, transport: Transport,
                   outcome: DigestOutcome, note: Note | None, on_delivered: OnDelivered | None) -> None:
    """Mark ``delivery`` delivered, the server having accepted its message. Should the corpus refuse the
    write (a full disk), ``note`` says the message was accepted, so the next send records it rather than
    send it again; the send stops there, as every recipient after it would meet the same."""
    noted = note if note is not None and note.accepted() else None
    try:
        with store.transaction():
            mark_delivered(store, record.id, delivery.recipient, transport.status)
            if on_delivered is not None:
                on_delivered(outcome)
    except StorageError as exc:
        raise StorageError(f"{exc}; {_unrecorded(record.period, delivery.recipient, transport, noted)}") from exc
    outcome.delivered.append(delivery.recipient)
    if note is not None:
        note.forget()


def _unrecorded(period: str, recipient: str, transport: Transport, note: Note | None) -> str:
    """What became of a message accepted that the corpus could not record, and what the next send does."""
    how = "written to" if transport.status == "written" else "accepted by"
    went = f"{recipient}'s copy of the {period} digest was {how} {transport.where}"
    if note is None:
        return (f"{went}, but could not be recorded, so the next 'oihwatch digest --send' or run sends it again (with the "
                "same Message-ID, which most mail clients fold); once the corpus can be written again, rerun to send what "
                "is missing")
    return (f"{went}, but could not be recorded: it is noted in {note.path}, and the next 'oihwatch digest --send' or run "
            "records it instead of sending it again; once the corpus can be written again, rerun to send what is missing")


def _stopped_by(error: DeliveryError) -> str:
    """What stopped a send before the recipients after ``error``'s: the outbox's folder or disk, or a lost connection."""
    if isinstance(error, OutboxUnwritable):
        return f"the outbox {error.folder} could not be written ({error.reason})"
    return "the connection was lost"


def _settle_at_data(store: Store, record: DigestRecord, refusals: Mapping[str, RecipientRefused], where: str,
                    outcome: DigestOutcome) -> None:
    """Mark the refusals for good at the end of DATA, once every recipient was tried. The same one for
    every recipient tried, none of whom got the digest, is the server refusing the sender or the
    message, not them (a submission server that will not send as smtp.sender): they stay pending, as
    for a refused sender, rather than lose this digest for good."""
    everyone = not outcome.delivered and len({exc.alike for exc in refusals.values()}) == 1
    for recipient, exc in refusals.items():
        if everyone:
            why = (f"{where} refused the digest to {recipient}, as to every recipient tried: {exc.reply}; the same "
                   "refusal for everyone concerns the sender or the message, not the addresses: check smtp.sender "
                   "(and that smtp.username may send as it), then rerun to send what is missing")
            mark_failed(store, record.id, recipient, why)
            outcome.failed[recipient] = why
        else:
            mark_refused(store, record.id, recipient, str(exc))
            outcome.refused[recipient] = str(exc)
