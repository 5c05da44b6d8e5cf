"""Datasette over the snapshot: settings that keep it read-only, the snapshot's files, and the server.

The snapshot is opened as an *immutable* database, so no request can change it; the
settings below keep SQL time-limited (``metadata`` says what the view shows besides its rows).
Each serve process has its own snapshot file, deleted when it stops, so a serve starting (after
a harvest, say) never changes what another one serves.
Searches in the page go through the CLI's own query translation (``search_plugin``), so a
query the CLI accepts ("opioid-induced", 5-HT3, title:"...") works in the browser too, and one it
refuses shows the CLI's message; the saved search's topic is checked against the configured ones
(``topic_plugin``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import ipaddress
import os
import re
import signal
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path

from corpus.errors import InputError, StorageError

# Overrides of Datasette's templates (their blocks only): page titles that name the saved query or the paper.
TEMPLATES = Path(__file__).with_name("templates")

SETTINGS = {
    "sql_time_limit_ms": 2000,  # a runaway query from a visitor cannot hog the server
    # Datasette's topics (array) facet copies every row, abstracts included: 460 ms at 100,000 records,
    # over the default 200 ms from about 45,000, when every articles page said "These facets timed out".
    "facet_time_limit_ms": 2000,
    "default_page_size": 50,
    "suggest_facets": False,  # suggestions cost a query per column on every page
    "allow_download": True,  # the snapshot holds nothing private; researchers may take it
    # No limit on a CSV: every row of 100,000 records is about 190 MB (1.9 KB a row with its abstract), and
    # Datasette's default of 100 MB cut it from about 55,000, its last line a notice that read as a record.
    "max_csv_mb": 0,
}

# The snapshot locks this process holds: their descriptors stay open until it ends (a second lock
# of one would wait for the first).
_held: set[Path] = set()


def snapshot_path(database: Path) -> Path:
    """This process's snapshot of ``database``: beside it, ``NAME-web.PID.db``.

    Each serve writes and serves its own, so one starting never replaces what another serves.
    Its lock, ``NAME-web.PID.lock``, is taken here and held while this process runs (the system
    lets it go however the process ends): a snapshot whose lock can be taken is stale.
    """
    snapshot = database.with_name(f"{database.stem}-web.{os.getpid()}.db")
    lock = snapshot.with_suffix(".lock")
    try:
        while lock not in _held:  # None: a serve removing a stale lock of this PID deleted it meanwhile
            if _lock(lock, wait=True) is not None:
                _held.add(lock)
    except OSError as exc:
        raise StorageError(f"cannot lock the web view's snapshot in {lock.parent}: {exc.strerror}; serve writes it "
                           "beside the database, so that folder must be writable") from None
    return snapshot


def _lock(path: Path, wait: bool) -> int | None:
    """A descriptor of ``path`` (created if need be) holding its exclusive lock, or None: another
    holds it (unless ``wait``), or ``path`` was deleted before the lock was had, which then guards nothing."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _discard(snapshot: Path) -> None:
    """Delete this process's ``snapshot``, whole or half-written, then its lock file (the lock itself goes
    with the process)."""
    for written in (snapshot, snapshot.with_name(snapshot.name + ".part"), snapshot.with_name(snapshot.name + ".part-journal")):
        written.unlink(missing_ok=True)
    snapshot.with_suffix(".lock").unlink(missing_ok=True)


def view_name(snapshot: Path) -> str:
    """The snapshot's name in the view's URLs, ``NAME-web`` without the PID: links outlive a restart."""
    return re.sub(r"\.\d+$", "", snapshot.stem)


def remove_stale_snapshots(snapshot: Path) -> None:
    """Delete the snapshots beside ``snapshot``, whole or half-written, of serve processes that are gone.

    A serve deletes its own when it stops; one killed outright (SIGKILL, a crash) cannot. Its lock
    tells, not its PID: the system gives that to other processes in time.
    """
    name = view_name(snapshot)
    family = re.compile(re.escape(name) + r"\.(\d+)\.(db(\.part)?(-journal)?|lock)")
    files: dict[str, list[Path]] = {}
    for path in snapshot.parent.iterdir():
        if match := family.fullmatch(path.name):
            files.setdefault(match[1], []).append(path)
    for pid, paths in files.items():
        lock = snapshot.with_name(f"{name}.{pid}.lock")
        with contextlib.suppress(OSError):  # not ours to lock or delete (another user's)
            fd = _lock(lock, wait=False)
            if fd is None:  # its serve runs
                continue
            try:
                for path in paths:
                    if path != lock:
                        path.unlink(missing_ok=True)
                lock.unlink()  # the last: a serve that has this PID now cannot write before it is gone
            finally:
                os.close(fd)


