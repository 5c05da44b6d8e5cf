"""Benchmark: our streaming PubMed XML parser against ``Bio.Entrez.read`` on the same files.

Builds PubmedArticleSet files of 10,000 and 50,000 records under a temporary folder by
repeating the real records of the shared data with new PMIDs, then parses each file in a
fresh subprocess per parser (so one run's memory cannot hide in another's) and prints
records/s, peak resident memory, and the ratios. Bio.Entrez runs on the 10k file only unless
``--bio-all`` is given (it holds the whole file in memory).

    python benchmarks/parse.py [--sizes 10000 50000] [--bio-all] [--repeat 3]

Floor we hold ourselves to: at least 5x Bio.Entrez's records/s, and peak memory that does not
grow with the file size. Real data: $OIHWATCH_SHARED_DATA, else ../shared/data.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from shared import shared_data  # benchmarks/, the script's folder, is on sys.path

REPO = Path(__file__).resolve().parent.parent
HEADER = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
)
_CITATION_PMID = re.compile(r"(<MedlineCitation\b[^>]*>\s*<PMID[^>]*>)\d+(</PMID>)")

# Run in a child process: parse one file, print records, seconds and peak RSS as JSON.
_CHILD = r"""
import json, resource, sys, time
parser, path = sys.argv[1], sys.argv[2]
from Bio import Entrez
from harvester.pubmed_xml import parse_pubmed_xml
start = time.perf_counter()
cpu_start = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
if parser == "ours":
    count = sum(1 for _ in parse_pubmed_xml(path))
else:
    with open(path, "rb") as handle:
        count = len(Entrez.read(handle, validate=False)["PubmedArticle"])
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu_start
print(json.dumps({"records": count, "seconds": seconds, "cpu": cpu, "peak_mib": usage.ru_maxrss / 1024}))
"""


def real_records() -> list[str]:
    """The raw XML of every journal record in the shared data that Bio.Entrez can read too, so
    both parsers get the same file (it refuses e.g. old records with Affiliation under Author;
    book records come back under another key)."""
    sys.path.insert(0, str(REPO))
    from Bio import Entrez

    from harvester.pubmed_xml import parse_pubmed_xml

    def bio_reads(record: str) -> bool:
        try:
            Entrez.read(io.BytesIO(HEADER + record.encode() + b"</PubmedArticleSet>"), validate=False)
        except ValueError:
            return False
        return True

    return [
        a.raw_xml
        for path in sorted((shared_data() / "pubmed-xml").rglob("*.xml"))
        for a in parse_pubmed_xml(path)
        if not a.is_book and _CITATION_PMID.search(a.raw_xml) and bio_reads(a.raw_xml)
    ]


def build(path: Path, records: list[str], size: int) -> None:
    """``size`` records cycling through the real ones, each with a fresh PMID."""
    with path.open("wb") as out:
        out.write(HEADER)
        for pmid, record in zip(range(40_000_000, 40_000_000 + size), itertools.cycle(records)):
            out.write(_CITATION_PMID.sub(rf"\g<1>{pmid}\g<2>", record, count=1).encode())
            out.write(b"\n")
        out.write(b"</PubmedArticleSet>\n")


def run_once(parser: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, parser, str(path)], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout)


def run(parsers: list[str], path: Path, repeat: int) -> dict[str, dict]:
    """Each parser ``repeat`` times, interleaved, each run in a fresh process; the fastest run counts.

    The machine is shared: interleaving gives both parsers the same background load, and the
    rates are computed from the CPU time the parsing process itself used (user + system), which
    other processes disturb far less than wall time (printed too)."""
    results: dict[str, list[dict]] = {parser: [] for parser in parsers}
    for _ in range(repeat):
        for parser in parsers:
            results[parser].append(run_once(parser, path))
    return {
        parser: {
            **min(runs, key=lambda r: r["cpu"]),
            "seconds": min(r["seconds"] for r in runs),
            "peak_mib": max(r["peak_mib"] for r in runs),
        }
        for parser, runs in results.items()
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    options.add_argument("--bio-all", action="store_true", help="run Bio.Entrez on every size, not only the first")
    options.add_argument("--repeat", type=int, default=3, help="runs per parser and file; the fastest counts")
    args = options.parse_args()

    records = real_records()
    print(f"{len(records)} real records from {shared_data()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="oihwatch-bench-") as folder:
        rows = []
        for index, size in enumerate(args.sizes):
            path = Path(folder) / f"pubmed_{size}.xml"
            build(path, records, size)
            megabytes = path.stat().st_size / 1e6
            timings = run(["ours", "bio"] if index == 0 or args.bio_all else ["ours"], path, args.repeat)
            ours, bio = timings["ours"], timings.get("bio")
            for result in (ours, bio):
                if result is not None and result["records"] != size:
                    raise SystemExit(f"parsed {result['records']} records of {size}")
            rows.append((size, megabytes, ours, bio))

    print(
        f"{'records':>8} {'MB':>5} {'ours rec/s':>10} {'(wall)':>7} {'ours MiB':>9} "
        f"{'Bio rec/s':>9} {'(wall)':>7} {'Bio MiB':>8} {'speed x':>7} {'(wall)':>7}"
    )
    for size, megabytes, ours, bio in rows:
        line = (
            f"{size:>8} {megabytes:>5.0f} {size / ours['cpu']:>10.0f} {size / ours['seconds']:>7.0f} "
            f"{ours['peak_mib']:>9.1f}"
        )
        if bio is not None:
            line += (
                f" {size / bio['cpu']:>9.0f} {size / bio['seconds']:>7.0f} {bio['peak_mib']:>8.1f}"
                f" {bio['cpu'] / ours['cpu']:>7.1f} {bio['seconds'] / ours['seconds']:>7.1f}"
            )
        print(line)
    first, last = rows[0][2]["peak_mib"], rows[-1][2]["peak_mib"]
    print(f"our peak memory, {rows[-1][0]} vs {rows[0][0]} records: {last / first:.2f}x")


if __name__ == "__main__":
    main()
