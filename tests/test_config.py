"""Configuration: defaults < file < environment, one-line errors naming key and file, secrets masked."""

from __future__ import annotations

import json
import re
import tomllib
import traceback
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.errors import ConfigError
from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.config import (
    SECRET_ENV, SECTIONS, Query, Recipient, Settings, Topic, default_config_text, load_settings, mail_problem,
    require_ncbi_email, settings_from_mapping,
)
from conftest import REPO
from read_only import read_only


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_config_is_valid_once_an_email_is_set(tmp_path):
    path = write(tmp_path, default_config_text("me@example.org"))
    settings = load_settings(path, {})
    assert set(settings.topics) == {"tapering", "ketamine", "genetics", "non_opioid"}
    assert settings.queries[0].name == "oih"
    assert settings.database_path == tmp_path / "oihwatch.db"


COMMENTED_OUT = re.compile(r"^# (\[\[\w+\]\]|\w+ = .+)$", re.MULTILINE)  # `# timeout = 60`, `# [[recipients]]`


def test_default_config_documents_every_setting():
    """Every setting the loader accepts appears in the shipped, commented config.toml: set, or commented
    out with its default (`# timeout = 60`), and a secret by the variable it is read from."""
    text = default_config_text()
    data = tomllib.loads(COMMENTED_OUT.sub(r"\1", text))
    assert set(data) == set(Settings.model_fields) - {"source"}
    set_in_file = tomllib.loads(text)
    for section, model in SECTIONS.items():
        for key, field in model.model_fields.items():
            secret = [f"${name}" for name, setting in SECRET_ENV.items() if setting == (section, key)]
            if secret:
                assert key not in data[section] and secret[0] in text, f"{section}.{key}: say it comes from {secret[0]}"
                continue
            assert key in data[section], f"{section}.{key} missing from default_config.toml"
            if key not in set_in_file[section]:  # commented out: its default, under a line that explains it
                assert data[section][key] == field.default, f"{section}.{key}: commented out with another value than its default"
                above = text[:text.index(f"\n# {key} = ", text.index(f"[{section}]"))].splitlines()[-1]
                assert above.startswith("# ") and not COMMENTED_OUT.match(above), f"{section}.{key}: no explanation above it"
    for name, topic in data["topics"].items():
        assert set(topic) == set(Topic.model_fields), f"topics.{name}"
    assert set(data["queries"][0]) == set(Query.model_fields) and set(data["recipients"][0]) == set(Recipient.model_fields)
    settings_from_mapping(data, Path("config.toml"), {})  # what is commented out is valid once uncommented