# The signals that stop a serve besides Ctrl-C: kill and systemctl stop (SIGTERM), and the terminal or SSH
# session it runs in closing (SIGHUP).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """A stop signal, raised where serve is so that it unwinds and deletes its snapshot (``own_snapshot``);
    not an ``Exception``, which code on the way might catch."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def own_snapshot(database: Path) -> Iterator[Path]:
    """This process's snapshot of ``database`` (``snapshot_path``), those of serves gone deleted first.

    It and its lock file are deleted however serve ends: an error while it is written (a full disk),
    Ctrl-C, SIGTERM or SIGHUP, after which the process ends by that signal, as a service manager
    expects (systemd counts either as a clean stop). Only SIGKILL or a crash leaves them, for the next
    serve to delete.
    """
    previous = {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}
    stopped_by = None
    try:
        snapshot = snapshot_path(database)
        try:
            remove_stale_snapshots(snapshot)  # before the build: a disk that holds only one more needs their room
            yield snapshot
        finally:
            _discard(snapshot)
    except Stopped as stop:
        stopped_by = stop.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopped_by is not None:
        signal.raise_signal(stopped_by)


def make_datasette(snapshot: Path, topics: Mapping[str, str]):
    """A Datasette serving ``snapshot`` immutable (no writes possible); ``topics``: the configured topics' labels by name."""
    from datasette.app import Datasette  # first: it registers the default plugins

    from datasette import handle_exception
    from datasette.plugins import pm

    from oihwatch.web import cells_plugin, downloads_plugin, retracted_plugin, search_plugin, sort_plugin, topic_plugin
    from oihwatch.web.metadata import metadata, snapshot_taken

    # Datasette 0.65 prints every error page's exception with rich, and rich >= 14 raises
    # when that happens outside an ``except`` block: each 404 or 400 then drops the
    # connection instead of answering. Errors still reach the page and the log without it.
    handle_exception.rich = None
    plugins = ((search_plugin, "oihwatch-search"), (topic_plugin, topic_plugin.NAME), (retracted_plugin, "oihwatch-retracted"),
               (cells_plugin, "oihwatch-cells"), (downloads_plugin, "oihwatch-downloads"), (sort_plugin, "oihwatch-sort"))
    for plugin, plugin_name in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin, name=plugin_name)
    name = view_name(snapshot)
    datasette = Datasette(immutables=[str(snapshot)], metadata=metadata(name, topics, snapshot_taken(snapshot)), settings=SETTINGS,
                          template_dir=str(TEMPLATES))
    # Datasette names a database after its file; the view's name leaves out the PID.
    database = datasette.databases[snapshot.stem]
    datasette.remove_database(snapshot.stem)
    datasette.add_database(database, name=name)
    return datasette


def require_web_extra() -> None:
    """Raise ``InputError`` when Datasette or uvicorn is missing, before a port or a snapshot is taken:
    they come with the optional [web] extra, and a bare ImportError would be a traceback."""
    missing = [name for name in ("datasette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"serve needs the [web] extra ({' and '.join(missing)} not installed): in oihwatch's venv, "
                         "pip install -e '.[web]' from its folder (docs/sharing.md)")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on ``host``:``port`` (0: any free port), before anything else is done.

    Raises ``InputError`` when the port is taken or the address is not this machine's.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except socket.gaierror:
        raise InputError(f"cannot listen on {host!r}: no such host; use an address of this machine, e.g. 127.0.0.1") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is in use; stop what uses it or choose another with --port") from None
        # The system's words: create_server adds "(while attempting to bind on address ('10.0.0.9', 8001))" to strerror.
        reason = os.strerror(exc.errno) if exc.errno else exc.strerror
        raise InputError(f"cannot listen on port {port} of {host}: {reason}; choose another --host or --port") from None


# For these, every address of the machine: no address a browser can open; its own loopback one is.
EVERY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def served_at(host: str, port: int) -> str:
    """Where a server listening on ``host``:``port`` is opened, as a URL (for every address of the
    machine, the loopback one and the others' port)."""
    if host in EVERY_ADDRESS:
        return f"{_url(EVERY_ADDRESS[host], port)} and port {port} of every other address of this machine"
    return _url(host, port)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def open_to_others(host: str, port: int) -> str | None:
    """A note that other machines can read the view, when ``host`` is not a loopback address: Datasette has no
    login and no TLS (docs/sharing.md); None on loopback."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host.split("%")[0]).is_loopback:
            return None
    return (f"note: the web view has no login and no TLS: whoever reaches port {port} of this machine can read it; "
            "put a proxy with TLS (and a login if need be) in front, or serve on 127.0.0.1 (docs/sharing.md)")


def run_server(snapshot: Path, sock: socket.socket, topics: Mapping[str, str]) -> None:
    """Serve ``snapshot`` on the listening ``sock`` until stopped: Ctrl-C, SIGTERM or SIGHUP, each raised
    again once the server has stopped (``own_snapshot`` deletes the snapshot then)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(make_datasette(snapshot, topics).app(), log_level="warning"))
    hung_up = []

    def hang_up(signum: int, frame) -> None:
        # uvicorn stops gracefully on SIGINT and SIGTERM, then raises them again; a SIGHUP does the same here.
        hung_up.append(signum)
        server.should_exit = True

    previous = signal.signal(signal.SIGHUP, hang_up)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGHUP, previous)
    if hung_up:
        signal.raise_signal(signal.SIGHUP)
