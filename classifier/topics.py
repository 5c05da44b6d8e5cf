"""Topics and their rules, compiled from plain settings data.

A topic is whatever ``[topics.NAME]`` in config.toml says (label, description,
keyword regexes over title + abstract, MeSH descriptors); adding one needs no
code change. OIH relevance is one more rule of the same shape, defined in
``hyperparameters.toml`` because it is the classifier's own target, not a
reader's topic. The classifier never imports the application's settings class:
it takes mappings, so tests hand in dicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import re2

from corpus.errors import ClassifierError
from corpus.tags import RELEVANCE


@dataclass(frozen=True)
class TopicRule:
    """One label the classifier predicts, with the rules that give it weak labels.

    A record hits the rule when a keyword matches its text or one of its MeSH
    descriptors is listed, and (when ``requires`` is set) a ``requires`` regex also
    matches the text or MeSH: relevance is "hyperalgesia AND an opioid", not either;
    and no ``exclude`` regex matches (ketamine *sedation* is not the ketamine topic).
    """

    name: str
    label: str = ""
    description: str = ""
    keywords: tuple[str, ...] = ()
    mesh: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _mesh_lower: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _keyword_re: re2._Regexp | None = field(default=None, repr=False, compare=False)
    _requires_re: re2._Regexp | None = field(default=None, repr=False, compare=False)
    _exclude_re: re2._Regexp | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_mapping(cls, name: str, data: Mapping) -> TopicRule:
        keywords = tuple(data.get("keywords", ()))
        requires = tuple(data.get("requires", ()))
        exclude = tuple(data.get("exclude", ()))
        return cls(
            name=name,
            label=str(data.get("label", name)),
            description=str(data.get("description", "")),
            keywords=keywords,
            mesh=tuple(data.get("mesh", ())),
            _mesh_lower=frozenset(m.lower() for m in data.get("mesh", ())),
            requires=requires,
            exclude=exclude,
            _keyword_re=_compile(name, keywords),
            _requires_re=_compile(name, requires),
            _exclude_re=_compile(name, exclude),
        )

    def data(self) -> dict:
        """The rule as plain data: saved with a model, compared when it is loaded."""
        return {"keywords": list(self.keywords), "mesh": list(self.mesh), "requires": list(self.requires), "exclude": list(self.exclude)}

    def keyword_hit(self, text: str) -> bool:
        """A keyword rule matches the text (the requirement, if any, is checked on the text too)."""
        return self.keyword_hit_lower(text.lower())

    def keyword_hit_lower(self, lowered: str) -> bool:
        """``keyword_hit`` on text already lower-cased (the patterns are)."""
        return bool(self._keyword_re and self._keyword_re.search(lowered)) and self._required_lower(lowered)

    def matched_words(self, text: str) -> str:
        """What a keyword matched in ``text`` when the rule hits ('' when it does not): ``explain`` shows it."""
        lowered = text.lower()
        found = self._keyword_re.search(lowered) if self._keyword_re else None
        if not found or not self._required_lower(lowered):
            return ""
        # Lower-casing keeps offsets except for a few characters (e.g. 'İ'); then show the lower-cased words.
        return (text if len(text) == len(lowered) else lowered)[slice(*found.span())]

    def matched_mesh(self, mesh_terms: Iterable[str]) -> list[str]:
        """The record's MeSH descriptors that are the topic's (the requirement not checked)."""
        return [t for t in mesh_terms if t.lower() in self._mesh_lower]

    def mesh_hit(self, mesh_terms: Iterable[str], text: str = "") -> bool:
        """One of the topic's MeSH descriptors is on the record (and the requirement holds over text + MeSH)."""
        terms = list(mesh_terms)
        return bool(self.matched_mesh(terms)) and self._required(text + "\n" + "\n".join(terms))

    def search_patterns(self) -> tuple[str | None, str | None, str | None]:
        """The joined keyword, requires and exclude regexes (None where a part is empty), already checked."""
        return tuple(r.pattern if r is not None else None for r in (self._keyword_re, self._requires_re, self._exclude_re))

    def _required(self, text: str) -> bool:
        return self._required_lower(text.lower())

    def _required_lower(self, lowered: str) -> bool:
        """The context holds: a ``requires`` regex matches (if any) and no ``exclude`` regex does."""
        if self._exclude_re is not None and self._exclude_re.search(lowered):
            return False
        return self._requires_re is None or bool(self._requires_re.search(lowered))