def test_readmes_configuration_table_names_every_setting():
    """A row per section naming each of its keys (secrets have their own line: they come from the environment)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\[\[?[\w.]+\]\]?)` \| (.+) \|$", readme, re.MULTILINE))
    models = {f"[{section}]": model for section, model in SECTIONS.items()}
    models |= {"[topics.NAME]": Topic, "[[queries]]": Query, "[[recipients]]": Recipient}
    assert set(rows) == set(models)
    secrets = set(SECRET_ENV.values())
    for row, model in models.items():
        for key in model.model_fields:
            if (row.strip("[]"), key) not in secrets:
                assert f"`{key}`" in rows[row], f"{key} missing from README's {row} row"
    assert "RE2 regular expressions: no look-arounds" in rows["[topics.NAME]"]


def test_the_shipped_config_says_only_what_talks_to_ncbi_needs_the_email():
    text = default_config_text()
    comment = text[text.index("[ncbi]"):text.index('email = ""')]
    assert "`harvest`, `run` and `schedule` stop at start without it" in comment
    assert "Every command needs" not in comment


def test_missing_email_is_needed_only_to_talk_to_ncbi_and_names_the_key_and_file(tmp_path):
    path = write(tmp_path, default_config_text())
    settings = load_settings(path, {})
    with pytest.raises(ConfigError, match=r"^ncbi\.email in .*config\.toml: required to harvest, .*\$OIHWATCH_NCBI_EMAIL\)$"):
        require_ncbi_email(settings)
    assert require_ncbi_email(load_settings(path, {"OIHWATCH_NCBI_EMAIL": "me@example.org"})) == "me@example.org"


@pytest.mark.parametrize(
    "text, message",
    [
        ('[ncbi]\nemail = "a@b.org"\nemial = 1\n', r"ncbi\.emial in .*: unknown setting"),
        ('[ncbi]\nemail = "a@b.org"\n[harvest]\nbatch_size = "many"\n', r"harvest\.batch_size in .*valid integer"),
        # A value of another TOML type is an error, not converted ('3' is a string, true is not 1).
        ('[ncbi]\nemail = "a@b.org"\n[digest]\nper_section = true\n', r"^digest\.per_section in .*config\.toml: Input should be a valid integer, not true$"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\nper_section = "3"\n', r"^digest\.per_section in .*config\.toml: Input should be a valid integer, not \"3\"$"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\nsend_empty = "no"\n', r"^digest\.send_empty in .*config\.toml: Input should be a valid boolean, not \"no\"$"),
        ('[ncbi]\nemail = "a@b.org"\n[classifier]\nrelevance_threshold = "0.5"\n',
         r"^classifier\.relevance_threshold in .*config\.toml: use a number from 0 to 1, or \"model\", not \"0\.5\"$"),
        ('[ncbi]\nemail = "a@b.org"\n[smtp]\nport = 25.0\n', r"^smtp\.port in .*: Input should be a valid integer, not 25\.0$"),
        ('[ncbi]\nemail = "a@b.org"\n[database]\npath = 5\n', r"^database\.path in .*: Input should be a valid string, not 5$"),
        ('[ncbi]\nemail = "a@b.org"\n[harvest]\nstart = "2020-01-01"\n', r"^harvest\.start in .*: Input should be a valid date, not \"2020-01-01\" \(write it without quotes: 2020-01-01\)$"),
        ('[ncbi]\nemail = "a@b.org"\n[harvest]\nstart = "last year"\n', r"^harvest\.start in .*: Input should be a valid date, not \"last year\"$"),
        ('[ncbi]\nemail = "a@b.org"\n[harvest]\nstart = "20200101"\n', r"^harvest\.start in .*: Input should be a valid date, not \"20200101\"$"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\ntime = 07:00:00\n', r"^digest\.time in .*: Input should be a valid string, not 07:00:00$"),
        ('[ncbi]\nemail = "a@b.org"\n[[recipients]]\nemail = "x@y.org"\ntopics = "tapering"\n', r"^recipients\.0\.topics in .*valid list"),
        ('[ncbi]\nemail = "a@b.org"\n[smtp]\nsecurity = "tls"\n', r"smtp\.security in "),
        ('[ncbi]\nemail = "a@b.org"\n[ncbi\n', r"is not valid TOML"),
        ('[ncbi]\nemail = "a@b.org"\napi_key = "abc"\n', r"secrets are not read from files; set \$NCBI_API_KEY"),
        ('[ncbi]\nemail = "a@b.org"\n[[recipients]]\nemail = "x@y.org"\ntopics = ["nope"]\n', r"unknown topic 'nope'"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\nunsubscribe = "http://example.org/u"\n',
         r"^digest\.unsubscribe in .*: 'http://example\.org/u': an unsubscribe page must be https:// .*, or give an e-mail address$"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\nunsubscribe = "mailto:nobody"\n',
         r"digest\.unsubscribe in .*: 'mailto:nobody' is neither an https:// page nor one e-mail address \(write https://"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\ntime = "09:00"\n[schedule]\ndigest = "0 7 * * mon"\n',
         r"schedule\.digest in .*config\.toml: the digest job '0 7 \* \* mon' first fires 6 days after the digest is due .*'0 9 \* \* mon'"),
        ('[ncbi]\nemail = "a@b.org"\n[smtp]\nsender = "OIH Watch digest@example.org"\n', r"smtp\.sender in .*not one e-mail address"),
        ('[ncbi]\nemail = "a@b.org"\n[smtp]\nsender = "a@example.org, b@example.org"\n', r"smtp\.sender in .*not one e-mail address"),
        ('[ncbi]\nemail = "a@b.org"\n[smtp]\nsender = "digest@example.org\\nBcc: x@example.org"\n', r"smtp\.sender in "),
        ('[ncbi]\nemail = "a@b.org"\n[[recipients]]\nemail = "clinic@"\n', r"recipients\.0\.email in .*not one e-mail address"),
        ('[ncbi]\nemail = "a@b.org"\n[[recipients]]\nemail = "Pain Clinic <clinic@example.org>"\n',
         r"recipients\.0\.email in .*give the address alone \(clinic@example\.org\)"),
        # Values that used to pass here and fail later, mid-run.
        ('[ncbi]\nemail = "a@b.org"\n[digest]\ntime = "25:99"\n', r"digest\.time in .*: '25:99' is not a time of day \(use HH:MM"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\ntime = "7:00"\n', r"digest\.time in .*'7:00' is not a time of day"),
        ('[ncbi]\nemail = "ops"\n', r"ncbi\.email in .*: 'ops' is not one e-mail address"),
        ('[ncbi]\nemail = "a@b.org"\nbase_url = "notaurl"\n', r"ncbi\.base_url in .*'notaurl': .*valid URL"),
        ('[ncbi]\nemail = "a@b.org"\nbase_url = "ftp://eutils.example.org/"\n', r"ncbi\.base_url in .*scheme should be 'http' or 'https'"),
        ('[ncbi]\nemail = "a@b.org"\ntool = "my tool"\n', r"ncbi\.tool in "),
        # Both passed here and stopped the first request with a traceback.
        ('[ncbi]\nemail = "a@b.org"\ntool = "oihwätch"\n', r"^ncbi\.tool in .*: 'oihwätch': use ASCII letters, digits and punctuation"),
        ('[ncbi]\nemail = "a@b.org"\nbase_url = "http://a..b/"\n', r"^ncbi\.base_url in .*: 'http://a\.\.b/': the host 'a\.\.b' is not a valid host name"),
        ('[ncbi]\nemail = "a@b.org"\n[harvest]\nstart = 2099-01-01\n', r"harvest\.start in .*2099-01-01 is after today"),
        ('[ncbi]\nemail = "a@b.org"\n[harvest]\nlookback_days = -1\n', r"harvest\.lookback_days in "),
        ('[ncbi]\nemail = "a@b.org"\n[smtp]\nport = 0\n', r"smtp\.port in "),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\ntitle = ""\n', r"digest\.title in "),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\ntitle = """OIH digest\n"""\n',
         r"^digest\.title in .*: 'OIH digest\\n': the title is an e-mail subject, one line; it holds a line break \(U\+000A\)$"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\ntitle = "OIH\\tdigest"\n', r"digest\.title in .*it holds a tab \(U\+0009\)$"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\nper_section = 0\n', r"digest\.per_section in .*greater than or equal to 1"),
        ('[ncbi]\nemail = "a@b.org"\n[database]\npath = " "\n', r"database\.path in .*: empty; give a file or folder name"),
        ('[ncbi]\nemail = "a@b.org"\n[digest]\noutbox = ""\n', r"digest\.outbox in .*: empty"),
        # Two blocks sharing a name would share one harvest watermark; a second e-mail to one mailbox.
        ('[ncbi]\nemail = "a@b.org"\n[[queries]]\nname = "oih"\nterm = "a"\n[[queries]]\nname = "oih"\nterm = "b"\n',
         r"^queries in .*: query name 'oih' is given twice; each query keeps its own harvest watermark"),
        ('[ncbi]\nemail = "a@b.org"\n[[recipients]]\nemail = "all@example.org"\ntopics = []\n'
         '[[recipients]]\nemail = "all@example.org"\ntopics = []\n', r"^recipients in .*: recipient 'all@example\.org' is given twice;"),
        ('[ncbi]\nemail = "a@b.org"\n[[recipients]]\nemail = "all@example.org"\n[[recipients]]\nemail = "ALL@Example.org"\n',
         r"recipient 'ALL@Example\.org' is given twice \(also as 'all@example\.org'\)"),
        # Topic rules are compiled as the classifier compiles them (RE2, lower-cased), not first met mid-run.
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nkeywords = ["taper", "deprescrib("]\n',
         r"^topics\.t\.keywords in .*config\.toml: pattern 'deprescrib\(' is not a valid RE2 regular expression \(missing \): deprescrib\(\)$"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nrequires = ["(?<=a)b"]\n', r"^topics\.t\.requires in .*: pattern '\(\?<=a\)b' is not a valid RE2"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nexclude = ["a{2,1}"]\n', r"^topics\.t\.exclude in .*: pattern 'a\{2,1\}' is not a valid RE2"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nkeywords = [\'\\p{Greek}\']\n', r"^topics\.t\.keywords in .*: .* once lower-cased"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.oih]\nlabel = "T"\n', r"^topics\.oih in .*config\.toml: the name 'oih' is reserved for OIH relevance"),
        # A topic name is free text but for what breaks where it is shown or matched.
        ('[ncbi]\nemail = "a@b.org"\n[topics.""]\nlabel = "E"\n',
         r"^topics\.\"\" in .*config\.toml: '' is an empty topic name, which the digest keeps for its 'Other OIH research' section"),
        ('[ncbi]\nemail = "a@b.org"\n[topics." "]\nlabel = "E"\n', r"^topics\.\" \" in .*: ' ' is an empty topic name"),
        ('[ncbi]\nemail = "a@b.org"\n[topics." ketamine"]\nlabel = "K"\n', r"^topics\.\" ketamine\" in .*: ' ketamine' begins or ends with a space"),
        ('[ncbi]\nemail = "a@b.org"\n[topics."a;b=c"]\nlabel = "S"\n',
         r"^topics\.\"a;b=c\" in .*: 'a;b=c' holds ';', which separates the topics' scores in the CSV export \(\"name=score; \.\.\.\"\); rename the topic$"),
        ('[ncbi]\nemail = "a@b.org"\n[topics."x=y"]\nlabel = "S"\n', r"^topics\.\"x=y\" in .*: 'x=y' holds '='"),
        ('[ncbi]\nemail = "a@b.org"\n[topics."a\\tb"]\nlabel = "T"\n', r"^topics\.\"a\\tb\" in .*: 'a\\tb' holds a tab \(U\+0009\); a topic name is one line"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.OIH]\nlabel = "T"\n', r"^topics\.OIH in .*: the name 'OIH' is reserved for OIH relevance"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.ketamine]\nlabel = "K"\n[topics.Ketamine]\nlabel = "K2"\n',
         r"^topics\.Ketamine in .*: 'Ketamine' and 'ketamine' differ only in letter case, and topic names are matched ignoring case"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.""]\nlabel = "E"\nkeywords = ["("]\n', r"^topics\.\"\" in .*: '' is an empty topic name"),
        # A stray "" in a list would put the topic on every record (or, in exclude, veto every hit).
        ('[ncbi]\nemail = "a@b.org"\n[topics.naloxone]\nlabel = "N"\nkeywords = ["naloxone", ""]\n',
         r"^topics\.naloxone\.keywords in .*config\.toml: pattern '' matches every record \(it needs no word to match\); remove it from the list or fix it$"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nrequires = [" "]\n', r"^topics\.t\.requires in .*: pattern ' ' matches every record"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nexclude = [""]\n', r"^topics\.t\.exclude in .*: pattern '' matches every record"),
        # The same mistake in other forms: a trailing '|', an optional group, a star.
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nkeywords = ["naloxone|"]\n', r"^topics\.t\.keywords in .*: pattern 'naloxone\|' matches every record"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nexclude = ["(rat)?"]\n', r"^topics\.t\.exclude in .*: pattern '\(rat\)\?' matches every record"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nrequires = ["x*"]\n', r"^topics\.t\.requires in .*: pattern 'x\*' matches every record"),
        ('[ncbi]\nemail = "a@b.org"\n[topics.t]\nlabel = "T"\nmesh = ["Naloxone", ""]\n',
         r"^topics\.t\.mesh in .*: MeSH term '': an empty term names no descriptor; remove it from the list$"),
        # A login over an unencrypted connection to another machine would send the password in clear.
        ('[ncbi]\nemail = "a@b.org"\n[smtp]\nhost = "mail.example.org"\nport = 25\nsecurity = "none"\nusername = "digest"\n',
         r"smtp\.security in .*'none' would send the SMTP password unencrypted to 'mail\.example\.org'; use starttls or ssl"),
    ],
)
def test_bad_config_is_one_line_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(write(tmp_path, text), {})
    assert "\n" not in str(info.value)


def test_a_title_may_hold_any_space_but_no_line_break(tmp_path):
    title = "Veille OIH\u00a0: hyperalgésie\u202finduite"  # French no-break spaces before ':' and between words
    settings = load_settings(write(tmp_path, f'[ncbi]\nemail = "a@b.org"\n[digest]\ntitle = "{title}"\n'), {})
    assert settings.digest.title == title


def test_pydantic_wording_stays_out_of_messages(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, '[ncbi]\nemail = "ops"\n'), {})
    assert "Value error" not in str(info.value)


def test_ncbi_settings_are_checked_when_they_come_from_the_environment(tmp_path):
    """The operator's case: a bad base URL stops the command at once instead of being retried as an outage."""
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n')
    with pytest.raises(ConfigError, match=r"^ncbi\.base_url in \$OIHWATCH_NCBI_BASE_URL: 'notaurl'"):
        load_settings(path, {"OIHWATCH_NCBI_BASE_URL": "notaurl"})
    result = CliRunner().invoke(cli, ["-c", str(path), "harvest"], env={"OIHWATCH_NCBI_BASE_URL": "notaurl"})
    assert result.exit_code == 1
    assert result.output.startswith("Error: ncbi.base_url in $OIHWATCH_NCBI_BASE_URL:")
    assert load_settings(path, {"OIHWATCH_NCBI_BASE_URL": "http://127.0.0.1:8080/eutils/"}).ncbi.base_url == "http://127.0.0.1:8080/eutils/"
    assert load_settings(write(tmp_path, '[ncbi]\nemail = " me@example.org "\n'), {}).ncbi.email == "me@example.org"


