"""Benchmark: training time on the whole shared corpus, and classification speed against a plain baseline.

Prints records/s of the oihwatch model scoring -- text in, calibrated probabilities of every
label out: TF-IDF, the RE2 rule-hit features, one sparse product, Platt -- beside a plain TfidfVectorizer + LogisticRegression (one label) in the same run,
and of the full tagging step (study type and key finding included).

    python benchmarks/classify.py [--data DIR]   (default $OIHWATCH_SHARED_DATA, else ../shared/data)
"""

from __future__ import annotations

import argparse
import time
import tomllib
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from classifier.curated import default_label_file, read_label_file
from classifier.documents import record_text
from classifier.hyperparameters import load_hyperparameters
from classifier.tagging import classify_articles
from classifier.topics import topic_rules
from classifier.training import train_model
from corpus.article import Article
from harvester.jsonl import parse_jsonl

from shared import shared_data  # benchmarks/, the script's folder, is on sys.path

REPO = Path(__file__).resolve().parent.parent


def read_corpus(path: Path) -> list[Article]:
    with path.open(encoding="utf-8") as handle:
        return list(parse_jsonl(handle, name=path.name))


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} records/s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    data = args.data or shared_data()
    articles = read_corpus(data / "corpus.jsonl") + read_corpus(data / "corpus_generic_negatives.jsonl")
    hyperparameters = load_hyperparameters()
    topics = tomllib.loads((REPO / "oihwatch" / "default_config.toml").read_text(encoding="utf-8"))["topics"]
    rules = topic_rules(topics, hyperparameters["relevance"])
    start = time.perf_counter()
    model = train_model(articles, rules, read_label_file(default_label_file()), hyperparameters)
    print(f"training on {len(articles)} records: {time.perf_counter() - start:.1f} s (floor: < 60 s)")
    texts = [record_text(a) for a in articles]
    labels = [1 if "hyperalges" in t.lower() else 0 for t in texts]
    baseline_vectorizer = TfidfVectorizer().fit(texts)
    baseline = LogisticRegression(max_iter=1000).fit(baseline_vectorizer.transform(texts), labels)
    start = time.perf_counter()
    baseline.predict_proba(baseline_vectorizer.transform(texts))
    base = time.perf_counter() - start
    start = time.perf_counter()
    model.predict_proba(texts)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    list(classify_articles(articles, model, rules, curated={}))
    full = time.perf_counter() - start
    print(f"baseline TfidfVectorizer + LogisticRegression (1 label): {rate(len(texts), base)}")
    print(f"oihwatch model ({len(model.labels)} labels, calibrated):      {rate(len(texts), ours)}  ({base / ours:.2f}x baseline speed)")
    print(f"full tagging (+ rules, study type, key finding):      {rate(len(texts), full)}")


if __name__ == "__main__":
    main()
