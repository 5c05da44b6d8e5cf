"""Shared fixtures: the real PubMed data folder, and a clean environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only folder of real PubMed records: $OIHWATCH_SHARED_DATA, else ../shared/data."""
    path = Path(os.environ.get("OIHWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"real PubMed data not found at {path}")
    return path


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
