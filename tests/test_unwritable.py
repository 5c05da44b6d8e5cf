"""Corpus files this user may not write, in a folder it can write (what one 'sudo oihwatch run'
leaves behind): one line naming each file, its owner when that is someone else, and the fix.

The command runs for real in another process. Root writes any file whatever its owner and mode,
so under root it runs as another user (setpriv); a normal user cannot give a file away, so there
only the files it owns and made read-only are tried.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from corpus.store import Store
from oihwatch.lock import lock_path, write_lock
from test_store import article

ROOT = os.geteuid() == 0
OTHER_UID = 65534  # 'nobody' on most systems: the uid the command runs as under root
RUNNER_UID = OTHER_UID if ROOT else os.geteuid()


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


RUNNER = user_name(RUNNER_UID)
OWNER = user_name(os.geteuid())  # who owns what this test process creates


def oihwatch(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI, run in its own process as the runner (under root: another user)."""
    as_runner = ["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups"] if ROOT else []
    return subprocess.run(
        [*as_runner, sys.executable, "-c", "from oihwatch.cli import main; main()", *args],
        capture_output=True, text=True, cwd=folder, timeout=120,
        env={**os.environ, "HOME": str(folder), "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.fixture(scope="module")
def runnable() -> None:
    """Skip where the runner cannot run this oihwatch at all (under root: no setpriv, or a checkout
    other users cannot read)."""
    if ROOT and not shutil.which("setpriv"):
        pytest.skip("under root the command must run as another user, and setpriv (util-linux) is missing")
    try:
        probe = oihwatch(Path(tempfile.gettempdir()), "--version")
    except OSError as exc:
        pytest.skip(f"{RUNNER} cannot start {sys.executable}: {exc}")
    if probe.returncode:
        pytest.skip(f"{RUNNER} cannot run this oihwatch: {probe.stderr.strip()}")


def label(folder: Path) -> subprocess.CompletedProcess:
    """A command that writes to the corpus, and nothing else (no network)."""
    return oihwatch(folder, "-c", str(folder / "config.toml"), "label", "1", "oih")


@pytest.fixture
def corpus(runnable):
    """A corpus folder the runner owns: config, database with one record, its lock file. Made in a
    fresh folder of the system's temporary folder, which another user can reach (pytest's is private)."""
    folder = Path(tempfile.mkdtemp(prefix="oihwatch-unwritable-"))
    try:
        folder.chmod(0o755)
        database = folder / "oihwatch.db"
        (folder / "config.toml").write_text(f'[database]\npath = "{database}"\n[ncbi]\nemail = "t@example.org"\n',
                                            encoding="utf-8")
        with Store(database) as store:
            store.upsert_articles([article("1")])
        with write_lock(lock_path(database), "ingest"):
            pass
        for path in folder.iterdir():
            os.chown(path, RUNNER_UID, -1)
        os.chown(folder, RUNNER_UID, -1)
        yield folder
    finally:
        shutil.rmtree(folder)


def only_root(reason: str):
    return pytest.mark.skipif(not ROOT, reason=f"{reason}; only root can give a file to another user")


@only_root("a lock file or a database of root's")
@pytest.mark.parametrize("name, failed", [("oihwatch.db.lock", "cannot open the lock file {path}: Permission denied"),
                                          ("oihwatch.db", "cannot write to {path}: attempt to write a readonly database")])
def test_a_file_of_another_user_is_named_with_its_owner_and_the_chown(corpus, name, failed):
    path = corpus / name
    os.chown(path, 0, -1)
    result = label(corpus)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {failed.format(path=path)}; {name} belongs to {OWNER}, "
        f"not to {RUNNER}, the user running oihwatch; chown it: sudo chown {RUNNER} {path}\n"
    )


@only_root("a lock file and a database of root's")
def test_every_file_of_another_user_is_named_at_once(corpus):
    for name in ("oihwatch.db", "oihwatch.db.lock"):
        os.chown(corpus / name, 0, -1)
    result = label(corpus)
    assert result.returncode == 1
    assert result.stderr.endswith(
        f"; oihwatch.db and oihwatch.db.lock belong to {OWNER}, not to {RUNNER}, the user running oihwatch; "
        f"chown them: sudo chown {RUNNER} {corpus / 'oihwatch.db'} {corpus / 'oihwatch.db.lock'}\n"
    )


def test_a_read_only_lock_file_of_this_user_is_named_with_the_chmod(corpus):
    lock = corpus / "oihwatch.db.lock"
    lock.chmod(0o444)
    result = label(corpus)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: cannot open the lock file {lock}: Permission denied; oihwatch.db.lock is read-only; chmod u+w {lock}\n"
    )


def test_a_read_only_database_of_this_user_is_named_with_the_chmod(corpus):
    database = corpus / "oihwatch.db"
    database.chmod(0o444)
    result = label(corpus)
    assert result.returncode == 1
    # SQLite gives the -wal and -shm files it makes for reading the database's mode: they are named too.
    assert result.stderr.startswith(f"Error: cannot write to {database}: attempt to write a readonly database; oihwatch.db")
    assert result.stderr.count("\n") == 1
    assert str(database) in result.stderr.split(" read-only; chmod u+w ")[1].split()


@only_root("a folder of root's")
def test_a_folder_of_another_user_is_named_with_its_owner(corpus):
    os.chown(corpus, 0, -1)
    os.chown(corpus / "oihwatch.db.lock", 0, -1)
    result = label(corpus)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: cannot open the lock file {corpus / 'oihwatch.db.lock'}: Permission denied; the folder {corpus} belongs "
        f"to {OWNER}, not to {RUNNER}, the user running oihwatch; commands that write need a writable folder for the corpus database "
        "(database.path); oihwatch.db.lock belongs to"
    )
