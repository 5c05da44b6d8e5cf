"""A real SMTP conversation on loopback (aiosmtpd): subscriptions, refusals, dropped connections, reruns."""

from __future__ import annotations

import email
import re
import shutil
import ssl
import subprocess
from datetime import timedelta
from email.policy import default

import pytest
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from corpus import Store
from corpus.errors import DeliveryError
from corpus.ledger import deliveries, find_digest
from corpus.runs import last_runs
from digest_support import MONDAY, TOPICS, Clock, created_on, filled_store, params, parts, real_articles, words
from oihwatch.cli import cli
from reports.address import parse_address
from reports.address import login_problem
from reports.delivery import OutboxTransport, SmtpTransport
from reports.period import digest_due
from reports.sending import Recipient, preview_digest, send_digests, send_due_digest
from smtp_server import LoopbackSmtp

KETAMINE = Recipient("ketamine@example.org", ("ketamine",))
GENETICS = Recipient("genes@example.org", ("genetics", "tapering"))
EVERYTHING = Recipient("all@example.org")


@pytest.fixture
def store(shared_data):
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1))) as (store, _):
        yield store


def transport(smtp: LoopbackSmtp) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", smtp.port, "none", timeout=5)


def sections_of(html: str) -> list[str]:
    return [label for label in TOPICS.values() if re.search(rf"{label} \(\d+\)", html)]


def test_two_recipients_get_their_own_sections(store, smtp):
    outcome = send_due_digest(store, params((KETAMINE, GENETICS)), MONDAY, transport(smtp))
    assert sorted(outcome.delivered) == ["genes@example.org", "ketamine@example.org"] and not outcome.failed
    (ketamine,) = smtp.handler.received_by("ketamine@example.org")
    (genes,) = smtp.handler.received_by("genes@example.org")
    k_text, k_html = parts(ketamine)
    g_text, g_html = parts(genes)
    assert sections_of(k_html) == [TOPICS["ketamine"]]
    assert sections_of(g_html) == [TOPICS["tapering"], TOPICS["genetics"]]
    for html in (k_html, g_html):  # the OIH papers no topic fits go to every reader, after their own topics
        other = re.search(r"Other OIH research \(\d+\)", html)
        assert other and all(html.index(f"{TOPICS[t]} (") < other.start() for t in ("ketamine", "genetics") if f"{TOPICS[t]} (" in html)
    assert ketamine["Message-ID"] != genes["Message-ID"] and ketamine["From"] == "digest@example.org"
    assert ketamine["List-Unsubscribe"] == "<mailto:digest@example.org?subject=unsubscribe>"
    assert ("Your topics: Ketamine and NMDA antagonists; every reader also gets Other OIH research "
            "(the OIH papers no topic fits).") in words(k_text)
    assert all(d.status == "sent" for d in deliveries(store, find_digest(store, "2026-W48").id))


def test_a_topic_reader_is_told_that_the_trend_counts_every_topic(store, smtp):
    """Their heading counts their papers; the trend's count of all topics must not pass for theirs."""
    send_due_digest(store, params((KETAMINE, EVERYTHING)), MONDAY, transport(smtp))
    mine, _ = parts(smtp.handler.received_by(KETAMINE.email)[0])
    whole, _ = parts(smtp.handler.received_by(EVERYTHING.email)[0])
    count = int(re.search(r"^(\d+) new papers", whole, re.M).group(1))
    assert int(re.search(r"^(\d+) new papers", mine, re.M).group(1)) < count
    assert f"New papers in all topics, not only yours: {count} in this digest, the first." in mine
    assert f"New papers: {count} in this digest, the first." in whole


