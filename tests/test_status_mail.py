"""``oihwatch status`` on the mail settings and the deliveries: what it can tell from a shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus import Store
from corpus.ledger import mark_refused, record_digest
from corpus.runs import finish_run, start_run
from oihwatch.cli import cli

MAILING = ('[ncbi]\nemail = "ops@example.org"\n[smtp]\nhost = "mail.example.org"\nusername = "digest"\n'
           'sender = "digest@example.org"\n[[recipients]]\nemail = "clinic@example.org"\n')


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(MAILING, encoding="utf-8")
    Store(tmp_path / "oihwatch.db").close()
    return path


def warnings(config: Path, **environ: str) -> list[str]:
    result = CliRunner().invoke(cli, ["-c", str(config), "status", "--json"], env=environ)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["warnings"]


def test_a_password_status_cannot_see_is_a_warning_to_ignore_where_the_service_sets_it(config):
    """The systemd unit reads the password from its EnvironmentFile, which the shell running status never has."""
    found = [w for w in warnings(config) if "OIHWATCH_SMTP_PASSWORD" in w]
    assert found == [f"smtp.username in {config} asks for a login, but $OIHWATCH_SMTP_PASSWORD is not set in this shell; "
                     "if the service sets it (EnvironmentFile), ignore this; otherwise the digest cannot be e-mailed: "
                     "set it where oihwatch runs"]
    assert not [w for w in warnings(config, OIHWATCH_SMTP_PASSWORD="pw") if "e-mailed" in w]


def test_an_empty_sender_is_a_warning_whatever_the_environment(config):
    config.write_text(MAILING.replace('sender = "digest@example.org"', 'sender = ""'), encoding="utf-8")
    for environ in ({}, {"OIHWATCH_SMTP_PASSWORD": "pw"}):
        assert [w for w in warnings(config, **environ) if "e-mailed" in w] == [
            f"the digest cannot be e-mailed: smtp.sender in {config}: required to e-mail the digest (the From: address); "
            'set it, e.g. sender = "OIH Watch <digest@example.org>"']


def test_a_password_smtplib_cannot_send_is_a_warning_naming_none_of_it(config):
    """smtplib sends a login as ASCII: status says so before the digest is due, without the password."""
    found = [w for w in warnings(config, OIHWATCH_SMTP_PASSWORD="pässwörd") if "e-mailed" in w]
    assert len(found) == 1 and "$OIHWATCH_SMTP_PASSWORD holds non-ASCII characters" in found[0]
    assert "pässwörd" not in found[0] and "position" not in found[0]


def test_a_user_name_smtplib_cannot_send_is_a_warning_without_the_password_in_the_shell(config):
    """The user name is in the config, where status sees it: 'ignore this' about the password would hide it."""
    config.write_text(MAILING.replace('username = "digest"', 'username = "jörg"'), encoding="utf-8")
    for environ in ({}, {"OIHWATCH_SMTP_PASSWORD": "pw"}):
        found = [w for w in warnings(config, **environ) if "e-mailed" in w]
        assert len(found) == 1 and "smtp.username 'jörg' holds non-ASCII characters" in found[0], found


@pytest.mark.parametrize("stored", [
    "SMTP mail.example.org:587 (starttls) refused clinic@example.org: 550 5.1.1 <clinic@example.org>: mailbox unavailable",
    "SMTP mail.example.org:587 (starttls) refused clinic@example.org: 550 5.1.1 <clinic@example.org>: mailbox unavailable; "
    "correct or remove the address in [[recipients]]",
], ids=["stored by an earlier version", "stored now"])
def test_an_address_refused_for_good_says_what_to_do_however_it_was_stored(config, stored):
    """An earlier version stored the server's reply alone, and status added the advice; now the stored text has it."""
    with Store(config.parent / "oihwatch.db") as store:
        digest = record_digest(store, "2026-W48", "2026-11-16T12:00:00+00:00", "2026-11-23T12:00:00+00:00", "OIH", {},
                               {"clinic@example.org": "<oihwatch.2026-W48.1@example.org>"}, [])
        mark_refused(store, digest.id, "clinic@example.org", stored)
    (found,) = [w for w in warnings(config, OIHWATCH_SMTP_PASSWORD="pw") if "was refused for good" in w]
    assert found == ("the 2026-W48 digest to clinic@example.org was refused for good, not retried: SMTP mail.example.org:587 "
                     "(starttls) refused clinic@example.org: 550 5.1.1 <clinic@example.org>: mailbox unavailable; "
                     "correct or remove the address in [[recipients]]")


def test_a_digest_due_and_held_back_by_a_failing_harvest_is_a_warning(config):
    """The next runs name the digest job as if it would go; a digest held while NCBI fails would not."""
    config.write_text(MAILING + '[[queries]]\nname = "oih"\nterm = "hyperalgesia"\n', encoding="utf-8")
    assert not [w for w in warnings(config) if "digest is held" in w]
    with Store(config.parent / "oihwatch.db") as store:
        finish_run(store, start_run(store, "harvest", "oih"), "failed", error="NCBI answered 503")
    [held] = [w for w in warnings(config) if "digest is held" in w]
    assert held.startswith("the 20") and "the last harvest (query oih) failed at " in held