def test_harvest_start_may_be_today_but_not_tomorrow(tmp_path):
    today = date(2026, 11, 30)
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n[harvest]\nstart = 2026-11-30\n')
    assert load_settings(path, {}, today=today).harvest.start == today
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n[harvest]\nstart = 2026-12-01\n')
    with pytest.raises(ConfigError, match=r"harvest\.start in .*2026-12-01 is after today"):
        load_settings(path, {}, today=today)
    environ = {"OIHWATCH_HARVEST_START": "2026-12-01"}
    with pytest.raises(ConfigError, match=r"harvest\.start in \$OIHWATCH_HARVEST_START: 2026-12-01 is after today"):
        load_settings(write(tmp_path, '[ncbi]\nemail = "a@b.org"\n'), environ, today=today)


@pytest.mark.parametrize(
    "smtp",
    [
        'host = "localhost"\nsecurity = "none"\nusername = "digest"\n',       # a local relay
        'host = "127.0.0.1"\nsecurity = "none"\nusername = "digest"\n',
        'host = "::1"\nsecurity = "none"\nusername = "digest"\n',
        'host = "mail.example.org"\nsecurity = "none"\n',                      # no user name, no login: nothing to leak
        'host = "mail.example.org"\nsecurity = "starttls"\nusername = "digest"\n',
        'host = "mail.example.org"\nport = 465\nsecurity = "ssl"\nusername = "digest"\n',
    ],
)
def test_smtp_logins_that_keep_the_password_safe_are_accepted(tmp_path, smtp):
    load_settings(write(tmp_path, f'[ncbi]\nemail = "a@b.org"\n[smtp]\n{smtp}'), {"OIHWATCH_SMTP_PASSWORD": "pw"})


