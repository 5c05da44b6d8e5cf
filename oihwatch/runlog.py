"""Recording a step (classify, digest, train) in the store's run log, whoever starts it.

``oihwatch status`` reads the log, so a step run by hand shows there just as one run by
cron or the scheduler does. Harvests record their own runs, per query and window.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from corpus.errors import StorageError
from corpus.runs import finish_run, finish_stopped, start_run
from corpus.store import Store


@contextlib.contextmanager
def recorded(store: Store, step: str) -> Iterator[dict]:
    """'running' now, then 'ok', or 'failed' with the error ('interrupted' by Ctrl-C); the block may fill in counts
    (``found``, ``new``, ``updated``) through the dict it is given."""
    counts: dict = {}
    run_id = start_run(store, step)
    try:
        yield counts
    except BaseException as exc:
        # A full disk that failed the step fails this write too: the step's error, which says what it did, goes
        # on, and the row left 'running' shows as interrupted ("... or could not record its end").
        with contextlib.suppress(StorageError):
            if not finish_stopped(store, run_id, exc, **counts):
                finish_run(store, run_id, "failed", error=" ".join(str(exc).split()) or type(exc).__name__, **counts)
        raise
    finish_run(store, run_id, "ok", **counts)
