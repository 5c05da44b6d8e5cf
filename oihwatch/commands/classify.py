"""``train``, ``classify``, ``evaluate``, ``explain`` and ``label``: the classifier's commands.

They wire the store and settings to the pure classifier functions; results go to
stdout, progress to stderr, and every command that writes holds the write lock.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

import click
from rich.table import Table
from rich.text import Text

from classifier.curated import CuratedSet, default_label_file, read_label_file
from classifier.documents import has_text, record_text
from classifier.evaluation import cross_validate, evaluate_model, stored_training_pmids
from classifier.model import OihModel
from classifier.persistence import load_model, save_model
from classifier.tagging import classify_articles
from classifier.topics import TopicRule, rules_fingerprint
from classifier.training import train_model
from corpus.article import Article
from corpus.errors import ClassifierError, InputError
from corpus.store import Store
from corpus.tags import (RELEVANCE, Label, clear_label, listed_labels, mark_all_to_classify, pmids_to_classify,
                         record_labels, save_classifications, set_label)
from oihwatch import __version__
from oihwatch.app import App
from oihwatch.cli import console_for_people
from oihwatch.config import Topic, configured_topic
from oihwatch.model_age import LABELS_KEY, labels_key, training_labels
from oihwatch.model_info import rules_for
from oihwatch.provenance import labels_in_force
from oihwatch.runlog import recorded

log = logging.getLogger(__name__)
BATCH = 2000
# A notice's kind in words, by the publication type that makes it one (corpus.article.NOTICE_PUBLICATION_TYPES).
NOTICE_KINDS = {"Retraction of Publication": "a retraction notice", "Published Erratum": "an erratum notice",
                "Expression of Concern": "an expression of concern"}


class Pmid(click.ParamType):
    """A PMID as typed or pasted: surrounding spaces dropped, digits only."""

    name = "PMID"

    def convert(self, value, param, ctx) -> str:
        pmid = str(value).strip()
        if not re.fullmatch(r"[0-9]+", pmid):  # not str.isdigit: it takes "３８" and "²"
            self.fail(f"{value!r} is not a PMID (digits only, e.g. 38011560)", param, ctx)
        return pmid


def current_model(app: App, rules: list[TopicRule]) -> OihModel:
    """The saved model, checked against this version and these topic rules."""
    return load_model(app.settings.resolve(app.settings.classifier.model_dir), __version__, rules_fingerprint(rules))


def labels_held(curated: CuratedSet, articles: list) -> str:
    """'1832 with curated training labels, 760 held out' among ``articles``: the shipped labels cover records a corpus may not hold."""
    held_out = {article.pmid for article in articles} & curated.test_pmids
    return f"{len(stored_training_pmids(curated, articles))} with curated training labels, {len(held_out)} held out"


def renamed_hint(curated: CuratedSet, topics: list[str]) -> str:
    """A note when configured topics have no curated label while topics no longer configured have some:
    labels are kept by a topic's name, so a renamed topic starts its labels over ('' otherwise)."""
    labelled = Counter(topic for labels in curated.values.values() for topic in labels)
    bare = [topic for topic in topics if topic not in labelled]
    left = {topic: count for topic, count in labelled.items() if topic != RELEVANCE and topic not in topics}
    if not (bare and left):
        return ""
    names = ", ".join(f"'{topic}'" for topic in bare)
    others = ", ".join(f"'{topic}' ({count:,} records)" for topic, count in sorted(left.items()))
    return (f"note: no curated label names {names}, while labels name topics not in the config: {others}; labels are "
            "kept by a topic's name: if one was renamed, give it back its name and change its label instead")


def classify_records(app: App, everything: bool = False) -> int:
    """Classify new or changed records (or all); the pipeline's classify step. Returns how many were saved."""
    rules, _ = rules_for(app.settings)
    model = current_model(app, rules)
    curated = labels_in_force(app.store).values
    with app.writing("classify") as store, recorded(store, "classify") as counts:
        pmids = pmids_to_classify(store, everything)
        saved = tag_records(store, pmids, model, rules, curated,
                            progress=lambda saved: click.echo(f"classified {saved}/{len(pmids)}", err=True))
        counts["found"] = counts["updated"] = saved
    return saved


