"""``oihwatch status`` on the mail settings and the deliveries: what it can tell from a shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus import Store
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
