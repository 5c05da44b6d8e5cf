"""The corpus: the article model, the SQLite store, search and exports.

This package imports nothing else of oihwatch; the harvester, classifier and
reports meet here.
"""

from corpus.article import AbstractSection, Article, Author, Link, MeshHeading
from corpus.errors import (
    ClassifierError,
    ConfigError,
    DeliveryError,
    HarvestError,
    InputError,
    LockError,
    OihwatchError,
    StorageError,
)
from corpus.store import Store, UpsertCounts

__all__ = [
    "AbstractSection",
    "Article",
    "Author",
    "ClassifierError",
    "ConfigError",
    "DeliveryError",
    "HarvestError",
    "InputError",
    "Link",
    "LockError",
    "MeshHeading",
    "OihwatchError",
    "StorageError",
    "Store",
    "UpsertCounts",
]