def tag_records(store: Store, pmids: list[str], model: OihModel, rules: list[TopicRule], curated: Mapping[str, Mapping[str, bool]],
                progress: Callable[[int], None] = lambda saved: None) -> int:
    """Classify and save the stored records of ``pmids``, ``BATCH`` at a time (``progress`` is told how
    many are saved after each); returns how many were saved."""
    saved = 0
    for start in range(0, len(pmids), BATCH):
        articles = list(store.iter_articles(pmids[start : start + BATCH], with_xml=False))
        saved += save_classifications(store, classify_articles(articles, model, rules, curated))
        progress(saved)
    return saved


def train_and_save(app: App, *, report_on_stderr: bool) -> str:
    """Train on the stored records, weak and curated labels; save the model; return its version.
    Holds the write lock and records the run (the ``train`` command and the pipeline alike). Every
    record is then due for ``classify``: its tags came from the model replaced. They are marked so before the
    model is saved: a train stopped between the two (a full disk, a kill) leaves records waiting under the
    old model, never a new model in force that no record waits for, whose tags would not reach the digest.
    The report (where the
    model went, each label's threshold and scores) is ``train``'s result, on stdout; in ``run`` and the
    scheduler, whose lines all go to stderr, it goes there too (``report_on_stderr``)."""
    rules, hyperparameters = rules_for(app.settings)
    with app.writing("train") as store, recorded(store, "train") as counts:
        curated = labels_in_force(app.store)
        articles = list(store.iter_articles(with_xml=False))
        counts["found"] = len(articles)
        click.echo(f"training on {len(articles)} records ({labels_held(curated, articles)})", err=True)
        if hint := renamed_hint(curated, list(app.settings.topics)):
            click.echo(hint, err=True)
        model = train_model(articles, rules, curated, hyperparameters, app_version=__version__)
        model.meta[LABELS_KEY] = labels_key(training_labels(app.settings, store))  # model_age tells a change of them by it
        mark_all_to_classify(store)  # first: a new model in force with no record waiting would keep the old tags
        path = save_model(model, app.settings.resolve(app.settings.classifier.model_dir))
    click.echo(f"model {model.version} saved to {path.parent}", err=report_on_stderr)
    need = int(hyperparameters["model"]["min_curated_positives"])
    for label, metrics in model.meta["cv_metrics"].items():
        threshold = model.thresholds[label]
        cut = f"threshold {threshold:.3f}" if threshold <= 1 else "rules only     "  # the model only added false alarms
        click.echo(f"  {label:<{name_width(rules)}} {cut}  {cv_text(metrics, need)}{tagged_text(metrics, model.meta['records'])}",
                   err=report_on_stderr)
    return model.version


def tagged_text(metrics: dict, records: int) -> str:
    """'; tags 101 of 5,029 records (rules alone 36)': a threshold that sits below much of the corpus (a new
    topic's few hand-picked labels) shows at once."""
    return f"; tags {metrics['tagged']:,} of {records:,} records (rules alone {metrics['rule_tagged']:,})"


def name_width(rules: list[TopicRule]) -> int:
    """The longest configured label name: every line's columns then start where the others' do."""
    return max(len(rule.name) for rule in rules)


def cv_text(metrics: dict, need: int) -> str:
    """'CV on curated labels: P 0.58 R 0.93 F1 0.71'. On weak labels the tags are scored against the rules
    that make them, which measures nothing: said so, and with how few curated labels (``need`` of each
    kind choose a threshold on curated records) when there are some."""
    scores = f"P {metrics['precision']:.2f} R {metrics['recall']:.2f} F1 {metrics['f1']:.2f}"
    if metrics["cv_on"] == "curated":
        return f"CV on curated labels: {scores}"
    positives, negatives = metrics["curated_positives"], metrics["curated_negatives"]
    few = (f"; {positives} curated positive{'s' * (positives != 1)} and {negatives} negative{'s' * (negatives != 1)}, "
           f"a curated threshold needs {need} of each" if positives or negatives else "")
    return f"CV on weak labels (its own rules, not a measurement{few}): {scores}"