MAILING = '[ncbi]\nemail = "a@b.org"\n[smtp]\nhost = "mail.example.org"\n[[recipients]]\nemail = "clinic@example.org"\n'


def test_a_digest_that_could_not_be_mailed_is_found_from_the_config_alone(tmp_path):
    """No sender, or a login without its password: found when a command starts, not when the digest is due."""
    path = write(tmp_path, MAILING)
    assert mail_problem(load_settings(path, {})) == (
        f"smtp.sender in {path}: required to e-mail the digest (the From: address); "
        'set it, e.g. sender = "OIH Watch <digest@example.org>"')
    sender = {"OIHWATCH_SMTP_SENDER": "digest@example.org"}
    assert mail_problem(load_settings(path, sender)) == ""
    login = {**sender, "OIHWATCH_SMTP_USERNAME": "digest"}
    assert mail_problem(load_settings(path, login)) == (
        "smtp.username in $OIHWATCH_SMTP_USERNAME asks for a login, but $OIHWATCH_SMTP_PASSWORD is not set in this "
        "environment; set it where oihwatch runs (the crontab, the service's EnvironmentFile, the shell of a command "
        "by hand), or empty smtp.username for a server without login")
    assert mail_problem(load_settings(path, {**login, "OIHWATCH_SMTP_PASSWORD": ""})) != ""  # empty is unset
    assert mail_problem(load_settings(path, login), login=False) == ""  # .eml copies need no login
    assert mail_problem(load_settings(path, {**login, "OIHWATCH_SMTP_PASSWORD": "pw"})) == ""
    assert mail_problem(load_settings(write(tmp_path, '[smtp]\nhost = "mail.example.org"\n'), {})) == ""  # no recipients
    assert mail_problem(load_settings(write(tmp_path, MAILING.replace('host = "mail.example.org"', 'host = ""')), {})) == ""


