"""The harvester: records in, from PubMed XML / MEDLINE / RIS / CSV files and from E-utilities.

Readers are pure and streaming: they turn bytes into ``Article`` objects (and ``Deletion``
notices) and never touch the store. For files, ``ingest_files`` is the one place that writes
what the readers yield, batch by batch. Imports only ``corpus``.
"""

from harvester.files import read_records
from harvester.ingest import FileReport, IngestReport, ingest_files
from harvester.pubmed_xml import parse_pubmed_bytes, parse_pubmed_xml
from harvester.records import Deletion, Skipped

__all__ = [
    "Deletion",
    "FileReport",
    "IngestReport",
    "Skipped",
    "ingest_files",
    "parse_pubmed_bytes",
    "parse_pubmed_xml",
    "read_records",
]