@click.command()
@click.pass_obj
def train(app: App) -> None:
    """Train the topic and relevance model on the stored records, weak labels and curated labels.

    Prints where the model was saved and, for each label, its threshold, its cross-validated
    scores and how many records it tags. Every record then waits for 'oihwatch classify': its
    tags came from the replaced model.

    \b
    Example:
        oihwatch train && oihwatch classify
    """
    train_and_save(app, report_on_stderr=False)
    # Not in train_and_save: 'run' classifies right after its training.
    click.echo("run 'oihwatch classify' next: every record waits for it, its tags came from the model replaced", err=True)


@click.command()
@click.option("--all", "everything", is_flag=True, help="re-classify every record, not only new or changed ones")
@click.pass_obj
def classify(app: App, everything: bool) -> None:
    """Tag records with topics, OIH relevance, study type and key finding.

    \b
    Example:
        oihwatch classify --all
    """
    click.echo(f"{classify_records(app, everything)} records classified")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print the measurements as JSON")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, metavar="K",
              help="cross-validation folds over the curated train labels (2 or more)")
@click.pass_obj
def evaluate(app: App, as_json: bool, folds: int) -> None:
    """Measure precision, recall and F1 per topic and relevance ROC-AUC on curated labels, with and without MeSH.

    Cross-validated over the curated train split, and on the held-out test split with the saved model.
    A topic with no positives there, or no labelled records at all (a new or renamed topic), has no P, R
    or F1 (n/a; null in JSON); one with no negatives there has a recall but no P or F1 (no tag could be
    wrong). Either is left out of macro-F1, which says over how many topics it was taken.
    Each part ends with what the keyword and MeSH rules alone score on the same records (rules_alone in
    JSON): the model is there to add to them.

    \b
    Example:
        oihwatch evaluate --json > evaluation.json
    """
    rules, hyperparameters = rules_for(app.settings)
    model = current_model(app, rules)  # before the slow part: no model is an error at once
    curated = labels_in_force(app.store)
    articles = list(app.store.iter_articles(with_xml=False))
    check_folds(folds, curated, articles)
    click.echo(f"cross-validating ({folds} folds), then the saved model on the held-out records "
               f"({labels_held(curated, articles)})...", err=True)
    training_log = logging.getLogger("classifier.training")
    level = training_log.level
    training_log.setLevel(logging.ERROR)  # the fold models' 'not trained' lines: 'oihwatch train' said them already
    try:
        report = {"cross_validated": cross_validate(articles, rules, curated, hyperparameters, folds=folds)}
    finally:
        training_log.setLevel(level)
    report["held_out"] = evaluate_model(model, articles, rules, curated.held_out())
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for name, part in report.items():
        for mesh in ("without_mesh", "with_mesh"):
            m = part[mesh]
            click.echo(f"{name} ({part['records']} records, {mesh.replace('_', ' ')}): macro-F1 {macro_f1_text(m)}  "
                       f"relevance ROC-AUC {roc_auc_text(m)}")
            for topic, s in m["topics"].items():
                click.echo(f"  {topic:<{name_width(rules)}} {topic_text(s)}")
            click.echo(f"  {rules_alone_text(m['rules_alone'])}")


def rules_alone_text(measures: dict) -> str:
    """'rules alone: macro-F1 0.699 (tapering R 0.667 F1 0.588, ...)': what the model adds is the difference
    (recall first: its thresholds favour recall)."""
    def topic(name: str, s: dict) -> str:
        if s["recall"] is None:
            return f"{name} n/a"
        return f"{name} R {s['recall']:.3f} F1 " + ("n/a" if s["f1"] is None else f"{s['f1']:.3f}")
    topics = ", ".join(topic(name, s) for name, s in measures["topics"].items())
    return f"rules alone: macro-F1 {macro_f1_text(measures)}" + (f" ({topics})" if topics else "")


