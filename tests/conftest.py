"""Shared fixtures: the real PubMed data folder, a clean environment, and no network beyond loopback."""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


SHARED_DATA = Path(os.environ.get("OIHWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
MISSING = f"real PubMed data not found at {SHARED_DATA}"

# Datasette 0.65 leaves SQLite connections of its own to the garbage collector: utils.detect_json1() opens
# one for every table page and one as datasette.filters is imported, utils.sqlite.sqlite_version() another.
# Python 3.13 warns of each as it is freed (a ResourceWarning, an error here). They are Datasette's, not
# ours: a test that serves the web view in this process ignores that warning, and only that one, and uses
# datasette_garbage to have them freed while it does. The connections those tests open are closed all the same.
DATASETTE_UNCLOSED = pytest.mark.filterwarnings(r"ignore:unclosed database in <sqlite3\.Connection object:ResourceWarning")


@pytest.fixture
def datasette_garbage():
    """Frees what the test left, before its warning filters are lifted: an SQLite connection is freed by the
    garbage collector only (it is in a reference cycle with its statement cache), which may run in a later test
    or as the session ends, where no filter spares it."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only folder of real PubMed records: $OIHWATCH_SHARED_DATA, else ../shared/data."""
    if not SHARED_DATA.is_dir():
        pytest.skip(MISSING)
    return SHARED_DATA


def pytest_unconfigure(config) -> None:
    """A run without the real data skips most tests and still ends green: say so last, where it is seen."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    skipped = [r for r in (reporter.stats.get("skipped", []) if reporter else []) if MISSING in str(r.longrepr)]
    if skipped:
        reporter.write_line(f"{len(skipped)} tests did not run: {MISSING}; set OIHWATCH_SHARED_DATA to the folder",
                            red=True, bold=True)


def is_loopback(host) -> bool:
    """'localhost', 127.0.0.0/8 or ::1 (None and '' are the local wildcard a server binds to)."""
    host = host.decode() if isinstance(host, bytes) else host
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def loopback_only():
    """Tests reach only the loopback fakes: any other host fails at once, as it would on a machine
    without network, so no test can touch NCBI (whose URLs appear in fixtures as plain text)."""
    real_getaddrinfo, real_connect, real_connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def refuse(sock, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            raise ConnectionRefusedError(f"tests reach loopback only, not {address[0]}")

    def connect(sock, address):
        refuse(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        refuse(sock, address)
        return real_connect_ex(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's OIHWATCH_* settings or NCBI key."""
    for name in list(os.environ):
        if (name.startswith("OIHWATCH_") and name != "OIHWATCH_SHARED_DATA") or name == "NCBI_API_KEY":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def research_store_path(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite corpus of every real record in shared data, with stand-in tags (tests/research_corpus.py)."""
    from research_corpus import build_research_store

    path = tmp_path_factory.mktemp("research") / "corpus.db"
    build_research_store(shared_data, path).close()
    return path


@pytest.fixture
def research_store(research_store_path: Path):
    """The research corpus, opened."""
    from corpus.store import Store

    with Store(research_store_path) as opened:
        yield opened


@pytest.fixture
def store():
    """An empty corpus in memory, closed after the test: Python 3.13 warns of every SQLite connection
    left to the garbage collector, and the warning, an error here, fails whichever test it lands in."""
    from corpus.store import Store

    with Store(":memory:") as opened:
        yield opened


@pytest.fixture
def research_cli(tmp_path: Path, research_store_path: Path):
    """Run an oihwatch command against the research corpus (a config naming it)."""
    from click.testing import CliRunner

    from oihwatch.cli import cli

    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{research_store_path}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    return lambda *args: CliRunner().invoke(cli, ["-c", str(config), *args])


@pytest.fixture
def smtp():
    """A loopback SMTP server (aiosmtpd) that records what it receives."""
    from smtp_server import LoopbackSmtp

    with LoopbackSmtp() as server:
        yield server


@pytest.fixture(scope="session")
def records(shared_data: Path):
    """Every dated real PubMed record, as the fake E-utilities serves them (each fake copies them)."""
    from fake_eutils import load_records

    return load_records(shared_data / "pubmed-xml")


@pytest.fixture
def fake(records):
    """A loopback fake of NCBI E-utilities serving ``records``."""
    from fake_eutils import FakeEutils

    with FakeEutils(records) as server:
        yield server
