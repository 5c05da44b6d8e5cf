"""Files a digest writes (the .eml outbox, the archive, the preview) on a disk that fills up mid-write:
one clear error, the old file whole, and no temporary file left beside it."""

from __future__ import annotations

import errno
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from corpus.errors import DeliveryError
from corpus.ledger import deliveries, find_digest
from digest_support import MONDAY, Clock, filled_store, params
from reports.delivery import OutboxTransport, write_archive_index, write_archive_page, write_preview
from reports.sending import Recipient, send_due_digest


def fill_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on every file write stores half of its bytes, then fails as a full disk does."""
    write_bytes = Path.write_bytes

    def half_then_full(path: Path, data: bytes) -> int:
        write_bytes(path, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(Path, "write_bytes", half_then_full)


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_an_eml_that_fills_the_disk_leaves_no_temporary_file_and_the_recipient_pending(shared_data, tmp_path, monkeypatch):
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=3) as (store, _):
        outbox = tmp_path / "outbox"
        fill_disk(monkeypatch)
        outcome = send_due_digest(store, params(), MONDAY, OutboxTransport(outbox))
        said = (f"cannot write to the outbox {outbox}: No space left on device; free space on its disk, then rerun to "
                "write what is missing")
        assert outcome.failed == {"all@example.org": said}
        assert files_in(outbox) == []  # neither the .eml nor its .all@example.org.eml.tmp
        (delivery,) = deliveries(store, find_digest(store, "2026-W48").id)
        assert delivery.status == "pending" and delivery.error == said
        monkeypatch.undo()  # space freed: the rerun writes it
        assert send_due_digest(store, params(), MONDAY, OutboxTransport(outbox)).delivered == ["all@example.org"]
        assert files_in(outbox) == ["2026-W48/all@example.org.eml"]


def test_the_recipients_after_an_eml_that_fills_the_disk_are_told_the_disk_stopped_them_not_a_connection(
        shared_data, tmp_path, monkeypatch):
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=3) as (store, _):
        outbox = tmp_path / "outbox"
        fill_disk(monkeypatch)
        readers = (Recipient("a@example.org"), Recipient("b@example.org"), Recipient("c@example.org"))
        outcome = send_due_digest(store, params(readers), MONDAY, OutboxTransport(outbox))
        assert outcome.failed == {
            "a@example.org": f"cannot write to the outbox {outbox}: No space left on device; free space on its disk, "
                             "then rerun to write what is missing",
            "b@example.org": f"not attempted after the outbox {outbox} could not be written (No space left on device); "
                             "still pending",
            "c@example.org": f"not attempted after the outbox {outbox} could not be written (No space left on device); "
                             "still pending",
        }


WRITERS = {
    "archive": lambda folder: write_archive_page(folder, "2026-W48", "OIH digest", "<p>new</p>", b"png"),
    "archive index": lambda folder: write_archive_index(folder, "OIH Watch", datetime(2026, 11, 23, tzinfo=timezone.utc), {}),
    "preview": lambda folder: write_preview(folder, "2026-W48", "new", "<p>new</p>", b"png"),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_page_that_fills_the_disk_keeps_the_old_one_whole_and_leaves_no_temporary_file(tmp_path, monkeypatch, writer):
    folder = tmp_path / writer
    folder.mkdir()
    (folder / "2026-W48.png").write_bytes(b"old chart")
    fill_disk(monkeypatch)
    with pytest.raises(DeliveryError, match="No space left on device"):
        WRITERS[writer](folder)
    assert files_in(folder) == ["2026-W48.png"] and (folder / "2026-W48.png").read_bytes() == b"old chart"


def test_two_addresses_that_read_alike_as_file_names_get_a_file_each(shared_data, tmp_path):
    """'+' and '_' both become '_' in a file name: one recipient's .eml replaced the other's, and both
    were recorded as written."""
    import email
    from email import policy

    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=3) as (store, _):
        outbox = tmp_path / "outbox"
        readers = (Recipient("dr.kim+oih@example.org"), Recipient("dr.kim_oih@example.org"), Recipient("all@example.org"))
        outcome = send_due_digest(store, params(readers), MONDAY, OutboxTransport(outbox))
        assert sorted(outcome.delivered) == sorted(r.email for r in readers)
        files = files_in(outbox)
        assert len(files) == 3 and "2026-W48/all@example.org.eml" in files and "2026-W48/dr.kim_oih@example.org.eml" in files
        received = {email.message_from_bytes((outbox / name).read_bytes(), policy=policy.default)["To"] for name in files}
        assert received == {r.email for r in readers}