def topic_text(scores: dict) -> str:
    """'P 0.429  R 0.720  F1 0.537  (50 positives)', or n/a: with no positives nothing could be found, with
    no negatives no tag could be wrong."""
    if not scores["n"]:
        return "n/a (no labelled records)"
    if not scores["positives"]:
        return "P, R, F1 n/a (no positives)"
    if scores["precision"] is None:
        return f"R {scores['recall']:.3f}  P, F1 n/a (no negatives)  ({scores['positives']} positives)"
    return f"P {scores['precision']:.3f}  R {scores['recall']:.3f}  F1 {scores['f1']:.3f}  ({scores['positives']} positives)"


def macro_f1_text(measures: dict) -> str:
    """'0.680', or '0.250 over 1 of 4 topics (the others are n/a)': a topic with nothing to find is left
    out of the average rather than counted as 0, and one with nothing to get wrong rather than as 1."""
    averaged, topics = measures["macro_f1_topics"], len(measures["topics"])
    if measures["macro_f1"] is None:
        return "n/a (no topic has both positives and negatives)"
    left_out = f" over {averaged} of {topics} topics (the others are n/a)" if averaged < topics else ""
    return f"{measures['macro_f1']:.3f}{left_out}"


def roc_auc_text(measures: dict) -> str:
    """'0.941', or why it cannot be measured: it ranks positives above negatives, so it needs both."""
    if measures["relevance_roc_auc"] is not None:
        return f"{measures['relevance_roc_auc']:.3f}"
    return "n/a (no positives)" if not measures["relevance_positives"] else "n/a (no negatives)"


def check_folds(folds: int, curated: CuratedSet, articles: list) -> None:
    """Raise ``ClassifierError`` when the corpus holds too few curated training records to cross-validate,
    and a usage error when it holds fewer than ``folds``: each fold holds out at least one, or the model
    of a fold is scored on nothing."""
    stored = len(stored_training_pmids(curated, articles))
    if stored < 2:
        raise ClassifierError(f"cross-validation needs at least 2 records with curated training labels in the corpus, "
                              f"and it holds {stored}; ingest the labelled records or label some with 'oihwatch label'")
    if folds > stored:  # a bad option value, as --folds 1 is: a usage error
        raise click.BadParameter(f"{folds} is more than the {stored} records with curated training labels in the corpus "
                                 f"(each fold holds out at least one); give 2 to {stored}", param_hint="'--folds'")


@click.command()
@click.argument("pmid", type=Pmid())
@click.pass_obj
def explain(app: App, pmid: str) -> None:
    """Show who set each tag of one record, and the terms that pushed the model's and the rules' tags.

    A curated tag shows no terms: a person decided it. A retraction or erratum notice, or a
    record with neither title nor abstract, is never tagged: it says so, and why.

    \b
    Example:
        oihwatch explain 38011560
    """
    article = app.store.get_article(pmid)
    if article is None:
        raise InputError(f"PMID {pmid} is not in the corpus; harvest or ingest it first")
    if reason := untagged_reason(article):  # what the model would make of it is applied nowhere
        click.echo(f"{pmid}: not tagged: it {reason}" + (" (the paper it concerns carries the warning)" if article.is_notice else ""))
        return
    rules, _ = rules_for(app.settings)
    model = current_model(app, rules)
    curated = labels_in_force(app.store).values
    result = next(classify_articles([article], model, rules, curated))
    said_by = "curator" if RELEVANCE in curated.get(pmid, {}) else "model" if RELEVANCE in model.labels else "rule"
    click.echo(f"{pmid}: relevance {result.relevance:.2f} ({said_by}), study type {result.study_type}"
               + ("; RETRACTED (search and export show it only with --include-retracted)" if article.retracted else ""))
    text = record_text(article)
    rule_of = {rule.name: rule for rule in rules}
    for score in [None, *result.topics]:
        label = RELEVANCE if score is None else score.topic
        head = f"oih (relevance): {result.relevance:.2f} ({said_by})" if score is None else f"{label}: {score.score:.2f} {'assigned' if score.assigned else 'not assigned'} ({score.source})"
        click.echo(head)
        if (said_by if score is None else score.source) == "curator":  # the model's terms would read as the reason
            click.echo("    set by a curator who read the record, not by any term")
            continue
        if score is not None and score.source == "rule" and score.assigned:
            words = rule_of[label].matched_words(text)
            mesh = ", ".join(rule_of[label].matched_mesh(article.mesh_terms))
            click.echo(f'    keyword rule matched "{words}"' if words else f"    MeSH rule: {mesh}")
        if label in model.labels:
            for term, weight in model.explain(text, label):
                click.echo(f"    {weight:+.3f}  {term}")
        elif score is None:
            click.echo("    not trained yet (too few labelled records): 'oihwatch train' prints why")