def rules_fingerprint(rules: Sequence[TopicRule]) -> dict:
    """What a model is trained for (relevance rule first, then the topics): a saved model must match it."""
    return {"topics": {r.name: r.data() for r in rules[1:]}, "relevance": rules[0].data()}


def rule_options() -> re2.Options:
    """RE2 (linear time, no backtracking): rules are config, a slow pattern must not stall classification.

    All rules scan as one RE2 set, whose lazily built DFA outgrows RE2's default 8 MiB budget and
    is then thrown away and rebuilt again and again: 32 MiB scans the default rules 1.6-1.8 times
    faster, with the same matches."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 32 << 20
    return options


def compile_patterns(patterns: Sequence[str]) -> re2._Regexp | None:
    """The patterns as one lower-cased RE2 alternation, as the rules apply them (None when there are
    none); a ValueError naming the first pattern RE2 rejects. It only compiles (no model, no corpus),
    so loading the configuration checks every topic's rules with it."""
    for pattern in patterns:  # each alone first: 'a)|(b' would join into a valid alternation
        try:
            compiled = re2.compile(_lower_pattern(pattern), rule_options())
        except re2.error as exc:
            try:
                re2.compile(pattern, rule_options())
            except re2.error as raw:
                raise ValueError(f"pattern {pattern!r} is not a valid RE2 regular expression ({_reason(raw)})") from None
            # r'\p{Greek}' lower-cased is r'\p{greek}', which RE2 does not know
            raise ValueError(f"pattern {pattern!r} is not a valid RE2 regular expression once lower-cased, as rules "
                             f"match lower-cased text ({_reason(exc)})") from None
        # A stray "" (or " ") left in a TOML list, a trailing '|', '(rat)?', 'x*': a keyword on every record, an
        # exclude vetoing every hit.
        if not pattern.strip() or compiled.search("") is not None:
            raise ValueError(f"pattern {pattern!r} matches every record (it needs no word to match); remove it from the list or fix it")
    if not patterns:
        return None
    joined = "|".join(f"(?:{_lower_pattern(p)})" for p in patterns)
    try:
        return re2.compile(joined, rule_options())
    except re2.error as exc:
        raise ValueError(f"the patterns {list(patterns)!r} do not join into one RE2 regular expression ({_reason(exc)})") from None


def _reason(exc: re2.error) -> str:
    """RE2's message as text (it comes as bytes)."""
    reason = exc.args[0] if exc.args else exc
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _compile(name: str, patterns: tuple[str, ...]) -> re2._Regexp | None:
    try:
        return compile_patterns(patterns)
    except ValueError as exc:
        raise ClassifierError(f"topics.{name}: {exc}; fix it in config.toml") from None


def _lower_pattern(pattern: str) -> str:
    """Lower-case a regex's literal text but not its escapes (``\\B`` is not ``\\b``)."""
    return re.sub(r"\\.|[^\\]+", lambda m: m.group() if m.group().startswith("\\") else m.group().lower(), pattern)


def topic_rules(topics: Mapping[str, Mapping], relevance: Mapping) -> list[TopicRule]:
    """The relevance rule first, then one rule per configured topic, in config order."""
    if RELEVANCE in topics:
        raise ClassifierError(f"topics.{RELEVANCE}: the name {RELEVANCE!r} is reserved for OIH relevance; rename the topic")
    rules = [TopicRule.from_mapping(RELEVANCE, {"label": "OIH relevance", **relevance})]
    rules += [TopicRule.from_mapping(name, data) for name, data in topics.items()]
    return rules