def test_a_sender_may_carry_a_display_name(tmp_path):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n[smtp]\nsender = "OIH Watch <digest@example.org>"\n'
                           '[[recipients]]\nemail = " clinic@example.org "\n')
    settings = load_settings(path, {})
    assert settings.smtp.sender == "OIH Watch <digest@example.org>"
    assert settings.recipients[0].email == "clinic@example.org"


def test_environment_overrides_file_and_errors_name_the_variable(tmp_path):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\nbase_url = "http://file/"\n')
    settings = load_settings(path, {"OIHWATCH_NCBI_BASE_URL": "http://env/", "OIHWATCH_HARVEST_BATCH_SIZE": "50"})
    assert settings.ncbi.base_url == "http://env/"
    assert settings.harvest.batch_size == 50
    with pytest.raises(ConfigError, match=r"harvest\.batch_size in \$OIHWATCH_HARVEST_BATCH_SIZE"):
        load_settings(path, {"OIHWATCH_HARVEST_BATCH_SIZE": "lots"})
    with pytest.raises(ConfigError, match="OIHWATCH_NCBI_FOO"):
        load_settings(path, {"OIHWATCH_NCBI_FOO": "1"})


def test_environment_strings_are_converted_by_the_type_of_their_setting(tmp_path):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n[harvest]\nstart = 2020-01-01\n[database]\nlock_wait = 5\n'
                           '[classifier]\nrelevance_threshold = 1\n')
    settings = load_settings(path, {})
    assert (settings.harvest.start, settings.database.lock_wait, settings.classifier.relevance_threshold) == (date(2020, 1, 1), 5.0, 1.0)
    settings = load_settings(path, {"OIHWATCH_DIGEST_PER_SECTION": "5", "OIHWATCH_DIGEST_SEND_EMPTY": "false",
                                    "OIHWATCH_HARVEST_START": "2021-02-03", "OIHWATCH_DATABASE_PATH": "/srv/oih.db",
                                    "OIHWATCH_CLASSIFIER_RELEVANCE_THRESHOLD": "model"})
    assert (settings.digest.per_section, settings.digest.send_empty, settings.harvest.start) == (5, False, date(2021, 2, 3))
    assert (settings.database_path, settings.classifier.relevance_threshold) == (Path("/srv/oih.db"), "model")
    with pytest.raises(ConfigError, match=r"^digest\.send_empty in \$OIHWATCH_DIGEST_SEND_EMPTY: Input should be a valid boolean"):
        load_settings(path, {"OIHWATCH_DIGEST_SEND_EMPTY": "maybe"})
    with pytest.raises(ConfigError, match=r"^database\.path in \$OIHWATCH_DATABASE_PATH: empty"):
        load_settings(path, {"OIHWATCH_DATABASE_PATH": " "})


def test_a_variable_set_to_the_empty_string_counts_as_unset(tmp_path):
    """A placeholder such as `NCBI_API_KEY=` in a crontab or an EnvironmentFile leaves the file's value in force."""
    path = write(tmp_path, '[database]\npath = "/srv/oih.db"\n[ncbi]\nemail = "a@b.org"\n[smtp]\nhost = "mail.example.org"\n')
    empty = {name: "" for name in ("OIHWATCH_NCBI_EMAIL", "OIHWATCH_SMTP_HOST", "OIHWATCH_DATABASE_PATH", "OIHWATCH_HARVEST_BATCH_SIZE",
                                    "NCBI_API_KEY", "OIHWATCH_SMTP_PASSWORD", "OIHWATCH_NCBI_API_KEY", "OIHWATCH_NO_SUCH_SETTING")}
    settings = load_settings(path, empty)
    assert require_ncbi_email(settings) == "a@b.org"
    assert (settings.smtp.host, settings.database_path, settings.harvest.batch_size) == ("mail.example.org", Path("/srv/oih.db"), 200)
    assert settings.ncbi.api_key is None and settings.smtp.password is None
    assert settings.where("ncbi.email") == str(path.absolute())
    result = CliRunner().invoke(cli, ["-c", str(path), "config", "show", "--json"], env=empty)
    assert result.exit_code == 0, result.output
    assert {row["key"]: row["value"] for row in json.loads(result.output)}["ncbi.email"] == "a@b.org"