def untagged_reason(article: Article) -> str:
    """Why ``classify_articles`` gives ``article`` no tags, in words that follow its PMID ('is a retraction
    notice of PMID 24084238, not a paper'), or '' when it tags it: a notice names the topic of its paper
    but is no paper on it, and a record with neither title nor abstract has nothing to read."""
    if article.is_notice:
        kind = next(NOTICE_KINDS[kind] for kind in article.publication_types if kind in NOTICE_KINDS)
        papers = ", ".join(pmid for pmid, _ in article.concerned())
        return f"is {kind}{f' of PMID {papers}' if papers else ''}, not a paper"
    return "" if has_text(article) else "has no title or abstract"


def check_labellable(article: Article) -> None:
    """Raise ``InputError`` for a record ``classify_articles`` never tags: a label on it would change no tag
    (it would be reported as applied and show nowhere), yet training would learn from it."""
    if reason := untagged_reason(article):
        instead = "label the paper it concerns instead" if article.is_notice else "label it once PubMed gives it a title or abstract"
        raise InputError(f"PMID {article.pmid} {reason}, and is never tagged: a label on it would do nothing; {instead}")


def topic_argument(given: str, topics: Mapping[str, Topic]) -> str:
    """``configured_topic``; any other TOPIC is a bad argument, as a bad PMID is: a usage error listing each
    topic with its label, the words the digest and the web view show."""
    if (name := configured_topic(given, topics)) is not None:
        return name
    named = ", ".join(f"{name} ({topic.label})" for name, topic in topics.items())
    listed = f"or one of: {named}" if topics else "(no [topics.*] are configured)"
    raise click.BadParameter(f"unknown topic {given!r}; use 'oih' {listed}", param_hint="'TOPIC'")


def saved_model(app: App, rules: list[TopicRule]) -> OihModel | None:
    """The saved model, or None when there is none to use: a label is recorded all the same, and shows
    once its record is classified."""
    try:
        return current_model(app, rules)
    except ClassifierError:
        return None


def tag_now(app: App, store: Store, pmids: list[str], model: OihModel | None, rules: list[TopicRule]) -> str:
    """Tag the stored records of ``pmids`` again with the curated labels as they are now, so searches and
    exports show a label (or its removal) at once; say when they show it: 'now', or, with no model to tag
    with, after train and classify (the records wait for classify, marked by the label's change)."""
    if model is None:
        return "after 'oihwatch train' and 'oihwatch classify'"
    tag_records(store, pmids, model, rules, labels_in_force(app.store).values)
    return "now"


