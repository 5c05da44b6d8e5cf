"""A message the server accepted, noted beside the corpus for as long as the corpus cannot record it.

A recipient is marked delivered in the corpus once the server accepted the message (``reports.sending``).
Should that write fail (a full disk, another program holding the database), the recipient would stay
pending and the next send would deliver the digest again. So, before each message goes out, a note
naming it is written to ``<database>.sending`` while there is room, and once the server accepted it, the
note's first byte is overwritten in place: overwriting a block already written needs no free space (ext4,
XFS, tmpfs; a copy-on-write file system such as btrfs may still refuse it, and the sender then says the
message goes again). The next send records what the note says before anything else, and removes it.

A note still marked 'sending' is one whose process stopped before the server's answer (killed): the
server may or may not have the message, so it is sent again, as documented, with the same Message-ID.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from corpus.ledger import Delivery, deliveries, mark_delivered
from corpus.store import Store

SENDING, ACCEPTED = "S", "A"


@dataclass(frozen=True)
class Note:
    """One message on its way: the delivery it is, and what the delivery becomes once accepted."""

    path: Path
    digest_id: int
    recipient: str
    message_id: str
    status: str  # 'sent' or 'written'

    def accepted(self) -> bool:
        """Say in the note that the server accepted the message; False if even that could not be written."""
        try:
            handle = os.open(self.path, os.O_WRONLY)
        except OSError:
            return False
        try:
            return os.pwrite(handle, ACCEPTED.encode(), 0) == 1
        except OSError:
            return False
        finally:
            os.close(handle)

    def forget(self) -> None:
        """The corpus has recorded the delivery: the note says nothing more. One left behind is harmless
        (``unrecorded`` finds the delivery done), so a failure to remove it is no error."""
        with contextlib.suppress(OSError):
            self.path.unlink()


def note_path(store: Store) -> Path | None:
    """``<database>.sending``, beside the corpus; None for a corpus in memory."""
    return None if store.path == ":memory:" else Path(store.path + ".sending")


def note_sending(store: Store, delivery: Delivery, status: str) -> Note | None:
    """Note ``delivery`` as on its way, before its message goes out; None if the note cannot be written
    (the disk is full already): the message still goes, as the corpus may well record it."""
    path = note_path(store)
    if path is None:
        return None
    note = Note(path, delivery.digest_id, delivery.recipient, delivery.message_id, status)
    line = "\t".join((SENDING, str(note.digest_id), note.status, note.message_id, note.recipient)) + "\n"
    try:
        path.write_text(line, encoding="utf-8")
    except OSError:
        note.forget()
        return None
    return note


def accepted_note(store: Store) -> Note | None:
    """The note of a message accepted but not recorded, if any; a note cut short or still 'sending' is none."""
    path = note_path(store)
    try:
        fields = path.read_text(encoding="utf-8").rstrip("\n").split("\t") if path is not None else []
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 5 or fields[0] != ACCEPTED or not fields[1].isdigit():
        return None
    return Note(path, int(fields[1]), fields[4], fields[3], fields[2])


def unrecorded(store: Store) -> Note | None:
    """The note of a message accepted that its delivery, still pending, does not show yet (None if none):
    the Message-ID must match, so a note left beside a corpus restored from a backup marks nothing else."""
    note = accepted_note(store)
    if note is None:
        return None
    pending = {(d.recipient, d.message_id) for d in deliveries(store, note.digest_id) if not d.done}
    return note if (note.recipient, note.message_id) in pending else None


def record_noted(store: Store) -> None:
    """Mark delivered the message a note says was accepted, and remove the note: before a send lists
    what is pending, so that message is not sent again. A StorageError leaves the note for the next try."""
    path = note_path(store)
    if path is None or not path.exists():
        return
    note = unrecorded(store)
    if note is not None:
        mark_delivered(store, note.digest_id, note.recipient, note.status)
    with contextlib.suppress(OSError):
        path.unlink()