def test_a_blank_email_from_the_environment_is_blamed_on_the_variable(tmp_path):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n')
    settings = load_settings(path, {"OIHWATCH_NCBI_EMAIL": "  "})
    assert settings.where("ncbi.email") == "$OIHWATCH_NCBI_EMAIL"
    with pytest.raises(ConfigError, match=r"^ncbi\.email in \$OIHWATCH_NCBI_EMAIL: required to harvest, .*; set an address there, "
                                          r"or unset it to use the file's$"):
        require_ncbi_email(settings)
    result = CliRunner().invoke(cli, ["-c", str(path), "harvest"], env={"OIHWATCH_NCBI_EMAIL": " "})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ncbi.email in $OIHWATCH_NCBI_EMAIL: required") and result.stderr.count("\n") == 1
    assert str(path) not in result.stderr


@pytest.mark.parametrize("name, value", [("OIHWATCH_SMTP_HOST", "mail.example.org"), ("OIHWATCH_SMTP_USERNAME", "digest"),
                                         ("OIHWATCH_SMTP_SECURITY", "none")])
def test_a_login_in_clear_made_by_a_variable_is_blamed_on_the_variable(tmp_path, name, value):
    """The file alone is fine (a local relay, no login, or starttls); the variable makes the password cross the network."""
    smtp = {"OIHWATCH_SMTP_HOST": 'host = "localhost"\nsecurity = "none"\nusername = "digest"\n',
            "OIHWATCH_SMTP_USERNAME": 'host = "mail.example.org"\nsecurity = "none"\n',
            "OIHWATCH_SMTP_SECURITY": 'host = "mail.example.org"\nsecurity = "starttls"\nusername = "digest"\n'}[name]
    path = write(tmp_path, f'[ncbi]\nemail = "a@b.org"\n[smtp]\n{smtp}')
    load_settings(path, {})
    key = name.removeprefix("OIHWATCH_").lower().replace("_", ".", 1)
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} in \${name}: security 'none' would send the SMTP password unencrypted "
                                          r"to 'mail\.example\.org'; use starttls or ssl"):
        load_settings(path, {name: value})


def test_a_section_that_is_not_a_table_is_the_files_error_even_with_a_variable_for_it(tmp_path):
    path = write(tmp_path, 'ncbi = 5\n')
    with pytest.raises(ConfigError, match=rf"^ncbi in {re.escape(str(path))}: Input should be"):
        load_settings(path, {"OIHWATCH_NCBI_EMAIL": "a@b.org", "NCBI_API_KEY": "abc123"})


def test_a_secret_under_its_setting_name_in_the_environment_names_the_variable_to_use(tmp_path):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n')
    with pytest.raises(ConfigError, match=r"^ncbi\.api_key in \$OIHWATCH_NCBI_API_KEY: the secret is read from \$NCBI_API_KEY; set that instead$"):
        load_settings(path, {"OIHWATCH_NCBI_API_KEY": "k"})