@click.command()
@click.argument("pmid", type=Pmid())
@click.argument("topic")
@click.option("--not", "negative", is_flag=True, help="the record is NOT about the topic (a curated negative, not an undo)")
@click.option("--clear", is_flag=True, help="remove the label recorded here: the model and rules tag the record again")
@click.pass_obj
def label(app: App, pmid: str, topic: str, negative: bool, clear: bool) -> None:
    """Record a curated label (TOPIC, or 'oih' for relevance); it overrides rules and the model.

    TOPIC is a topic's name or its label as the digest shows it ('Tapering and
    discontinuation'), in any letter case. --not records that the record is NOT
    about TOPIC: a curated negative, which overrides the model as a label does.
    --clear removes the label recorded here, and the model and rules tag the
    record again (or the label shipped with oihwatch, where it has one).
    'oihwatch labels' lists the labels recorded here.

    \b
    Example:
        oihwatch label 38011560 ketamine --not
        oihwatch label 38011560 ketamine --clear
    """
    if negative and clear:
        raise click.UsageError("give --not or --clear, not both")
    topic = topic_argument(topic, app.settings.topics)
    rules, _ = rules_for(app.settings)
    model = saved_model(app, rules)  # before the lock, so a scheduled job waiting for it does not wait through the load
    shipped = read_label_file(default_label_file())
    about = "OIH" if topic == RELEVANCE else f"{topic} ({app.settings.topics[topic].label})"
    with app.writing("label") as store:
        article = store.get_article(pmid)
        if clear:
            said = cleared(store, pmid, topic, about, shipped, stored=article is not None)
        elif article is None:
            raise InputError(f"PMID {pmid} is not in the corpus; harvest or ingest it first")
        else:
            check_labellable(article)
            set_label(store, pmid, topic, not negative)
            said = f"PMID {pmid} is {'not ' if negative else ''}about {about}"
        if article is None:  # a label imported for a record not stored here: nothing shows it
            click.echo(said)
            return
        when = tag_now(app, store, [pmid], model, rules)
    # The shipped held-out split keeps its records for every label: 745 of the shared corpus's 4,818.
    held_out = pmid in shipped.test_pmids and not clear
    held = "; the record is held out for evaluation: this label will not train the model" if held_out else ""
    click.echo(f"{said}; searches and exports show it {when}, the web view once serve restarts{held}")


def cleared(store: Store, pmid: str, topic: str, about: str, shipped: CuratedSet, *, stored: bool) -> str:
    """Remove the label recorded here for ``pmid`` and ``topic`` and say what tags the record now (when it
    is ``stored``): the label shipped with oihwatch, where it has one, else the model and rules.
    ``InputError`` when there is none to remove; a shipped label cannot be, only overridden."""
    ships = shipped.values.get(pmid, {}).get(topic)
    shipped_says = "" if ships is None else f"the label shipped with oihwatch ({'' if ships else 'not '}about it)"
    if not clear_label(store, pmid, topic):
        if ships is None:
            raise InputError(f"PMID {pmid} has no label for {about} recorded here; 'oihwatch labels' lists those there are")
        raise InputError(f"PMID {pmid} has no label for {about} recorded here: {shipped_says} cannot be cleared, only "
                         f"overridden: 'oihwatch label {pmid} {topic}{' --not' if ships else ''}'")
    now = f"; {shipped_says or 'the model and rules'} decide{'s' * bool(shipped_says)} again" if stored else " (the record is not stored here)"
    return f"PMID {pmid}: the label for {about} recorded here is cleared{now}"


@click.command("labels")
@click.option("--jsonl", is_flag=True, help="print them as JSON Lines, one label a line: a backup, or labels for another install")
@click.option("--import", "source", type=click.Path(exists=True, dir_okay=False, allow_dash=True), metavar="FILE",
              help="record the labels of FILE, JSON Lines as --jsonl prints them (-: stdin)")
@click.pass_obj
def labels_command(app: App, jsonl: bool, source: str | None) -> None:
    """List the curated labels recorded here with 'oihwatch label', oldest first.

    The labels shipped with oihwatch (classifier/labels/curated.jsonl) are not
    listed. --jsonl prints each as {"pmid", "topic", "value": true or false,
    "labelled"}, one a line. --import records such a file here as it is, times
    included: a label replaces the one recorded here for the same PMID and topic;
    one for a record not stored here is kept, and applies once the record is
    harvested or ingested. A file with a bad line is refused, naming the line,
    and nothing of it is recorded.

    \b
    Example:
        oihwatch labels --jsonl > labels.jsonl
        oihwatch -c other.toml labels --import labels.jsonl
    """
    if jsonl and source is not None:
        raise click.UsageError("give --jsonl or --import, not both")
    if source is not None:
        click.echo(import_labels(app, source))
        return
    listed = listed_labels(app.store)
    if jsonl:
        for recorded_label, _ in listed:
            click.echo(recorded_label.line())
    elif listed:
        print_labels(listed)
    click.echo(f"{len(listed)} label{'s' * (len(listed) != 1)} recorded here"
               + ("" if listed else "; 'oihwatch label PMID TOPIC' records one"), err=True)


