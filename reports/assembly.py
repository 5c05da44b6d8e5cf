"""Which records a digest shows, grouped and ordered: a pure function of records and their tags.

A record is in the digest when its OIH relevance reaches the threshold. It sits under every topic
assigned to it (so a ketamine-and-tapering trial appears in both sections) or, with none, under
"Other OIH research". Within a section the strongest evidence comes first (``corpus.evidence``),
then the newest; a paper retracted before it was listed is no new evidence: it comes after those
that stand, and the counts say how many such papers they hold. A recipient subscribed to some
topics gets those sections and "Other OIH research": the OIH papers no topic fits are most of
them, the studies of OIH itself, and a topic list narrows the focus, not the subject. Retraction
warnings go to everyone, because a clinician may have acted on any paper we sent. A digest shown
again (its archive page, a late delivery) marks each paper retracted or corrected since it was
listed, naming the digest that warned of it: that page is where a clinician looks a paper up
again. Retraction, erratum and expression-of-concern notices are never listed: they are news
about the paper they concern, which the store flags, and readers who were sent that paper get
the warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from corpus.article import RETRACTED_WORDS, Article, doi_url, notice_words
from corpus.evidence import STUDY_TYPES, evidence_rank
from corpus.exports import tag_confidence
from corpus.ledger import RETRACTED, standing_marks
from corpus.tags import Classification, TopicScore

if TYPE_CHECKING:
    from reports.outage import HarvestOutage

OTHER = ""  # the section of relevant records without a topic
OTHER_LABEL = "Other OIH research"
STRONGEST = 3  # items in "the strongest new evidence"
STRONG_ENOUGH = evidence_rank("clinical_trial")  # reviews of trials and trials; weaker evidence is not "strongest"


# Notices by how much they change practice, the heaviest first: a paper retracted (or retracted and
# replaced by a new version), retracted in part, under an expression of concern, corrected and
# republished, or with an erratum. Warnings come in this order, and a paper's notices too.
NOTICE_WEIGHTS = {RETRACTED: 0, "RetractedandRepublishedIn": 0, "PartialRetractionIn": 1, "ExpressionOfConcernIn": 2,
                  "CorrectedandRepublishedIn": 3, "ErratumIn": 4}


def mark_weight(mark: str) -> int:
    """Where a standing mark ('retracted', 'ErratumIn:123') comes among notices (``NOTICE_WEIGHTS``)."""
    return NOTICE_WEIGHTS.get(mark.partition(":")[0], len(NOTICE_WEIGHTS))


# A record's languages are ISO 639-2/B codes (PubMed's <Language>, MEDLINE's LA): the names of the
# common ones, as PubMed's "[Article in Chinese]" says them; another code is shown as it is.
LANGUAGES = {
    "ara": "Arabic", "chi": "Chinese", "cze": "Czech", "dan": "Danish", "dut": "Dutch", "fin": "Finnish",
    "fre": "French", "ger": "German", "gre": "Greek", "heb": "Hebrew", "hrv": "Croatian", "hun": "Hungarian",
    "ita": "Italian", "jpn": "Japanese", "kor": "Korean", "nor": "Norwegian", "per": "Persian", "pol": "Polish",
    "por": "Portuguese", "rum": "Romanian", "rus": "Russian", "slo": "Slovak", "spa": "Spanish", "swe": "Swedish",
    "tur": "Turkish", "ukr": "Ukrainian",
}
ENGLISH = frozenset({"eng", "en", "english"})  # RIS and CSV files may name it
UNDETERMINED = "und"


def language_note(languages: Sequence[str]) -> str:
    """'[Article in Chinese]' for a paper not in English, as PubMed marks it (its title in brackets is a
    translation, a sign few readers know); '' for one in English, among others or alone, or of no known language."""
    codes = [code.strip() for code in languages if code.strip()]
    named = [LANGUAGES.get(code.lower(), code) for code in codes if code.lower() != UNDETERMINED]
    if not named or any(code.lower() in ENGLISH for code in codes):
        return ""
    return f"[Article in {', '.join(named)}]"


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # not the locale's


def local_day(moment: str, zone: str) -> date:
    """The day of an ISO timestamp (the store's, in UTC) in the time zone ``zone``: a digest names the days
    of its schedule's zone, where its readers are. Far from UTC the UTC day is another: Monday 07:30 in
    Kiritimati (UTC+14) is Sunday in UTC, Monday 18:30 in Pago Pago (UTC-11) is Tuesday."""
    return datetime.fromisoformat(moment).astimezone(ZoneInfo(zone)).date()


def _day_month(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def day_text(moment: str, zone: str) -> str:
    """'30 Nov', the day of an ISO timestamp in ``zone`` (``local_day``): how a clinician names a digest's day."""
    return _day_month(local_day(moment, zone))


def dates_text(since: str, until: str, zone: str) -> str:
    """The days a window covers in ``zone`` (``local_day``) as people write them, where the ISO week
    ('2026-W49') needs decoding: '23-30 Nov 2026', '27 Nov - 4 Dec 2026', '28 Dec 2026 - 4 Jan 2027',
    or '30 Nov 2026'. ASCII, so a subject stays as it is in the header instead of an encoded word."""
    last = local_day(until, zone)
    end = f"{_day_month(last)} {last.year}"
    if not since:
        return f"up to {end}"
    first = local_day(since, zone)
    if first == last:
        return end
    if first.year != last.year:
        return f"{_day_month(first)} {first.year} - {end}"
    if first.month != last.month:
        return f"{_day_month(first)} - {end}"
    return f"{first.day}-{end}"


@dataclass(frozen=True)
class Tag:
    """A topic the paper is listed under, with how sure we are in a word, not a number
    (``corpus.exports.tag_confidence``, which the exports and the web view say too)."""

    label: str
    confidence: str  # 'curated' (a person checked it), 'likely' or 'possible'

    @classmethod
    def of(cls, label: str, score: TopicScore) -> Tag:
        return cls(label, tag_confidence(score.score, score.source))


@dataclass(frozen=True)
class Later:
    """A notice that came after a digest listed the paper, and the later digest that warned of it."""

    mark: str  # 'retracted', 'ErratumIn:123' (``corpus.ledger.standing_marks``)
    period: str  # the later digest's, '2026-W49': its archive page is '2026-W49.html'
    dates: str  # the later digest's days, as its subject names them

    @property
    def notice(self) -> str:
        """'Retracted', 'Erratum published (PMID 123)' (``notice_text``)."""
        return notice_text(self.mark)

    @property
    def retraction(self) -> bool:
        return self.mark == RETRACTED

    @property
    def text(self) -> str:
        return f"{self.notice} since this digest (see the {self.dates} digest)"


@dataclass(frozen=True)
class Item:
    pmid: str
    title: str
    url: str
    doi: str
    authors: str
    journal: str
    date: str
    study_type: str
    study_label: str
    tags: tuple[Tag, ...]
    topics: tuple[str, ...]
    key_finding: str
    updated: bool
    retracted: bool
    language: str = ""  # '[Article in Chinese]' for a paper not in English (``language_note``)
    sort_key: tuple = field(repr=False, compare=False, default=())
    later: tuple[Later, ...] = ()  # notices since the digest listed it
    notices: tuple[str, ...] = ()  # the other notices it has (erratum, expression of concern...), heaviest first

    @property
    def retracted_when_listed(self) -> bool:
        """Retracted already when the digest listed it; a retraction since is one of ``later``, marked so."""
        return self.retracted and not any(notice.retraction for notice in self.later)

    @property
    def doi_url(self) -> str:
        """The doi.org link, percent-encoded so that it survives as a link in text and HTML."""
        return doi_url(self.doi)


def listing_order(item: Item) -> tuple:
    """Papers that stand first, strongest evidence then newest; a paper retracted when listed after them,
    so that it never leads a section as its strongest evidence."""
    return item.retracted_when_listed, item.sort_key


def retracted_note(items: Iterable[Item]) -> str:
    """'1 already retracted' of papers retracted when listed ('' for none): beside a count that includes them."""
    retracted = sum(item.retracted_when_listed for item in items)
    return f"{retracted} already retracted" if retracted else ""


@dataclass(frozen=True)
class Section:
    topic: str
    label: str
    items: tuple[Item, ...]

    @property
    def count_text(self) -> str:
        """'4', or '4, 1 already retracted'."""
        return ", ".join(filter(None, (str(len(self.items)), retracted_note(self.items))))


@dataclass(frozen=True)
class Warning:
    pmid: str
    title: str
    url: str
    notices: tuple[str, ...]  # e.g. "Retracted", "Erratum published (PMID 123)", the heaviest first
    weight: int  # of the heaviest (``mark_weight``): warnings come in its order


@dataclass(frozen=True)
class TrendPoint:
    label: str  # the digest's day in the schedule's time zone, '30 Nov' (``day_text``)
    count: int


@dataclass(frozen=True)
class Digest:
    title: str
    period: str
    since: str
    until: str
    sections: tuple[Section, ...]
    warnings: tuple[Warning, ...]
    trend: tuple[TrendPoint, ...]  # earlier digests, then this one
    zone: str  # the schedule's time zone, whose days the digest names (``local_day``)
    unclassified: int = 0  # records of the window waiting for classify, so not shown
    listed_earlier: int = 0  # records of the window an earlier digest listed, so not shown again
    outage: HarvestOutage | None = None  # the failing harvest when the digest was made, if it was failing (``reports.outage``)

    @property
    def items(self) -> list[Item]:
        """Every distinct item, in the order of first appearance."""
        seen: dict[str, Item] = {}
        for section in self.sections:
            for item in section.items:
                seen.setdefault(item.pmid, item)
        return list(seen.values())

    @property
    def counts(self) -> list[tuple[str, str]]:
        return [(s.label, s.count_text) for s in self.sections]

    @property
    def new_papers(self) -> str:
        """'2 new papers (1 already retracted)': a paper retracted before it was listed is not new evidence."""
        count = len(self.items)
        retracted = retracted_note(self.items)
        return f"{count} new paper{'s' if count != 1 else ''}" + (f" ({retracted})" if retracted else "")

    @property
    def strongest(self) -> list[Item]:
        """The strongest evidence, but no paper retracted when listed; one retracted since keeps its
        place, marked, so that a page shown again still shows what readers were sent, and why not to trust it."""
        ranked = sorted(self.items, key=lambda item: item.sort_key)
        return [item for item in ranked if item.sort_key[0] <= STRONG_ENOUGH and not item.retracted_when_listed][:STRONGEST]

    @property
    def since_listed(self) -> list[Item]:
        """The papers retracted or corrected since this digest listed them, the heaviest notice first (``NOTICE_WEIGHTS``)."""
        return sorted((item for item in self.items if item.later), key=lambda item: min(mark_weight(n.mark) for n in item.later))

    @property
    def dates(self) -> str:
        """The days the digest covers, '23-30 Nov 2026'; the period ('2026-W49') is for operators."""
        return dates_text(self.since, self.until, self.zone)

    @property
    def unsearched_since(self) -> str:
        """The day PubMed was last searched (``local_day``), when every search since failed ('' when it could be
        searched)."""
        return local_day(self.outage.since, self.zone).isoformat() if self.outage else ""

    @property
    def caveat(self) -> str:
        """What the digest may lack, said at its top ('' when PubMed could be searched)."""
        if not self.unsearched_since:
            return ""
        return f"PubMed could not be searched since {self.unsearched_since}; papers added since then will be in the next digest."

    @property
    def subject(self) -> str:
        papers = self.new_papers if self.items else "nothing found" if self.caveat else "nothing new"
        warning = f"; {len(self.warnings)} retraction/correction warning{'s' if len(self.warnings) != 1 else ''}"
        unsearched = f"; PubMed not searched since {self.unsearched_since}" if self.unsearched_since else ""
        return f"{self.title}, {self.dates}: {papers}{warning if self.warnings else ''}{unsearched}"


def short_authors(names: Sequence[str]) -> str:
    """First three authors, then 'et al.'."""
    return ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")


def build_item(article: Article, classification: Classification, topic_labels: Mapping[str, str], updated: bool,
               later: Sequence[Later] = ()) -> Item:
    tags = tuple(
        Tag.of(topic_labels[t.topic], t)
        for t in classification.topics
        if t.assigned and t.topic in topic_labels
    )
    topics = tuple(t.topic for t in classification.topics if t.assigned and t.topic in topic_labels)
    day = int("".join(c for c in article.pub_date_sort if c.isdigit())[:8] or 0)  # YYYYMMDD
    return Item(
        pmid=article.pmid,
        title=article.title or article.vernacular_title or f"PMID {article.pmid}",
        url=article.pubmed_url,
        doi=article.doi,
        authors=short_authors([a.display for a in article.authors]),
        journal=article.journal or article.journal_abbrev,
        date=article.pub_date or article.pub_date_sort,
        study_type=classification.study_type,
        study_label=STUDY_TYPES.get(classification.study_type, STUDY_TYPES["other"]),
        tags=tags,
        topics=topics,
        key_finding=classification.key_finding,
        updated=updated,
        retracted=article.retracted,
        language=language_note(article.languages),
        sort_key=(evidence_rank(classification.study_type), -day, -int(article.pmid) if article.pmid.isdigit() else 0),
        later=tuple(later),
        notices=tuple(notice_text(mark, article) for mark in by_weight(
            standing_marks(article) - {RETRACTED} - {notice.mark for notice in later})),
    )


def notice_text(mark: str, article: Article | None = None) -> str:
    """A standing mark as a reader's words, the exports' words (``notice_words``): 'Retracted', 'Erratum
    published (PMID 123)' ... A notice NLM links by no PMID is named by where it was printed, as the
    ``article``'s link says, when the article is at hand."""
    if mark == RETRACTED:
        return RETRACTED_WORDS
    kind, _, pmid = mark.partition(":")
    links = article.links if article is not None and not pmid else []
    return notice_words(kind, pmid, next((link.source for link in links if link.kind == kind and not link.pmid), ""))


def by_weight(marks: Iterable[str]) -> list[str]:
    """Marks the heaviest first (``NOTICE_WEIGHTS``), as warnings and a paper's notices read."""
    return sorted(marks, key=lambda m: (mark_weight(m), m))


def build_warning(article: Article, marks: Iterable[str]) -> Warning:
    ordered = by_weight(marks)
    return Warning(article.pmid, article.title or f"PMID {article.pmid}", article.pubmed_url,
                   tuple(notice_text(m, article) for m in ordered), mark_weight(ordered[0]))


def assemble_digest(
    articles: Iterable[Article],
    classifications: Mapping[str, Classification],
    *,
    topics: Mapping[str, str],
    threshold: float,
    title: str,
    period: str,
    since: str,
    until: str,
    zone: str,
    sent_fingerprints: Mapping[str, str] | None = None,
    warnings: Sequence[Warning] = (),
    history: Sequence[TrendPoint] = (),
    later: Mapping[str, Sequence[Later]] | None = None,
) -> Digest:
    """The whole digest (every topic), naming the days of the time zone ``zone``. ``topics`` maps topic
    name to label, in display order;
    ``sent_fingerprints`` (PMID -> fingerprint as first sent) marks items that changed since as updated;
    ``later`` (PMID -> notices) marks those retracted or corrected since a recorded digest listed them."""
    sent = sent_fingerprints or {}
    later = later or {}
    by_topic: dict[str, list[Item]] = {name: [] for name in [*topics, OTHER]}
    unclassified = 0
    for article in articles:
        if article.is_notice:
            continue
        classification = classifications.get(article.pmid)
        if classification is None:
            unclassified += 1
            continue
        if classification.relevance < threshold:
            continue
        updated = article.pmid in sent and sent[article.pmid] != article.fingerprint()
        item = build_item(article, classification, topics, updated, later.get(article.pmid, ()))
        for topic in item.topics or (OTHER,):
            by_topic[topic].append(item)
    sections = tuple(
        Section(name, topics.get(name, OTHER_LABEL), tuple(sorted(items, key=listing_order)))
        for name, items in by_topic.items()
        if items
    )
    this_week = TrendPoint(day_text(until, zone), len({i.pmid for s in sections for i in s.items}))
    ordered = tuple(sorted(warnings, key=lambda warning: warning.weight))  # the heaviest first, else as given
    return Digest(title, period, since, until, sections, ordered, (*history, this_week), zone, unclassified)


def for_recipient(digest: Digest, topics: Sequence[str]) -> Digest:
    """The digest as a recipient subscribed to ``topics`` sees it (empty = every topic): those
    sections, then "Other OIH research", which every reader gets (see the module's docstring)."""
    if not topics:
        return digest
    wanted = {*topics, OTHER}
    return replace(digest, sections=tuple(s for s in digest.sections if s.topic in wanted))