def test_secrets_come_from_environment_and_are_masked(tmp_path, monkeypatch):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n')
    settings = load_settings(path, {"NCBI_API_KEY": "k3y-s3cret", "OIHWATCH_SMTP_PASSWORD": "pw-s3cret"})
    assert settings.ncbi.api_key.get_secret_value() == "k3y-s3cret"
    assert "k3y-s3cret" not in repr(settings)
    monkeypatch.setenv("NCBI_API_KEY", "k3y-s3cret")
    monkeypatch.setenv("OIHWATCH_SMTP_PASSWORD", "pw-s3cret")
    result = CliRunner().invoke(cli, ["-c", str(path), "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert '"ncbi.api_key"' in result.output and "********" in result.output


REAL_SHAPED_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e"  # NCBI's keys: 36 letters and digits


@pytest.mark.parametrize("key", [REAL_SHAPED_KEY, REAL_SHAPED_KEY.upper(), "k3y-s3cret", "s3cret-ncbi-key-0123456789"])
def test_an_ncbi_api_key_of_letters_and_digits_is_accepted(tmp_path, key):
    settings = load_settings(write(tmp_path, '[ncbi]\nemail = "a@b.org"\n'), {"NCBI_API_KEY": key})
    assert settings.ncbi.api_key.get_secret_value() == key
    assert settings.where("ncbi.api_key") == "$NCBI_API_KEY"


@pytest.mark.parametrize(
    "value, problem",
    [
        # cron keeps a comment after a variable as part of its value (crontab(5))
        (f"{REAL_SHAPED_KEY}            # optional: 10 requests/s instead of 3", r"holds a '#' comment, which cron keeps as part of the value; "
                                                                                r"put the comment on a line of its own"),
        (f"{REAL_SHAPED_KEY}#optional", r"holds a '#' comment"),
        (f"{REAL_SHAPED_KEY} ", r"holds a space or line break; an NCBI API key is letters and digits only, so set the key alone$"),
        (f" {REAL_SHAPED_KEY}", r"holds a space or line break"),
        (f"{REAL_SHAPED_KEY}\n", r"holds a space or line break"),
        ("   ", r"holds a space or line break"),
        (f'"{REAL_SHAPED_KEY}"', r"holds a character other than A-Z, a-z and 0-9 \(a quote mark\?\)"),
        (f"{REAL_SHAPED_KEY};", r"holds a character other than A-Z, a-z and 0-9"),
        (f"{REAL_SHAPED_KEY}é", r"holds a character other than A-Z, a-z and 0-9"),
    ],
)
def test_an_ncbi_api_key_of_another_shape_is_one_line_naming_the_variable_and_never_the_key(tmp_path, monkeypatch, value, problem):
    """Sent as it is, it would go to NCBI with every request; the error must not leak the key into cron mail or a log."""
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n')
    with pytest.raises(ConfigError, match=rf"^ncbi\.api_key in \$NCBI_API_KEY: {problem}") as info:
        load_settings(path, {"NCBI_API_KEY": value})
    shown = "".join(traceback.format_exception(info.value))
    assert "\n" not in str(info.value)
    assert REAL_SHAPED_KEY not in shown and REAL_SHAPED_KEY[:8] not in shown
    assert info.value.__context__ is None and info.value.__cause__ is None  # no pydantic error holding the value
    monkeypatch.setenv("NCBI_API_KEY", value)
    for args in (["config", "show"], ["harvest"]):
        result = CliRunner().invoke(cli, ["-c", str(path), *args])
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("Error: ncbi.api_key in $NCBI_API_KEY: holds ") and result.stderr.count("\n") == 1
        assert REAL_SHAPED_KEY[:8] not in result.output
    assert not (tmp_path / "oihwatch.db").exists()


def test_config_show_json_keeps_value_types(tmp_path):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n[[recipients]]\nemail = "x@y.org"\ntopics = []\n')
    result = CliRunner().invoke(cli, ["-c", str(path), "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    values = {row["key"]: row["value"] for row in json.loads(result.output)}
    assert values["digest.send_empty"] is True
    assert values["database.lock_wait"] == 5.0 and values["harvest.batch_size"] == 200
    assert values["smtp.port"] == 587 and isinstance(values["smtp.port"], int)
    assert values["ncbi.api_key"] is None and values["smtp.password"] is None
    assert values["harvest.start"] == "2000-01-01" and values["recipients"] == "x@y.org"
    table = CliRunner().invoke(cli, ["-c", str(path), "config", "show"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "(not set)" in table.output and "true" in table.output


def test_inspecting_works_without_the_ncbi_email_and_harvesting_does_not(tmp_path):
    """config show and status help fix a config; only what talks to NCBI needs the address."""
    path = write(tmp_path, default_config_text())
    runner = CliRunner()
    shown = runner.invoke(cli, ["-c", str(path), "config", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    assert {row["key"]: row["value"] for row in json.loads(shown.output)}["ncbi.email"] == ""
    harvested = runner.invoke(cli, ["-c", str(path), "harvest"])
    assert harvested.exit_code == 1
    assert harvested.output.startswith("Error: ncbi.email in ") and "required" in harvested.output
    assert not (tmp_path / "oihwatch.db").exists()  # refused before anything was made
    ran = runner.invoke(cli, ["-c", str(path), "run"])  # at start, not as a failed harvest step each night
    assert ran.exit_code == 1 and ran.stderr.startswith("Error: ncbi.email in ") and ran.stderr.count("\n") == 1
    assert not (tmp_path / "oihwatch.db").exists()
    Store(tmp_path / "oihwatch.db").close()
    for args in (["search", "ketamine"], ["stats"], ["export"], ["digest"]):  # a researcher needs no NCBI address
        result = runner.invoke(cli, ["-c", str(path), *args], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output)
    status = runner.invoke(cli, ["-c", str(path), "status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["database"] == str(tmp_path / "oihwatch.db")


def test_a_bad_topic_rule_stops_every_command_at_start(tmp_path):
    """A typo in a keyword regex is found by config show, and stops run before it harvests anything."""
    path = write(tmp_path, default_config_text("me@example.org").replace("'deprescrib',", "'deprescrib(',"))
    runner = CliRunner()
    for args in (["config", "show"], ["run"], ["status"], ["search", "ketamine"]):
        result = runner.invoke(cli, ["-c", str(path), *args])
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr == (f"Error: topics.tapering.keywords in {path}: pattern 'deprescrib(' is not a valid RE2 "
                                 "regular expression (missing ): deprescrib()\n"), args
    assert not (tmp_path / "oihwatch.db").exists()


def test_an_empty_keyword_stops_every_command_at_start(tmp_path):
    """Left in a list, "" would tag every record by the rule; train would then advise adding keywords."""
    path = write(tmp_path, default_config_text("me@example.org") + '\n[topics.naloxone]\nlabel = "Naloxone"\nkeywords = ["naloxone", ""]\n')
    for args in (["config", "show"], ["train"], ["status"]):
        result = CliRunner().invoke(cli, ["-c", str(path), *args])
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr == (f"Error: topics.naloxone.keywords in {path}: pattern '' matches every record (it needs "
                                 "no word to match); remove it from the list or fix it\n"), args
    assert not (tmp_path / "oihwatch.db").exists()


def test_topic_names_are_free_text_matched_ignoring_case(tmp_path):
    """Spaces, hyphens, capitals and accents name a topic; a recipient's topics are matched as search and the web
    view match one (any letter case), and kept as the config spells them, which is how the digest keys its sections."""
    path = write(tmp_path, default_config_text("me@example.org") + (
        '\n[topics."Pain science"]\nlabel = "Pain science"\nkeywords = ["nociception"]\n'
        '[topics."bupré-low"]\nlabel = "Low-dose buprenorphine"\nkeywords = ["buprenorphin"]\n'
        '[[recipients]]\nemail = "reader@example.org"\ntopics = ["KETAMINE", "pain science", "Bupré-Low", "ketamine"]\n'))
    assert load_settings(path, {}).recipients[0].topics == ["ketamine", "Pain science", "bupré-low"]
    result = CliRunner().invoke(cli, ["-c", str(path), "config", "show"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "reader@example.org" in result.output and "ketamine, Pain science, bupré-low" in result.output
    path.with_name("other.toml").write_text(path.read_text(encoding="utf-8").replace('"ketamine"]', '"ketamin"]'), encoding="utf-8")
    unknown = CliRunner().invoke(cli, ["-c", str(path.with_name("other.toml")), "config", "show"])
    assert (unknown.exit_code, unknown.stderr) == (1, f"Error: recipients.topics in {path.with_name('other.toml')}: unknown topic 'ketamin'\n")


def test_init_writes_a_config_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", str(path), "init", "--email", "me@example.org"])
    assert result.exit_code == 0, result.output
    assert load_settings(path, {}).ncbi.email == "me@example.org"
    again = runner.invoke(cli, ["-c", str(path), "init"])
    assert again.exit_code == 1
    assert "already exists" in again.output
    bad = runner.invoke(cli, ["-c", str(tmp_path / "x.toml"), "init", "--email", "not-an-address"])
    assert bad.exit_code == 2
    assert "not one e-mail address" in bad.output


def test_init_where_it_cannot_write_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(blocker / "config.toml"), "init", "--email", "me@example.org"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot write {blocker / 'config.toml'}: ")
    assert len(result.output.strip().splitlines()) == 1 and result.exception.__class__ is SystemExit


def test_init_into_a_read_only_folder_is_a_one_line_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder) as view:
        result = CliRunner().invoke(cli, ["-c", str(view / "config.toml"), "init"])
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {view / 'config.toml'}: Permission denied; pick a folder you may write to with -c FILE\n"
    assert list(folder.iterdir()) == []


def test_config_file_from_environment_variable(tmp_path, monkeypatch):
    path = write(tmp_path, '[ncbi]\nemail = "env@example.org"\n')
    monkeypatch.setenv("OIHWATCH_CONFIG", str(path))
    result = CliRunner().invoke(cli, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert "env@example.org" in result.output


def test_missing_config_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 1
    assert result.output == ("Error: no configuration at config.toml: run 'oihwatch init --email YOU@EXAMPLE.ORG' "
                             "or pass -c FILE\n")


@pytest.mark.parametrize("given", ["flag", "environment"])
def test_a_missing_config_given_by_path_says_to_init_that_path(tmp_path, monkeypatch, given):
    """'oihwatch init' alone would write ./config.toml, and the next command given the path fails again."""
    path = tmp_path / "srv dir" / "srv.toml"
    if given == "flag":
        result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    else:
        monkeypatch.setenv("OIHWATCH_CONFIG", str(path))
        result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1
    assert result.output == (f"Error: no configuration at {path}: run 'oihwatch -c '{path}' init --email YOU@EXAMPLE.ORG' "
                             "to write it, or check the path\n")
    monkeypatch.delenv("OIHWATCH_CONFIG", raising=False)
    made = CliRunner().invoke(cli, ["-c", str(path), "init", "--email", "me@example.org"])  # the advice, followed
    assert made.exit_code == 0 and path.is_file()
    assert CliRunner().invoke(cli, ["-c", str(path), "config", "show"]).exit_code == 0


def test_relevance_threshold_is_the_models_unless_set(tmp_path):
    from oihwatch.model_info import relevance_threshold

    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n')
    assert relevance_threshold(load_settings(path, {})) == 0.5  # no model yet
    models = tmp_path / "models"
    models.mkdir()
    (models / "model.json").write_text('{"thresholds": {"oih": 0.21}}', encoding="utf-8")
    (models / "model.joblib").write_bytes(b"")
    assert relevance_threshold(load_settings(path, {})) == 0.21
    assert relevance_threshold(load_settings(path, {"OIHWATCH_CLASSIFIER_RELEVANCE_THRESHOLD": "0.7"})) == 0.7
    with pytest.raises(ConfigError, match=r"classifier\.relevance_threshold in .*from 0 to 1"):
        load_settings(path, {"OIHWATCH_CLASSIFIER_RELEVANCE_THRESHOLD": "1.5"})


@pytest.mark.parametrize("cron", ["0 9 * * mon", "5 9 * * 1", "0 7 * * *", "*/15 * * * *", "0 9 * * 1-5"])
def test_a_digest_job_at_or_soon_after_the_due_moment_is_accepted(tmp_path, cron):
    text = f'[ncbi]\nemail = "a@b.org"\n[digest]\ntime = "09:00"\n[schedule]\ndigest = "{cron}"\n'
    assert load_settings(write(tmp_path, text), {}).schedule.digest == cron


def test_a_late_digest_job_names_the_environment_variable_that_made_it_late(tmp_path):
    path = write(tmp_path, '[ncbi]\nemail = "a@b.org"\n')
    with pytest.raises(ConfigError, match=r"^digest\.time in \$OIHWATCH_DIGEST_TIME: the digest job '0 7 \* \* mon' first fires 6 days"):
        load_settings(path, {"OIHWATCH_DIGEST_TIME": "09:00"})