def test_a_subject_that_fits_a_line_alone_is_folded_at_a_space(store, smtp):
    """The default policy would send 'Subject:' CRLF ' OIH...' for a subject of 70-77 characters."""
    subject = preview_digest(store, params(), MONDAY).subject
    title = "OIH evidence digest" + " x" * ((77 - len(subject)) // 2) + "x" * ((77 - len(subject)) % 2)
    send_due_digest(store, params(title=title), MONDAY, transport(smtp))
    (raw,) = smtp.handler.raw
    head = raw.split(b"\r\n\r\n")[0].split(b"\r\n")
    first = next(i for i, line in enumerate(head) if line.startswith(b"Subject:"))
    assert head[first].startswith(b"Subject: OIH evidence digest") and head[first + 1].startswith(b" ")
    parsed = email.message_from_bytes(raw, policy=default)
    assert len(parsed["Subject"]) == 77 and parsed["Subject"] == f"{title}{subject.removeprefix('OIH evidence digest')}"


def test_a_recipient_refused_for_now_is_retried_on_the_next_run_and_nobody_gets_two(store, smtp):
    smtp.handler.busy = {"ketamine@example.org"}
    first = send_due_digest(store, params((KETAMINE, GENETICS, EVERYTHING)), MONDAY, transport(smtp))
    assert sorted(first.delivered) == ["all@example.org", "genes@example.org"]
    assert "450" in first.failed["ketamine@example.org"]
    pending = {d.recipient: d for d in deliveries(store, find_digest(store, "2026-W48").id)}
    assert pending["ketamine@example.org"].status == "pending" and pending["ketamine@example.org"].attempts == 1

    smtp.handler.busy = set()
    second = send_due_digest(store, params((KETAMINE, GENETICS, EVERYTHING)), MONDAY + timedelta(hours=1), transport(smtp))
    assert second.delivered == ["ketamine@example.org"] and sorted(second.earlier) == ["all@example.org", "genes@example.org"]

    third = send_due_digest(store, params((KETAMINE, GENETICS, EVERYTHING)), MONDAY + timedelta(hours=2), transport(smtp))
    assert third.already_sent and not third.delivered
    for recipient in ("ketamine@example.org", "genes@example.org", "all@example.org"):
        assert len(smtp.handler.received_by(recipient)) == 1


def test_a_full_mailbox_is_retried_though_its_code_is_a_5xx(store, smtp):
    smtp.handler.full = {"ketamine@example.org"}
    first = send_due_digest(store, params((KETAMINE,)), MONDAY, transport(smtp))
    assert "552" in first.failed["ketamine@example.org"] and not first.refused
    smtp.handler.full = set()
    assert send_due_digest(store, params((KETAMINE,)), MONDAY, transport(smtp)).delivered == [KETAMINE.email]


def test_a_recipient_refused_for_good_is_not_retried_and_holds_no_later_digest_up(store, smtp):
    """A 550 comes back on every retry: retrying would pile every later digest up behind it."""
    smtp.handler.refuse = {"ketamine@example.org"}
    first = send_due_digest(store, params((KETAMINE, EVERYTHING)), MONDAY, transport(smtp))
    assert first.delivered == ["all@example.org"] and not first.failed
    assert "550" in first.refused["ketamine@example.org"]
    refused = {d.recipient: d for d in deliveries(store, find_digest(store, "2026-W48").id)}["ketamine@example.org"]
    assert (refused.status, refused.attempts) == ("refused", 1) and "550" in refused.error
    assert digest_due(store, "mon", "07:00", "America/New_York", MONDAY, [KETAMINE.email, EVERYTHING.email]) is None
    later, = send_digests(store, params((KETAMINE, EVERYTHING)), MONDAY + timedelta(weeks=1), transport(smtp))
    assert later.period == "2026-W49" and "550" in later.refused["ketamine@example.org"]  # said again, each new digest
    assert smtp.handler.received_by("ketamine@example.org") == []


def answer_data(smtp: LoopbackSmtp, replies: dict[str, str]) -> None:
    """The server's reply at the end of DATA for the given recipients, in place of accepting the message."""
    accept = smtp.handler.handle_DATA

    async def handle_DATA(server, session, envelope):
        refused = [replies[r] for r in envelope.rcpt_tos if r in replies]
        return refused[0] if refused else await accept(server, session, envelope)

    smtp.handler.handle_DATA = handle_DATA


def test_a_message_over_the_size_limit_is_refused_for_that_recipient_alone(store):
    """The all-topics message is the largest: a 552 to it must not keep the digest from the others."""
    with LoopbackSmtp(data_size_limit=60_000) as smtp:
        outcome = send_due_digest(store, params((EVERYTHING, KETAMINE)), MONDAY, transport(smtp))
        assert outcome.delivered == [KETAMINE.email] and not outcome.failed
        why = outcome.refused[EVERYTHING.email]
        assert "552" in why and "too large" in why and "digest.per_section" in why and "rerun" not in why
        assert len(smtp.handler.received_by(KETAMINE.email)) == 1
    status = {d.recipient: (d.status, d.error) for d in deliveries(store, find_digest(store, "2026-W48").id)}
    assert status[EVERYTHING.email] == ("refused", why) and status[KETAMINE.email][0] == "sent"


def test_a_message_refused_at_the_end_of_data_concerns_its_recipient_only(store, smtp):
    """A 5xx after DATA is refused for good, a 4xx stays pending; the connection goes on to the next recipient."""
    answer_data(smtp, {EVERYTHING.email: "554 5.6.0 Message content rejected",
                       GENETICS.email: "451 4.3.0 Temporary local problem, try later"})
    first = send_due_digest(store, params((EVERYTHING, GENETICS, KETAMINE)), MONDAY, transport(smtp))
    assert first.delivered == [KETAMINE.email]
    assert "554 5.6.0" in first.refused[EVERYTHING.email] and "resending this digest cannot help" in first.refused[EVERYTHING.email]
    assert list(first.failed) == [GENETICS.email] and "451 4.3.0" in first.failed[GENETICS.email]
    del smtp.handler.handle_DATA
    second = send_due_digest(store, params((EVERYTHING, GENETICS, KETAMINE)), MONDAY + timedelta(hours=1), transport(smtp))
    assert second.delivered == [GENETICS.email] and second.earlier_refused == [EVERYTHING.email]
    assert smtp.handler.received_by(EVERYTHING.email) == []


@pytest.mark.parametrize("reply, refused", [
    ("550 5.1.1 <genes@example.org>: Recipient address rejected", True),
    ("550 5.2.252 SendAsDenied; not allowed to send as digest@example.org", True),  # a full mailbox is 5.2.2 only
    ("552 5.2.2 <genes@example.org>: mailbox full", False),
    ("550 5.7.60 SMTP; Client does not have permissions to send as this sender", False),
    ("553 5.1.8 Sender address domain not found", False),
], ids=["no such user", "5.2.252", "full mailbox", "policy 5.7", "sender 5.1.8"])
def test_a_refusal_at_the_end_of_data_is_for_good_unless_its_code_says_it_may_pass(store, smtp, reply, refused):
    """RFC 3463: X.2.2 is a full mailbox; X.7.x a policy's refusal (most often of the sender), X.1.7 and
    X.1.8 the sender's address: the operator can correct those, and a resend then goes."""
    answer_data(smtp, {GENETICS.email: reply})
    outcome = send_due_digest(store, params((GENETICS, KETAMINE)), MONDAY, transport(smtp))
    assert outcome.delivered == [KETAMINE.email]
    assert list(outcome.refused if refused else outcome.failed) == [GENETICS.email]
    assert not (outcome.failed if refused else outcome.refused)
    status = {d.recipient: d.status for d in deliveries(store, find_digest(store, "2026-W48").id)}
    assert status[GENETICS.email] == ("refused" if refused else "pending")
    if reply.startswith(("550 5.7", "553")):
        assert "check smtp.sender" in outcome.failed[GENETICS.email]


@pytest.mark.parametrize("reply", ["550 5.7.60 SMTP; Client does not have permissions to send as this sender",
                                   "554 5.2.252 SendAsDenied; digest@example.org not allowed to send as this sender",
                                   "554 Transaction failed"])
def test_the_same_refusal_at_the_end_of_data_for_every_recipient_keeps_them_pending(store, smtp, reply):
    """A submission server that will not send as smtp.sender refuses every message alike: the digest waits
    for the sender to be corrected, where every recipient lost it for good."""
    everyone = (EVERYTHING, GENETICS, KETAMINE)
    answer_data(smtp, {r.email: reply for r in everyone})
    first = send_due_digest(store, params(everyone), MONDAY, transport(smtp))
    assert not first.delivered and not first.refused and sorted(first.failed) == sorted(r.email for r in everyone)
    assert all(reply in why and "check smtp.sender" in why and "cannot help" not in why for why in first.failed.values())
    listed = deliveries(store, find_digest(store, "2026-W48").id)
    assert [(d.status, d.attempts) for d in listed] == [("pending", 1)] * 3
    assert listed[0].error == first.failed[listed[0].recipient]  # what status shows
    del smtp.handler.handle_DATA  # the sender corrected
    second = send_due_digest(store, params(everyone), MONDAY + timedelta(hours=1), transport(smtp))
    assert sorted(second.delivered) == sorted(r.email for r in everyone)


def test_a_server_closing_mid_send_is_worded_as_its_reply_says(store, smtp):
    """A 421 at the end of DATA closes the connection: the reply as the server wrote it, not smtplib's tuple."""
    answer_data(smtp, {KETAMINE.email: "421 4.3.2 Service shutting down"})
    outcome = send_due_digest(store, params((KETAMINE,)), MONDAY, transport(smtp))
    assert outcome.failed[KETAMINE.email] == (f"SMTP 127.0.0.1:{smtp.port} (none) failed while sending to {KETAMINE.email}: "
                                              "421 4.3.2 Service shutting down; rerun to send what is missing")
    (delivery,) = deliveries(store, find_digest(store, "2026-W48").id)
    assert delivery.error == outcome.failed[KETAMINE.email]


def test_a_refused_sender_keeps_every_recipient_pending_and_names_smtp_sender(store, smtp):
    """The sender is refused for every message alike: no recipient is refused for good, and each is tried."""
    async def handle_MAIL(server, session, envelope, address, mail_options):
        return f"553 5.7.1 <{address}>: Sender address rejected: not owned by user"

    smtp.handler.handle_MAIL = handle_MAIL
    first = send_due_digest(store, params((GENETICS, KETAMINE)), MONDAY, transport(smtp))
    assert not first.delivered and not first.refused and sorted(first.failed) == [GENETICS.email, KETAMINE.email]
    assert all("553 5.7.1" in why and "check smtp.sender" in why for why in first.failed.values())
    assert [d.attempts for d in deliveries(store, find_digest(store, "2026-W48").id)] == [1, 1]
    del smtp.handler.handle_MAIL
    second = send_due_digest(store, params((GENETICS, KETAMINE)), MONDAY + timedelta(hours=1), transport(smtp))
    assert sorted(second.delivered) == [GENETICS.email, KETAMINE.email]


def test_an_idn_domain_goes_out_in_ascii_and_a_non_ascii_local_part_is_refused_without_smtputf8(store):
    """'bücher.de' is sent as IDNA, which every server takes; only letters before the @ need SMTPUTF8."""
    ana, anais, anna = Recipient("ana@bücher.de"), Recipient("anaïs@example.org"), Recipient("anna@example.org")
    with LoopbackSmtp(enable_SMTPUTF8=False) as smtp:
        outcome = send_due_digest(store, params((ana, anais, anna)), MONDAY, transport(smtp))
        assert outcome.delivered == [ana.email, anna.email] and not outcome.failed
        assert "SMTPUTF8" in outcome.refused[anais.email] and "rerun" not in outcome.refused[anais.email]
        (message,) = smtp.handler.received_by("ana@xn--bcher-kva.de")
        assert message["To"] == "ana@xn--bcher-kva.de"
    with LoopbackSmtp(enable_SMTPUTF8=True) as smtp:
        later = send_due_digest(store, params((anais,)), MONDAY + timedelta(weeks=1), transport(smtp))
        assert later.delivered == [anais.email] and smtp.handler.received_by(anais.email)


def test_a_sender_with_an_idn_domain_is_written_in_ascii(store, smtp):
    send_due_digest(store, params((KETAMINE,), sender="OIH Watch <digest@straße.de>"), MONDAY, transport(smtp))
    (raw,) = smtp.handler.raw
    message = email.message_from_bytes(raw, policy=default)
    assert message["From"] == "OIH Watch <digest@xn--strae-oqa.de>"  # IDNA 2008: not strasse.de
    assert message["Message-ID"].endswith("@xn--strae-oqa.de>")
    assert message["List-Unsubscribe"] == "<mailto:digest@xn--strae-oqa.de?subject=unsubscribe>"


def test_a_refused_idn_recipient_is_named_as_written_in_recipients(store, smtp, tmp_path):
    """The envelope holds 'ana@xn--bcher-kva.de', which the operator never wrote: the error names 'ana@bücher.de'
    (the server's reply may still give its own form). The .eml file keeps its ASCII name."""
    ana, ben = Recipient("ana@bücher.de"), Recipient("ben@bücher.de")
    smtp.handler.refuse = {"ana@xn--bcher-kva.de"}
    answer_data(smtp, {"ben@xn--bcher-kva.de": "554 5.6.0 Message content rejected"})
    outcome = send_due_digest(store, params((ana, ben, KETAMINE)), MONDAY, transport(smtp))
    assert outcome.refused[ana.email].startswith(f"SMTP 127.0.0.1:{smtp.port} (none) refused ana@bücher.de: 550 5.1.1")
    assert outcome.refused[ben.email].startswith(f"SMTP 127.0.0.1:{smtp.port} (none) refused the digest to ben@bücher.de: ")
    written = send_due_digest(store, params((ana,)), MONDAY + timedelta(weeks=1), OutboxTransport(tmp_path))
    assert written.delivered == [ana.email] and (tmp_path / "2026-W49" / "ana@xn--bcher-kva.de.eml").exists()


@pytest.mark.parametrize("address", ["ana@-bücher.de", "ana@bü_cher.de", "ana@" + "ü" * 64 + ".de"],
                         ids=["hyphen first", "underscore", "label too long"])
def test_an_address_whose_domain_is_no_domain_name_is_refused_when_read(address):
    with pytest.raises(ValueError, match="is not a domain name"):
        parse_address(address, display_name=False)


def test_a_recipient_added_after_the_digest_was_sent_gets_it_once(store, smtp):
    send_due_digest(store, params((KETAMINE,)), MONDAY, transport(smtp))
    later = send_due_digest(store, params((KETAMINE, GENETICS)), MONDAY + timedelta(hours=3), transport(smtp))
    assert later.added == ["genes@example.org"] and later.delivered == ["genes@example.org"]
    assert later.earlier == ["ketamine@example.org"] and not later.already_sent
    again = send_due_digest(store, params((KETAMINE, GENETICS)), MONDAY + timedelta(hours=4), transport(smtp))
    assert again.already_sent and not again.added
    assert len(smtp.handler.received_by("genes@example.org")) == len(smtp.handler.received_by("ketamine@example.org")) == 1
    (genes,) = smtp.handler.received_by("genes@example.org")
    assert sections_of(parts(genes)[1]) == [TOPICS["tapering"], TOPICS["genetics"]]


def test_a_new_recipient_makes_the_period_due_again_and_a_new_letter_case_is_no_new_recipient(store, smtp):
    send_due_digest(store, params((KETAMINE,)), MONDAY, transport(smtp))
    assert digest_due(store, "mon", "07:00", "America/New_York", MONDAY, ["KETAMINE@example.org"]) is None
    assert digest_due(store, "mon", "07:00", "America/New_York", MONDAY, ["ketamine@example.org", "genes@example.org"]) == "2026-W48"
    shouted = Recipient("Ketamine@Example.org", KETAMINE.topics)
    again = send_due_digest(store, params((shouted,)), MONDAY + timedelta(hours=1), transport(smtp))
    assert again.already_sent and not again.added and not again.dropped
    assert len(smtp.handler.received_by("ketamine@example.org")) == 1


def test_a_dropped_connection_stops_the_run_and_a_rerun_sends_only_what_is_missing(store, smtp):
    smtp.handler.drop_after = 1
    recipients = (KETAMINE, GENETICS, EVERYTHING)
    first = send_due_digest(store, params(recipients), MONDAY, transport(smtp))
    assert len(first.delivered) == 1 and len(first.failed) == 2
    retried_id = {d.recipient: d.message_id for d in deliveries(store, find_digest(store, "2026-W48").id)}

    smtp.handler.drop_after = None
    second = send_due_digest(store, params(recipients), MONDAY + timedelta(hours=1), transport(smtp))
    assert sorted(second.delivered + first.delivered) == sorted(r.email for r in recipients)
    for recipient in recipients:
        (message,) = smtp.handler.received_by(recipient.email)
        assert message["Message-ID"] == retried_id[recipient.email]  # fixed when recorded
    same_items = {parts(m)[1].count("Key finding:") for r, m in smtp.handler.messages if "all@example.org" in r}
    assert same_items and min(same_items) > 0


def test_an_unreachable_server_is_one_clear_error_and_nothing_is_marked_sent(store):
    with LoopbackSmtp() as server:
        port = server.port
    for _ in range(2):
        with pytest.raises(DeliveryError, match=r"cannot connect to SMTP 127\.0\.0\.1:\d+ \(none\).*rerun") as raised:
            send_due_digest(store, params((KETAMINE,)), MONDAY, SmtpTransport("127.0.0.1", port, "none", timeout=2))
    (delivery,) = deliveries(store, find_digest(store, "2026-W48").id)
    assert (delivery.status, delivery.attempts, delivery.error) == ("pending", 2, str(raised.value))  # what status shows


def test_a_digest_still_owed_when_the_next_is_due_goes_out_first(store, smtp):
    """The next window starts where the owed digest's ended: nothing else would bring its papers."""
    with LoopbackSmtp() as server:
        port = server.port
    with pytest.raises(DeliveryError):  # the server is down all week
        send_due_digest(store, params((KETAMINE,)), MONDAY, SmtpTransport("127.0.0.1", port, "none", timeout=2))
    assert smtp.handler.received_by(KETAMINE.email) == []
    next_week, due = MONDAY + timedelta(weeks=1), ("mon", "07:00", "America/New_York")
    late, current = send_digests(store, params((KETAMINE,)), next_week, transport(smtp))
    assert (late.period, late.late, late.delivered) == ("2026-W48", True, [KETAMINE.email])
    assert (current.period, current.late, current.delivered) == ("2026-W49", False, [KETAMINE.email])
    first, second = smtp.handler.received_by(KETAMINE.email)
    assert first["Subject"].startswith("OIH evidence digest, 16-23 Nov 2026: ")
    assert second["Subject"].startswith("OIH evidence digest, 23-30 Nov 2026: ")
    links = [set(re.findall(r"PubMed: (\S+)", parts(message)[0])) for message in (first, second)]
    assert links[0] and not links[0] & links[1]  # the late digest's papers are in no other
    assert digest_due(store, *due, next_week, [KETAMINE.email]) is None
    assert send_digests(store, params((KETAMINE,)), next_week, transport(smtp))[-1].already_sent
    assert len(smtp.handler.received_by(KETAMINE.email)) == 2


def test_a_digest_owed_still_goes_out_while_the_next_waits_for_classify(store, smtp, shared_data):
    """An owed digest is recorded, so whole; the new one waits for the records its window holds unclassified."""
    smtp.handler.busy = {KETAMINE.email}  # all week
    assert send_due_digest(store, params((KETAMINE,)), MONDAY, transport(smtp)).failed
    smtp.handler.busy = set()
    harvested = created_on(real_articles(shared_data, 45)[40:], MONDAY.date())  # classify failed after this harvest
    store.clock.now = MONDAY + timedelta(days=2)
    store.upsert_articles(harvested)
    next_week = MONDAY + timedelta(weeks=1)
    late, current = send_digests(store, params((KETAMINE,)), next_week, transport(smtp))
    assert (late.period, late.delivered) == ("2026-W48", [KETAMINE.email])
    assert (current.period, current.unclassified, current.delivered) == ("2026-W49", len(harvested), [])
    assert current.held.startswith(f"the 2026-W49 digest is not recorded or sent: {len(harvested)} record(s) first seen")
    (message,) = smtp.handler.received_by(KETAMINE.email)
    assert "16-23 Nov 2026" in message["Subject"] and find_digest(store, "2026-W49") is None
    assert digest_due(store, "mon", "07:00", "America/New_York", next_week, [KETAMINE.email]) == "2026-W49"


def test_an_owed_digest_keeps_the_digest_due_after_the_current_one_went_out(store, tmp_path):
    """A run sends only when a digest is due: one owed from an earlier week must count."""
    with LoopbackSmtp() as server:
        port = server.port
    with pytest.raises(DeliveryError):
        send_due_digest(store, params((KETAMINE,)), MONDAY, SmtpTransport("127.0.0.1", port, "none", timeout=2))
    next_week, due = MONDAY + timedelta(weeks=1), ("mon", "07:00", "America/New_York")
    assert send_due_digest(store, params((KETAMINE,)), next_week, OutboxTransport(tmp_path)).delivered == [KETAMINE.email]
    assert digest_due(store, *due, next_week, [KETAMINE.email]) == "2026-W49"


def test_the_password_never_appears_in_an_error(store, smtp):
    secret = "s3cr3t-Pa55"
    with pytest.raises(DeliveryError) as raised:
        send_due_digest(store, params((KETAMINE,)), MONDAY,
                        SmtpTransport("127.0.0.1", smtp.port, "none", username="u", password=secret, timeout=5))
    assert secret not in str(raised.value)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    return server, client


def authenticator(logins):
    def check(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        ok = auth_data.password == b"s3cr3t"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself
    return check


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(store, certificate, security):
    server_context, client_context = certificate
    logins: list[tuple[str, str]] = []
    options = {"authenticator": authenticator(logins), "auth_require_tls": True}
    if security == "starttls":
        options.update(tls_context=server_context, require_starttls=True)
    else:  # aiosmtpd does not count implicit TLS as TLS for AUTH; the socket is encrypted all the same
        options.update(ssl_context=server_context, auth_require_tls=False)
    with LoopbackSmtp(**options) as smtp:
        good = SmtpTransport("127.0.0.1", smtp.port, security, "digest", "s3cr3t", timeout=5, tls_context=client_context)
        outcome = send_due_digest(store, params((KETAMINE,)), MONDAY, good)
        assert outcome.delivered == ["ketamine@example.org"] and logins == [("digest", "s3cr3t")]
        assert len(smtp.handler.received_by("ketamine@example.org")) == 1


def test_a_wrong_password_is_one_clear_error_without_the_password(shared_data, certificate):
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=3) as (store, _):
        server_context, client_context = certificate
        with LoopbackSmtp(authenticator=authenticator([]), tls_context=server_context, require_starttls=True) as smtp:
            bad = SmtpTransport("127.0.0.1", smtp.port, "starttls", "digest", "wrong-Pa55", timeout=5, tls_context=client_context)
            with pytest.raises(DeliveryError, match="refused the login of 'digest'.*OIHWATCH_SMTP_PASSWORD") as raised:
                send_due_digest(store, params((KETAMINE,)), MONDAY, bad)
        assert "wrong-Pa55" not in str(raised.value)
        (delivery,) = deliveries(store, find_digest(store, "2026-W48").id)
        assert delivery.attempts == 1 and "refused the login of 'digest'" in delivery.error and "wrong-Pa55" not in delivery.error


NON_ASCII_LOGINS = [("digest", "s3cr3t-Pa55é€"), ("digestüser", "s3cr3t")]


@pytest.mark.parametrize("username, password", NON_ASCII_LOGINS, ids=["password", "username"])
def test_credentials_smtplib_cannot_send_are_refused_before_connecting_without_the_password(store, username, password):
    """smtplib sends AUTH as ASCII: it raised a UnicodeEncodeError giving the position of the character in the password."""
    logins: list[tuple[str, str]] = []
    with LoopbackSmtp(authenticator=authenticator(logins), auth_require_tls=False) as smtp:
        with pytest.raises(DeliveryError) as raised:
            send_due_digest(store, params((KETAMINE,)), MONDAY,
                            SmtpTransport("127.0.0.1", smtp.port, "none", username, password, timeout=5))
    said = str(raised.value)
    assert said == login_problem(username, password) and "non-ASCII characters" in said
    assert not any(part in said for part in ("é", "€", "s3cr3t", "position"))
    assert logins == [] and smtp.handler.messages == [] and find_digest(store, "2026-W48") is None


@pytest.mark.parametrize("username, password", NON_ASCII_LOGINS, ids=["password", "username"])
def test_run_and_digest_send_say_what_to_change_in_one_line_not_a_bug(tmp_path, username, password):
    config = tmp_path / "config.toml"
    Store(tmp_path / "oihwatch.db").close()
    environ = {"OIHWATCH_SMTP_PASSWORD": password}
    with LoopbackSmtp(authenticator=authenticator([]), auth_require_tls=False) as smtp:
        config.write_text(f'[ncbi]\nemail = "ops@example.org"\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
                          f'security = "none"\nusername = "{username}"\nsender = "digest@example.org"\n'
                          '[[recipients]]\nemail = "all@example.org"\n', encoding="utf-8")
        send = CliRunner().invoke(cli, ["-c", str(config), "digest", "--send"], env=environ)
        run = CliRunner().invoke(cli, ["-c", str(config), "run"], env=environ)
    assert send.exit_code == 1 and send.stderr == f"Error: {login_problem(username, password)}\n"
    assert f"digest: FAILED: {login_problem(username, password)}\n" in run.output and "a bug" not in run.output
    with Store(tmp_path / "oihwatch.db") as store:
        errors = " ".join(step.error for step in last_runs(store).values())
    assert "harvest" in run.output and not any(part in errors for part in (password, "position", "UnicodeEncodeError"))