# A title in the table of labels is cut to this many columns: it only says which record the PMID is.
TITLE_WIDTH = 60


def print_labels(listed: list[tuple[Label, str | None]]) -> None:
    """The labels as a table, each record named by its title, cut short (a record not stored here has none)."""
    table = Table("PMID", "topic", "about it", "recorded")
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=TITLE_WIDTH)
    for recorded_label, title in listed:
        named = Text(title) if title else Text("(not stored here)" if title is None else "(no title)", style="dim")
        table.add_row(recorded_label.pmid, Text(recorded_label.topic), "yes" if recorded_label.value else "no", recorded_label.labelled, named)
    console_for_people().print(table)


def import_labels(app: App, source: str) -> str:
    """Record the labels of ``source`` (``labels --import``) and tag their stored records at once, as
    ``label`` does; returns what was recorded, in words. A label is checked as ``label`` checks it, but
    for a record not stored here (kept: it applies once the record is) or a topic not configured here
    (kept by its name, as labels are when a topic leaves the config)."""
    name = "stdin" if source == "-" else source
    with click.open_file(source, "rb") as lines:
        numbered = read_labels(lines, name, app.settings.topics)
    rules, _ = rules_for(app.settings)
    model = saved_model(app, rules)
    with app.writing("labels") as store:
        stored = labellable_records(store, numbered, name)
        record_labels(store, [label for _, label in numbered])
        when = tag_now(app, store, sorted(stored), model, rules)
    said = [f"recorded {len(numbered)} label{'s' * (len(numbered) != 1)} from {name}"]
    if stored:
        said.append(f"searches and exports show them {when}")
    if away := sum(label.pmid not in stored for _, label in numbered):
        said.append(f"{away} for records not stored here: they apply once those records are harvested or ingested")
    unknown = Counter(label.topic for _, label in numbered if label.topic != RELEVANCE and label.topic not in app.settings.topics)
    if unknown:
        said.append(f"{unknown.total()} for topics not configured here ({', '.join(sorted(unknown))}): kept for when they are")
    return "; ".join(said)


def read_labels(lines: Iterable[bytes], name: str, topics: Mapping[str, Topic]) -> list[tuple[int, Label]]:
    """The labels of ``lines``, JSON Lines (blank lines skipped), each with its line number and its topic as
    configured here when it names one by name or label; ``InputError`` naming the first bad line."""
    numbered = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8-sig")  # a byte order mark, as some editors write one, is no part of the line
            if not line.strip():
                continue
            read = Label.from_line(line)
        except ValueError as exc:  # UnicodeDecodeError is one
            why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc
            raise InputError(f"{name} line {number}: {why}; a line is {{\"pmid\", \"topic\", \"value\", \"labelled\"}} as "
                             "'oihwatch labels --jsonl' prints it: correct it, nothing was recorded") from None
        numbered.append((number, replace(read, topic=configured_topic(read.topic, topics) or read.topic)))
    return numbered


def labellable_records(store: Store, numbered: list[tuple[int, Label]], name: str) -> set[str]:
    """The PMIDs of ``numbered`` stored here, each checked as ``label`` checks it (``check_labellable``);
    ``InputError`` naming the first line of one that is refused."""
    first_line: dict[str, int] = {}
    for number, read in numbered:
        first_line.setdefault(read.pmid, number)
    stored = set()
    for article in store.iter_articles(list(first_line), with_xml=False):
        try:
            check_labellable(article)
        except InputError as exc:
            raise InputError(f"{name} line {first_line[article.pmid]}: {exc}; nothing was recorded") from None
        stored.add(article.pmid)
    return stored
