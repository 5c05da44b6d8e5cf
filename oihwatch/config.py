"""Configuration: one table of settings, loaded from TOML, environment and flags.

The pydantic models below *are* the settings table: each field's name, default,
description and ``secret`` flag feed validation, ``oihwatch config show`` and the
README's reference. Precedence: defaults < config.toml < ``OIHWATCH_<SECTION>_<KEY>``
environment variables < command-line flags. Loading is a pure function of the
file text and an environment mapping (and today's date, which ``harvest.start`` may
not pass), so tests hand in both. Every value is checked here, at start, so a bad one
stops a command before it harvests or sends anything. A file's value must have its TOML type
('3' is not 3, "no" is not false); an environment variable is always a string, converted by
the type of its setting. A variable set to the empty string counts as unset (a placeholder
``NCBI_API_KEY=`` in a crontab or an environment file), so it never blanks a value of the file;
an error caused by a variable names the variable, not the file.

Secrets never live in the file: the NCBI API key comes from ``NCBI_API_KEY`` and
the SMTP password from ``OIHWATCH_SMTP_PASSWORD``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import unicodedata
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, PrivateAttr, SecretStr, TypeAdapter, ValidationError,
    ValidatorFunctionWrapHandler, field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from classifier.topics import compile_patterns
from corpus.errors import ConfigError
from corpus.tags import RELEVANCE
from oihwatch.crontab import cron_trigger
from reports.address import EMAIL_PLACEHOLDER, login_problem, parse_address
from reports.period import latest_due

SECRET_ENV = {"NCBI_API_KEY": ("ncbi", "api_key"), "OIHWATCH_SMTP_PASSWORD": ("smtp", "password")}
RESERVED_ENV = {"OIHWATCH_CONFIG", "OIHWATCH_SHARED_DATA", "OIHWATCH_SMTP_PASSWORD"}
DEFAULT_CONFIG_NAME = "config.toml"
HTTP_URL = TypeAdapter(HttpUrl)
SOME_MONDAY = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)


def _path(value: object) -> object:
    """A TOML string → Path (strict validation takes only a Path); Path('') is '.', the config's own
    folder, so an unset variable would point the corpus at a directory."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not value.strip():
        raise ValueError("empty; give a file or folder name")
    return Path(value)


