"""From a model and the rules to the stored ``Classification`` of each record.

Precedence per label: a curated label (source 'curator', score 1 or 0), else the
model's calibrated probability against its threshold (source 'model'), else a
keyword or MeSH rule of the topic (source 'rule', keeping the model's score). The
model adds what the rules miss but never vetoes a rule: on recent literature the
rules know words the old training corpus never showed the model (DESIGN.md: rules
alone beat a model trained on that corpus), and cross-validated on the curated train
split the two ways score the same macro-F1 (docs/classifier.md). A label the model
could not train falls back to its rules. A record with neither title nor abstract
gets no tags, and neither does a retraction or erratum notice: it names the paper's topic but
is not a paper on it (the paper itself carries the warning).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence


from classifier.documents import has_text, record_text
from classifier.key_finding import key_finding
from classifier.model import OihModel
from classifier.study_type import study_type
from classifier.topics import TopicRule
from classifier.weak_labels import keyword_hits, rule_hits
from corpus.article import Article
from corpus.tags import RELEVANCE, Classification, TopicScore


def classify_articles(
    articles: Sequence[Article],
    model: OihModel,
    rules: Sequence[TopicRule],
    curated: Mapping[str, Mapping[str, bool]],
) -> Iterator[Classification]:
    """One ``Classification`` per article, in order."""
    texts = [record_text(a) for a in articles]
    keyword = keyword_hits(texts, rules)
    probabilities = model.predict_proba(texts, keyword)
    ruled = rule_hits(articles, keyword, rules).astype(bool)  # what the keyword or MeSH rule says
    columns = {label: j for j, label in enumerate(model.labels)}
    for i, article in enumerate(articles):
        if not has_text(article) or article.is_notice:  # a notice's text is no finding either
            yield Classification(article.pmid, 0.0, study_type(article), "", model.version)
            continue
        result = Classification(article.pmid, 0.0, study_type(article), key_finding(article), model.version)
        labels = curated.get(article.pmid, {})
        for j, rule in enumerate(rules):
            if rule.name in labels:
                score = TopicScore(rule.name, float(labels[rule.name]), labels[rule.name], "curator")
            elif rule.name in columns:
                p = float(probabilities[i, columns[rule.name]])
                if p >= model.thresholds[rule.name]:
                    score = TopicScore(rule.name, p, True, "model")
                else:
                    score = TopicScore(rule.name, p, bool(ruled[i, j]), "rule" if ruled[i, j] else "model")
            else:
                score = TopicScore(rule.name, float(ruled[i, j]), bool(ruled[i, j]), "rule")
            if rule.name == RELEVANCE:
                result.relevance = score.score
            else:
                result.topics.append(score)
        yield result
