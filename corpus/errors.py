"""The one error tree of oihwatch.

Anything a user can cause (bad config, bad file, unreachable server) is an
``OihwatchError`` whose message says what failed and what to do next; the CLI
turns it into one ``Error: …`` line and exit status 1 in one place.

    OihwatchError
    ├── ConfigError        a setting is missing, unknown or of the wrong type
    ├── InputError         a file or query the user gave cannot be read
    ├── StorageError       the SQLite store cannot be opened or written
    │   └── NotACorpus     database.path names another program's SQLite file
    ├── HarvestError       NCBI E-utilities failed beyond the retry budget
    ├── ClassifierError    no model, too few labels, incompatible model file
    ├── DeliveryError      SMTP refused or unreachable, outbox not writable
    └── LockError          another oihwatch process holds the write lock

``unwritable`` words the most common storage error an operator meets: corpus files
this user may not write; ``no_room`` a write refused for want of room.
"""

from __future__ import annotations

import errno
import os
import pwd
import resource
import stat
from pathlib import Path

# The files beside a corpus database: SQLite's write-ahead log and shared memory (WAL mode), and
# the write lock every oihwatch writer takes (oihwatch.lock.lock_path).
SIBLINGS = ("-wal", "-shm", ".lock")

WRITABLE_FOLDER = "commands that write need a writable folder for the corpus database (database.path)"


class OihwatchError(Exception):
    """Base of every error a user can cause or fix."""


class ConfigError(OihwatchError):
    """A configuration value is missing, unknown or invalid."""


class InputError(OihwatchError):
    """An input file, record or query cannot be read."""


class StorageError(OihwatchError):
    """The corpus database cannot be opened, migrated or written."""


class NotACorpus(StorageError):
    """database.path names another program's SQLite file, which is left exactly as it was."""


class HarvestError(OihwatchError):
    """Harvesting from NCBI failed; nothing was counted as 'no new records'."""


class ClassifierError(OihwatchError):
    """Training or classification cannot proceed."""


class DeliveryError(OihwatchError):
    """A digest could not be delivered."""


class LockError(OihwatchError):
    """Another oihwatch process is writing to the same corpus."""


def unwritable(database: Path) -> str | None:
    """Which of the corpus folder and files at ``database`` this user may not write, who owns them
    and what fixes it. One ``sudo oihwatch run`` leaves root's files in the service user's folder,
    and what the system says then ('Permission denied', 'attempt to write a readonly database')
    names neither the file at fault nor its owner. None if nothing here is at fault, or the file
    system is mounted read-only: no chown or chmod helps there."""
    folder = database.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return None
    except OSError:
        return None
    me, user = os.geteuid(), _user(os.geteuid())
    clauses = []
    if (owner := _blocking_owner(folder)) is not None:
        whose = "is read-only" if owner == me else f"belongs to {_user(owner)}, not to {user}, the user running oihwatch"
        clauses.append(f"the folder {folder} {whose}; {WRITABLE_FOLDER}")
    owners = {path: _blocking_owner(path) for path in [database, *(database.with_name(database.name + s) for s in SIBLINGS)]}
    if theirs := [path for path, owner in owners.items() if owner not in (None, me)]:
        whom = " and ".join(sorted({_user(owners[path]) for path in theirs}))
        clauses.append(f"{_names(theirs)} {_agree(theirs, 'belongs', 'belong')} to {whom}, not to {user}, the user running "
                       f"oihwatch; chown {_agree(theirs, 'it', 'them')}: sudo chown {user} {' '.join(map(str, theirs))}")
    if mine := [path for path, owner in owners.items() if owner == me]:
        clauses.append(f"{_names(mine)} {_agree(mine, 'is', 'are')} read-only; chmod u+w {' '.join(map(str, mine))}")
    return "; ".join(clauses) or None


def no_room(code: int | None, name: str = "the file") -> str | None:
    """What to say, and do, when writing the file ``name`` failed with errno ``code`` for want of room: a
    full disk or quota, or this process's file-size limit, where picking another folder or fixing
    permissions would not help. None for any other error."""
    if code == errno.ENOSPC:
        return "the disk is full; free space and run it again"
    if code == errno.EDQUOT:
        return "the disk quota is used up; free space and run it again"
    if code == errno.EFBIG and (limit := file_size_limit()) is not None:
        return f"{name} reached this process's file-size limit ({limit:,} bytes: ulimit -f); raise it and run it again"
    return None


def file_size_limit() -> int | None:
    """The most bytes this process may write to one file (``ulimit -f``); None if unlimited. Past it a
    write fails with EFBIG: Python ignores the SIGXFSZ that would otherwise end the process."""
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _blocking_owner(path: Path) -> int | None:
    """The uid owning ``path`` if this user may not write it for want of ownership or of its owner's
    write permission; None if it may, or ``path`` is not there."""
    try:
        info = path.stat()
    except OSError:
        return None
    if os.access(path, os.W_OK) or (info.st_uid == os.geteuid() and info.st_mode & stat.S_IWUSR):
        return None
    return info.st_uid


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no name (a container's)
        return str(uid)


def _names(paths: list[Path]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = [p.name for p in paths]
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


def _agree(paths: list[Path], one: str, more: str) -> str:
    return one if len(paths) == 1 else more