FilePath = Annotated[Path, BeforeValidator(_path)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseSettings(Section):
    path: FilePath = Field(Path("oihwatch.db"), description="SQLite corpus file (relative to the config file)")
    lock_wait: float = Field(5.0, ge=0, description="seconds a second writer waits for the lock before giving up (at least 0.5)")


class NcbiSettings(Section):
    email: str = Field("", description="your e-mail, sent to NCBI with every request (required by NCBI)")
    tool: str = Field("oihwatch", description="tool name sent to NCBI with every request (ASCII, no spaces)")
    base_url: str = Field(
        "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/", description="E-utilities base URL (tests use a loopback fake)"
    )
    api_key: SecretStr | None = Field(None, description="NCBI API key (from $NCBI_API_KEY only, letters and digits; 10 req/s instead of 3)")
    timeout: float = Field(60.0, gt=0, description="seconds to wait for one HTTP response")
    retry_budget: float = Field(600.0, gt=0, description="seconds of retrying a failing request before giving up")

    @field_validator("email")
    @classmethod
    def _is_address(cls, value: str) -> str:
        return parse_address(value, display_name=False).addr_spec if value.strip() else ""

    @field_validator("tool")
    @classmethod
    def _is_header_text(cls, value: str) -> str:
        """It travels in an HTTP header (User-Agent), which carries ASCII only: 'oihwätch' failed at the first request."""
        if not re.fullmatch(r"[!-~]+", value):
            raise ValueError(f"{value!r}: use ASCII letters, digits and punctuation, no spaces (it is sent in an HTTP header)")
        return value

    @field_validator("base_url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        """An http(s) URL with a host, else 'notaurl' would be retried for minutes as if NCBI were down; and a host
        DNS can spell ('a..b' passes the URL syntax and failed at the first request)."""
        try:
            url = HTTP_URL.validate_python(value)
        except ValidationError as exc:
            raise ValueError(f"{value!r}: {exc.errors()[0]['msg']} (write http:// or https://, a host and a path)") from None
        try:
            (url.host or "").encode("idna")
        except UnicodeError:
            raise ValueError(f"{value!r}: the host {url.host!r} is not a valid host name (an empty or over-long part between dots)") from None
        return str(url)


class Query(Section):
    name: str = Field(description="short name, used for watermarks and --query")
    term: str = Field(description="PubMed search term")

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError("use letters, digits, '-', '_' or '.'")
        return value


class HarvestSettings(Section):
    start: date = Field(date(2000, 1, 1), description="first create date of the backfill on a first run")
    lookback_days: int = Field(30, ge=0, description="days re-searched before the watermark (late-indexed records)")
    batch_size: int = Field(200, ge=1, le=10000, description="records per efetch request")
    sweep_days: int = Field(7, ge=1, description="days between modification-date sweeps for revised records")


class Topic(Section):
    label: str = Field(description="the heading clinicians see")
    description: str = Field("", description="what the topic covers")
    keywords: list[str] = Field(default_factory=list, description="keyword rules over title and abstract (regex)")
    mesh: list[str] = Field(default_factory=list, description="MeSH descriptors that mark the topic")
    requires: list[str] = Field(default_factory=list, description="context regexes: a keyword or MeSH hit counts only if one also matches")
    exclude: list[str] = Field(default_factory=list, description="regexes that veto a keyword or MeSH hit (off-topic uses of the words)")

    @field_validator("keywords", "requires", "exclude")
    @classmethod
    def _are_rules(cls, value: list[str]) -> list[str]:
        """Compiled as the classifier will (RE2, lower-cased), so a typo stops every command at start,
        not classify in the middle of a run; compiling the default topics takes a few milliseconds."""
        compile_patterns(value)
        return value

    @field_validator("mesh")
    @classmethod
    def _are_descriptors(cls, value: list[str]) -> list[str]:
        """An empty term names no descriptor: a stray "" in the list, which marks nothing."""
        for term in value:
            if not term.strip():
                raise ValueError(f"MeSH term {term!r}: an empty term names no descriptor; remove it from the list")
        return value


class ClassifierSettings(Section):
    model_dir: FilePath = Field(Path("models"), description="where trained models are saved (relative to the config file)")
    relevance_threshold: Literal["model"] | float = Field(
        "model", description='OIH relevance (0-1) needed to appear in a digest; "model" = the threshold training chose'
    )

    @field_validator("relevance_threshold", mode="wrap")
    @classmethod
    def _is_probability(cls, value: object, handler: ValidatorFunctionWrapHandler) -> str | float:
        """One message, where pydantic would give one per member of the union."""
        try:
            value = handler(value)
        except ValidationError:
            raise PydanticCustomError("probability_type", 'use a number from 0 to 1, or "model"') from None
        if value != "model" and not 0 <= value <= 1:
            raise ValueError('use a number from 0 to 1, or "model"')
        return value


class DigestSettings(Section):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field("mon", description="day the digest is due")
    time: str = Field("07:00", description="local time (HH:MM) from which it is due")
    title: str = Field("OIH evidence digest", min_length=1, description="e-mail subject and page title")
    outbox: FilePath = Field(Path("outbox"), description="the HTML archive of every digest, and the .eml files when no SMTP host is set")
    send_empty: bool = Field(True, description="send a one-line e-mail in a week with nothing new")
    per_section: int = Field(  # about 2 KB of HTML a paper: five full sections stay under Gmail's 102 KB clip
        10, ge=1, description="papers listed per topic in an e-mail, strongest evidence first; the rest are one PubMed link"
    )
    unsubscribe: str = Field(
        "", description="List-Unsubscribe: an e-mail address or an https:// page, one-click when it holds {email} "
                        "(each recipient's address); empty = the sender"
    )

    @field_validator("time")
    @classmethod
    def _is_time_of_day(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"{value!r} is not a time of day (use HH:MM, 00:00 to 23:59)")
        return value

    @field_validator("title")
    @classmethod
    def _is_one_line(cls, value: str) -> str:
        """An e-mail subject: a line break would end the header; spaces of any kind (a French
        no-break space before ':') are fine."""
        if said := _control_character(value):
            raise ValueError(f"{value!r}: the title is an e-mail subject, one line; it holds {said}")
        return value

    @field_validator("unsubscribe")
    @classmethod
    def _is_page_or_address(cls, value: str) -> str:
        if not value:
            return value
        if re.fullmatch(r"https://\S+", value):
            if re.search(r"[{}]", value.replace(EMAIL_PLACEHOLDER, "")):  # a mistyped placeholder, or a stray brace
                raise ValueError(f"{value!r}: the one placeholder an unsubscribe page takes is {EMAIL_PLACEHOLDER} "
                                 "(each recipient's address), and a URL holds no other { or }")
            return value
        if re.match(r"[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):  # a page, but not over https
            raise ValueError(f"{value!r}: an unsubscribe page must be https:// (mail clients offer their one-click "
                             "button only for https pages), or give an e-mail address")
        try:
            parse_address(value.removeprefix("mailto:"), display_name=False)
        except ValueError:
            raise ValueError(f"{value!r} is neither an https:// page nor one e-mail address "
                             "(write https://example.org/unsubscribe or name@example.org)") from None
        return value


class SmtpSettings(Section):
    host: str = Field("", description="SMTP server; empty = write .eml files to the outbox instead")
    port: int = Field(587, ge=1, le=65535, description="SMTP port")
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="starttls | ssl | none")
    username: str = Field("", description="SMTP user name")
    sender: str = Field("", description="From: address, alone or with a name ('OIH Watch <digest@example.org>')")
    password: SecretStr | None = Field(None, description="SMTP password (from $OIHWATCH_SMTP_PASSWORD only)")
    timeout: float = Field(30.0, gt=0, description="seconds to wait for the SMTP server")

    @field_validator("sender")
    @classmethod
    def _is_address(cls, value: str) -> str:
        return str(parse_address(value)) if value else value


class Recipient(Section):
    email: str = Field(description="recipient address, without a name")
    topics: list[str] = Field(default_factory=list, description="topics to receive; empty = all")

    @field_validator("email")
    @classmethod
    def _is_address(cls, value: str) -> str:
        return parse_address(value, display_name=False).addr_spec


class ScheduleSettings(Section):
    harvest: str = Field("30 2 * * *", description="cron for harvest + classify (02:30, off-peak for NCBI)")
    digest: str = Field("0 7 * * mon", description="cron for the weekly digest")
    timezone: str = Field("America/New_York", description="time zone of the cron expressions")

    @field_validator("harvest", "digest")
    @classmethod
    def _is_cron(cls, value: str) -> str:
        try:
            cron_trigger(value, "UTC")
        except ValueError as exc:
            raise ValueError(f"not a cron expression (minute hour day month weekday): {exc}") from None
        return value

    @field_validator("harvest")
    @classmethod
    def _fires(cls, value: str) -> str:
        """The digest's is checked with digest.time and digest.weekday (``digest_job_late``)."""
        if cron_trigger(value, "UTC").get_next_fire_time(None, SOME_MONDAY) is None:
            raise ValueError("never fires: no day matches it (such as 30 February), so harvest is never scheduled; "
                             "e.g. '30 2 * * *'")
        return value

    @field_validator("timezone")
    @classmethod
    def _is_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from None
        return value


class Settings(Section):
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ncbi: NcbiSettings = Field(default_factory=NcbiSettings)
    queries: list[Query] = Field(default_factory=list)
    harvest: HarvestSettings = Field(default_factory=HarvestSettings)
    topics: dict[str, Topic] = Field(default_factory=dict)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    recipients: list[Recipient] = Field(default_factory=list)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)

    source: Path | None = Field(None, exclude=True, description="the config file these settings came from")
    _origin: dict[str, str] = PrivateAttr(default_factory=dict)  # "section.key" -> the environment variable that set it

    @field_validator("queries")
    @classmethod
    def _names_unique(cls, queries: list[Query]) -> list[Query]:
        _reject_repeats([query.name for query in queries], "query name", "each query keeps its own harvest watermark")
        return queries

    @field_validator("recipients")
    @classmethod
    def _addresses_unique(cls, recipients: list[Recipient]) -> list[Recipient]:
        _reject_repeats([r.email for r in recipients], "recipient",
                        "each would get the digest twice; list an address once, with all its topics")
        return recipients

    def resolve(self, path: Path) -> Path:
        """A path setting, relative to the config file's folder."""
        path = Path(path).expanduser()
        if path.is_absolute() or self.source is None:
            return path
        return self.source.parent / path

    @property
    def database_path(self) -> Path:
        return self.resolve(self.database.path)

    def where(self, key: str) -> str:
        """Where a setting's value came from, for an error message: '$OIHWATCH_NCBI_EMAIL' when a variable set it, else the file."""
        return _where(key, self._origin, self.source)


def _control_character(text: str) -> str:
    """The first line break, tab or other control character in ``text``, in words ('a tab (U+0009)'),
    or '' when it has none: spaces of any kind are not."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            said = "a line break" if char in "\n\r\x0b\x0c\x85\u2028\u2029" else "a tab" if char == "\t" else "a control character"
            return f"{said} (U+{ord(char):04X})"
    return ""


def _topic_key(name: str) -> str:
    """``topics.NAME`` as config.toml writes it, quoted when NAME is not a bare key ('topics.""', 'topics."a;b"')."""
    return f"topics.{name if re.fullmatch(r'[A-Za-z0-9_-]+', name) else json.dumps(name, ensure_ascii=False)}"


def _topic_name_problem(name: str) -> str:
    """Why ``name`` cannot name a topic ('' when it can). A name is free text (spaces, hyphens,
    capitals, 'bupré') but for what would break where it is shown or matched: the digest's section
    of papers without a topic is keyed '', the CSV export joins scores as "name=score; ...", the
    web view and search drop the spaces around a topic they are given, and 'oih' is relevance."""
    if not name.strip():
        return (f"{name!r} is an empty topic name, which the digest keeps for its 'Other OIH research' section; "
                "name the topic, e.g. [topics.naloxone]")
    if name != name.strip():
        return f"{name!r} begins or ends with a space, which search and the web view drop from a topic they are given; remove it"
    if said := _control_character(name):
        return f"{name!r} holds {said}; a topic name is one line of text"
    if separator := next((char for char in ";=" if char in name), ""):
        return (f"{name!r} holds {separator!r}, which separates the topics' scores in the CSV export "
                "(\"name=score; ...\"); rename the topic")
    if name.casefold() == RELEVANCE:
        return f"the name {name!r} is reserved for OIH relevance; rename the topic"
    return ""


def _topic_names_problem(names: list[str]) -> tuple[str, str] | None:
    """The key and problem of the first topic name that cannot be (``_topic_name_problem``, or another's
    name in other letter case: topic names are matched ignoring case), or None when all can."""
    seen: dict[str, str] = {}
    for name in names:
        if problem := _topic_name_problem(name):
            return _topic_key(name), problem
        if name.casefold() in seen:
            return _topic_key(name), (f"{name!r} and {seen[name.casefold()]!r} differ only in letter case, and topic "
                                      "names are matched ignoring case (search, label, recipients, the web view); rename one")
        seen[name.casefold()] = name
    return None


def _where(key: str, origin: Mapping[str, str], path: Path | None) -> str:
    """'$VARIABLE' when ``origin`` says a variable set ``key``, else the file's path."""
    return f"${origin[key]}" if key in origin else str(path)


def _reject_repeats(names: list[str], what: str, why: str) -> None:
    """A ValueError naming the first name given twice, letter case aside (ALL@example.org is all@example.org)."""
    seen: dict[str, str] = {}
    for name in names:
        if name.casefold() in seen:
            again = "" if name == seen[name.casefold()] else f" (also as {seen[name.casefold()]!r})"
            raise ValueError(f"{what} {name!r} is given twice{again}; {why}")
        seen[name.casefold()] = name


SECTIONS: dict[str, type[Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
}


def default_config_text(email: str = "") -> str:
    """The commented default config.toml shipped with the package (written by ``oihwatch init``), with ``email`` filled in."""
    text = resources.files("oihwatch").joinpath("default_config.toml").read_text(encoding="utf-8")
    return text.replace('email = ""', f"email = {json.dumps(email)}", 1) if email else text


def require_ncbi_email(settings: Settings) -> str:
    """The contact address NCBI asks of every client: only talking to NCBI needs it, so a researcher
    who searches the corpus, or an operator fixing the config, can do without."""
    if not settings.ncbi.email:
        where = settings.where("ncbi.email")
        fix = ("set an address there, or unset it to use the file's" if where.startswith("$")
               else "set it there (or in $OIHWATCH_NCBI_EMAIL)")
        raise ConfigError(f"ncbi.email in {where}: required to harvest, since NCBI asks every client for a contact address; {fix}")
    return settings.ncbi.email


def mail_problem(settings: Settings, login: bool = True) -> str:
    """Why the digest cannot be e-mailed as configured ('' when it can, or when nothing goes by SMTP:
    no smtp.host or no [[recipients]]). The commands that may send check it when they start, and
    ``status`` shows it, rather than the digest step failing on the day it is due. ``login``: the
    password counts too (not for .eml copies, which need only the From: address)."""
    smtp = settings.smtp
    if not (smtp.host and settings.recipients):
        return ""
    if not smtp.sender:
        return (f"smtp.sender in {settings.where('smtp.sender')}: required to e-mail the digest (the From: address); "
                'set it, e.g. sender = "OIH Watch <digest@example.org>"')
    if not (login and smtp.username):
        return ""
    if problem := login_problem(smtp.username, ""):  # the user name first: status sees it without the password
        return problem
    if smtp.password is None:
        return (f"smtp.username in {settings.where('smtp.username')} asks for a login, but $OIHWATCH_SMTP_PASSWORD is not "
                "set in this environment; set it where oihwatch runs (the crontab, the service's EnvironmentFile, the "
                "shell of a command by hand), or empty smtp.username for a server without login")
    return login_problem(smtp.username, smtp.password.get_secret_value())


def require_mail(settings: Settings, login: bool = True) -> None:
    """Raise ``mail_problem`` as a ConfigError, if there is one."""
    if problem := mail_problem(settings, login):
        raise ConfigError(problem)


def named_as(given: str, names: Iterable[str]) -> str:
    """``given`` as one of ``names`` spells it, whatever its letter case and surrounding spaces ('Ketamine',
    'RCT'); unchanged when it is none of them, so an error names it as typed. Of names differing only in
    case, the last given wins: list the configured topics after others (names only stored tags still
    carry), and a topic's name in the config is the one meant."""
    if given in names:
        return given
    return {name.casefold(): name for name in names}.get(given.strip().casefold(), given)


def configured_topic(given: str, topics: Mapping[str, Topic]) -> str | None:
    """The topic (or 'oih') ``given`` names: a configured topic's name or its label, in any letter case, as
    label, search and the web view's topic filters take them (a name wins over another topic's label);
    None when it names none."""
    name = named_as(given, [RELEVANCE, *topics])
    if name == RELEVANCE or name in topics:
        return name
    return {topic.label.strip().casefold(): name for name, topic in topics.items()}.get(given.strip().casefold())


def config_path(flag: str | None, environ: Mapping[str, str]) -> Path:
    """-c, else $OIHWATCH_CONFIG, else ./config.toml."""
    return Path(flag or environ.get("OIHWATCH_CONFIG") or DEFAULT_CONFIG_NAME)


def missing_config_message(path: Path) -> str:
    """What to do when there is no file at ``path``: the init that writes that very file. A path given
    with -c or $OIHWATCH_CONFIG is named in it, or plain 'oihwatch init' would write ./config.toml and
    the next command given the path would fail again."""
    if path == Path(DEFAULT_CONFIG_NAME):
        return f"no configuration at {path}: run 'oihwatch init --email YOU@EXAMPLE.ORG' or pass -c FILE"
    return (f"no configuration at {path}: run 'oihwatch -c {shlex.quote(str(path))} init --email YOU@EXAMPLE.ORG' "
            "to write it, or check the path")


def load_settings(path: Path, environ: Mapping[str, str] | None = None, today: date | None = None) -> Settings:
    """Read, merge and validate the configuration; every problem is one ConfigError line."""
    environ = os.environ if environ is None else environ
    if not path.exists():
        raise ConfigError(missing_config_message(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return settings_from_mapping(data, path, environ, today)


def settings_from_mapping(
    data: dict, path: Path, environ: Mapping[str, str], today: date | None = None
) -> Settings:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    origin: dict[str, str] = {}  # "section.key" -> the environment variable it came from
    for name, value in environ.items():
        if not name.startswith("OIHWATCH_") or name in RESERVED_ENV or value == "":  # empty: unset
            continue
        section, _, key = name[len("OIHWATCH_"):].lower().partition("_")
        if section not in SECTIONS or key not in SECTIONS[section].model_fields:
            raise ConfigError(f"unknown setting in environment variable {name} (expected OIHWATCH_<SECTION>_<KEY>)")
        origin[f"{section}.{key}"] = name
    for env_name, (section, key) in SECRET_ENV.items():
        if f"{section}.{key}" in origin:  # OIHWATCH_NCBI_API_KEY: the setting's name, not the secret's variable
            raise ConfigError(f"{section}.{key} in ${origin[f'{section}.{key}']}: the secret is read from ${env_name}; set that instead")
        if isinstance(data.get(section), dict) and key in data[section]:
            raise ConfigError(f"{section}.{key} in {path}: secrets are not read from files; set ${env_name} instead")
        if environ.get(env_name):
            origin[f"{section}.{key}"] = env_name
    if "ncbi.api_key" in origin and (problem := api_key_problem(environ["NCBI_API_KEY"])):
        raise ConfigError(f"ncbi.api_key in $NCBI_API_KEY: {problem}")  # checked here, so no exception ever holds the key

    def error(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{key} in {_where(key, origin, path)}: {problem}")

    for key, name in origin.items():  # a variable is a string: converted by its setting's type (lax), the file is not
        section, field = key.split(".")
        if not isinstance(data.setdefault(section, {}), dict):
            continue  # `ncbi = 5` in the file: its own error below, named after the file
        try:
            data[section][field] = getattr(SECTIONS[section].model_validate({field: environ[name]}), field)
        except ValidationError as exc:
            raise error(key, _problem(exc.errors()[0])) from None
    if isinstance(data.get("topics"), dict) and (bad_name := _topic_names_problem(list(data["topics"]))):
        raise error(*bad_name)  # before the topics' rules, whose errors are keyed by the name
    try:
        settings = Settings.model_validate(data, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise error(".".join(str(part) for part in first["loc"]), _problem(first)) from None
    if settings.harvest.start > (today or date.today()):
        raise error("harvest.start", f"{settings.harvest.start} is after today; PubMed has no records created then (use a past date)")
    bad_topics = {t for r in settings.recipients for t in r.topics if named_as(t, settings.topics) not in settings.topics}
    if bad_topics:
        raise error("recipients.topics", f"unknown topic {sorted(bad_topics)[0]!r}")
    for recipient in settings.recipients:  # as configured, in any letter case, as search, label and the web view take a topic
        recipient.topics = list(dict.fromkeys(named_as(t, settings.topics) for t in recipient.topics))
    smtp = settings.smtp
    if smtp.host and smtp.security == "none" and smtp.username and not is_loopback(smtp.host):  # a user name means a login
        blamed = next((k for k in ("smtp.security", "smtp.host", "smtp.username") if k in origin), "smtp.security")
        raise error(blamed, f"security 'none' would send the SMTP password unencrypted to {smtp.host!r}; "
                    "use starttls or ssl (a login without encryption is allowed only to a relay on this machine)")
    late = digest_job_late(settings.digest, settings.schedule)
    if late:  # blame the setting that came from the environment, if one did
        raise error(next((k for k in ("schedule.digest", "digest.time", "digest.weekday") if k in origin), "schedule.digest"), late)
    settings.source = path.absolute()  # not resolve(): a symlinked config.toml keeps its own folder
    settings._origin = origin
    return settings


def api_key_problem(key: str) -> str:
    """Why ``key`` cannot be an NCBI API key ('' when it can), without quoting any of it.

    NCBI's keys are letters and digits; a '-' passes too (a URL carries it as it is). Anything else is a
    mistake that would go to NCBI with every request, most often a comment: cron keeps
    ``NCBI_API_KEY=abc  # optional`` whole, and an env file may keep quotes."""
    if "#" in key:
        return ("holds a '#' comment, which cron keeps as part of the value; put the comment on a line of its own "
                "(an NCBI API key is letters and digits only)")
    if any(char.isspace() for char in key):
        return "holds a space or line break; an NCBI API key is letters and digits only, so set the key alone"
    if not re.fullmatch(r"[A-Za-z0-9-]+", key):
        return ("holds a character other than A-Z, a-z and 0-9 (a quote mark?); an NCBI API key is letters and "
                "digits only, so set the key alone, as your NCBI account settings show it")
    return ""


def _is_iso_date(text: str) -> bool:
    """YYYY-MM-DD, as TOML writes a date (``date.fromisoformat`` also takes 20200101, which TOML does not)."""
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and bool(date.fromisoformat(text))
    except ValueError:
        return False


def _problem(error: ErrorDetails) -> str:
    """pydantic's message in our words; a wrong type shows the value as TOML writes it ('"3"' is a string)."""
    message = error["msg"].replace("Extra inputs are not permitted", "unknown setting").removeprefix("Value error, ")
    if error["type"].endswith("_type"):
        value = error["input"]
        message += f", not {value.isoformat() if isinstance(value, date | time) else json.dumps(value, ensure_ascii=False, default=str)}"
        if error["type"] == "date_type" and isinstance(value, str) and _is_iso_date(value):  # TOML has dates of its own
            message += f" (write it without quotes: {value})"
    return message


def digest_job_late(digest: DigestSettings, schedule: ScheduleSettings) -> str:
    """Why the digest job would send digests late ('' when it would not): one that first fires days
    after the digest is due (07:00 for a digest due at 09:00) sends each nearly a week late."""
    trigger = cron_trigger(schedule.digest, schedule.timezone)
    for week in range(5):  # fixed weeks, so the check does not depend on the day it runs
        due = latest_due(digest.weekday, digest.time, schedule.timezone, SOME_MONDAY + timedelta(weeks=week))
        fire = trigger.get_next_fire_time(None, due)
        if fire is None or fire - due >= timedelta(days=6):
            hour, minute = digest.time.split(":")
            return (f"the digest job '{schedule.digest}' first fires {'never' if fire is None else f'{(fire - due).days} days'} "
                    f"after the digest is due ({digest.weekday} {digest.time}: digest.weekday and digest.time), so digests "
                    f"would go out late; fire at or soon after it, e.g. schedule.digest = '{int(minute)} {int(hour)} * * {digest.weekday}'")
    return ""


def is_loopback(host: str) -> bool:
    """'localhost' or a loopback address (127.0.0.0/8, ::1): the only hosts a password may reach unencrypted."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def describe_settings(settings: Settings) -> list[tuple[str, object, str]]:
    """(key, value, description) rows for ``config show``; values as JSON types (None when unset), secrets masked."""
    rows: list[tuple[str, object, str]] = []
    for section, model in SECTIONS.items():
        values = getattr(settings, section).model_dump(mode="json")  # pydantic masks SecretStr as '**********'
        rows.extend((f"{section}.{key}", values[key], field.description or "") for key, field in model.model_fields.items())
    for query in settings.queries:
        rows.append((f"queries.{query.name}", query.term, "PubMed search term"))
    for name, topic in settings.topics.items():
        rows.append((f"topics.{name}", topic.label, topic.description))
    for recipient in settings.recipients:
        rows.append(("recipients", recipient.email, ", ".join(recipient.topics) or "all topics"))
    return rows
