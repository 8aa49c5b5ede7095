"""Leavers and retention: who has left, the setting's retention rules, and a record's review date.

- A child has *left* once the profile's ``leaving_date`` has come (a date still ahead is a planned leaving:
  the child is still attending). Leavers drop out of daily lists; their retention clocks start.
- A retention ``Rule`` (``retention.rules`` in confide.yaml) applies to the profile and the entries of a
  record by level and / or category (neither: to everything), and keeps them for a period counted from the
  leaving date, the date of birth, or the entry's own date.
- A record's review date is the latest date any of its items (the profile, each entry) requires
  (``review_date``); no leaving date yet means no review date yet.

Everything here is computed from decrypted content, in memory: a review date and the rule that set it
are never written anywhere (``docs/design.md``, "Retention").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from vault_cli.model.record import Entry

REVIEW_CATEGORY = "retention-review"  # a review's decision: an encrypted entry of the record ('confide review')
REVIEW_PROCEDURE = "retention-review/1"
DECISIONS = ("keep", "destroy")
STARTS = ("leaving", "birth", "entry")  # what a rule's period is counted from
PROFILE_ITEM = "profile"  # the item id (and the category) a rule sees for the profile
_PERIOD = re.compile(r"^\s*(?:(\d{1,3})\s+years?)?\s*(?:(\d{1,3})\s+months?)?\s*$")

# The defaults: the rules 'confide init' writes into confide.yaml (``formats.policyfiles.TEMPLATE``, where a
# comment cites each source; a test checks the two agree), and the rules of a vault whose confide.yaml has none.
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    # EYFS statutory framework 3.71 ('a reasonable period of time' after leaving); setting policies: 3 years
    {"name": "personal-file", "from": "leaving", "keep": "3 years"},
    # personal injury claims: until 18 + 3 years (Limitation Act 1980), plus a margin
    {"name": "accident-injury", "categories": ["accident", "injury"], "from": "birth", "keep": "21 years 3 months"},
    # IRMS information management toolkit for schools: until the child's 25th birthday
    {"name": "child-protection", "levels": ["safeguarding"], "from": "birth", "keep": "25 years"},
    # RIDDOR: records of reportable incidents kept 3 years
    {"name": "riddor-incident", "categories": ["incident"], "from": "entry", "keep": "3 years"},
)


# How far ahead a leaving date may be recorded: a year. A setting learns of a leaving at most that early (a
# place at school from September is offered in April; a parent's notice is weeks or a term); a date further
# ahead is a slip of the keyboard (2062 for 2026), and would keep a child in daily lists for decades.
LEAVING_AHEAD = (1, 0)  # years, months
_BOUNDS = (("dob", "the child's date of birth"), ("start_date", "the day the child started"))


def leaving_problems(new: Mapping[str, Any], old: Optional[Mapping[str, Any]], today: dt.date) -> list[str]:
    """What cannot be right about the leaving date of a profile written on ``today`` (``new``; ``old``: the
    profile before, None for a new record): before the date of birth or the start date, where the profile has
    them (judged when any of the three changes), or more than ``LEAVING_AHEAD`` ahead of ``today`` (judged when
    the leaving date changes). A leaving date decides the review date, so a date before the child was born
    would make a review due at once. Sentences that repeat no date; 'child leave', 'child set', 'child edit'
    and 'resolve' refuse them, and verify reports them from history (``verify_retention.check_leaving``)."""
    leaving, before = new.get("leaving_date"), old or {}
    if not leaving or all(new.get(f) == before.get(f) for f in ("leaving_date", "dob", "start_date")):
        return []
    try:
        day = dt.date.fromisoformat(str(leaving))
    except ValueError:
        return []  # the profile schema reports a date that is not one
    out = []
    for name, words in _BOUNDS:
        try:
            if new.get(name) and day < dt.date.fromisoformat(str(new[name])):
                out.append(f"the leaving date is before {words}")
        except ValueError:
            pass
    if leaving != before.get("leaving_date") and day > add_period(today, *LEAVING_AHEAD):
        out.append("the leaving date is more than a year ahead: record it nearer the time")
    return out


def has_left(leaving_date: Optional[str], today: dt.date) -> bool:
    """Has the child left on ``today``? (A leaving date still ahead: not yet.)"""
    return leaving_date is not None and dt.date.fromisoformat(leaving_date) <= today


def parse_period(text: str) -> tuple[int, int]:
    """'3 years', '21 years 3 months', '6 months' -> (years, months); ValueError if it is not one."""
    m = _PERIOD.match(text or "")
    if not m or (m.group(1) is None and m.group(2) is None):
        raise ValueError(f"'{text}' is not a period such as '3 years' or '21 years 3 months'")
    return int(m.group(1) or 0), int(m.group(2) or 0)


def add_period(start: dt.date, years: int, months: int) -> dt.date:
    """``start`` plus years and months; a day the month lacks (29 February) is its last day."""
    total = start.year * 12 + (start.month - 1) + years * 12 + months
    y, m = divmod(total, 12)
    return dt.date(y, m + 1, min(start.day, calendar.monthrange(y, m + 1)[1]))


@dataclass(frozen=True)
class Rule:
    name: str
    start: str  # one of STARTS
    years: int
    months: int
    levels: tuple[str, ...] = ()  # empty: any level
    categories: tuple[str, ...] = ()  # empty: any category ('profile': the profile)
    source: str = ""

    @property
    def keep(self) -> str:
        parts = ([f"{self.years} year{'s' * (self.years != 1)}"] if self.years else []) + \
                ([f"{self.months} month{'s' * (self.months != 1)}"] if self.months else [])
        return " ".join(parts) or "0 months"

    def applies(self, level: str, category: str) -> bool:
        return (not self.levels or level in self.levels) and (not self.categories or category in self.categories)

    def describe(self) -> str:
        """In words: 'kept 3 years after leaving', '... from the date of birth', '... from the entry's date'."""
        return f"kept {self.keep} " + {"leaving": "after leaving", "birth": "from the date of birth",
                                      "entry": "from the entry's date"}[self.start]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "levels": list(self.levels), "categories": list(self.categories),
                "from": self.start, "keep": self.keep, "source": self.source}


def rule_from(d: Mapping[str, Any]) -> Rule:
    """A rule from its confide.yaml mapping (checked against the settings schema already); ValueError if its
    period does not read."""
    years, months = parse_period(str(d["keep"]))
    return Rule(name=d["name"], start=d["from"], years=years, months=months, levels=tuple(d.get("levels") or ()),
                categories=tuple(d.get("categories") or ()), source=str(d.get("source") or ""))


DEFAULTS = tuple(rule_from(r) for r in DEFAULT_RULES)


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    defaults: bool  # confide.yaml gave none (or the older map of texts): the defaults apply
    note: Optional[str] = None  # why the defaults apply, for the commands to say


def rules_of(data: Mapping[str, Any]) -> Rules:
    """The retention rules of confide.yaml's mapping: its ``retention.rules``, else the defaults (a vault
    made before rules existed, or whose ``retention`` is the older map of texts, says so)."""
    ret = data.get("retention")
    if isinstance(ret, Mapping) and isinstance(ret.get("rules"), list) and ret["rules"]:
        return Rules(tuple(rule_from(r) for r in ret["rules"]), False)
    if isinstance(ret, Mapping) and ret:
        return Rules(DEFAULTS, True, "confide.yaml's 'retention' is the older map of texts, not rules: "
                                     "confide's default rules apply")
    return Rules(DEFAULTS, True, "confide.yaml has no retention rules: confide's default rules apply")


@dataclass(frozen=True)
class Item:
    """What a rule sees of one part of a record: the profile, or an entry as it now stands."""

    id: str  # the entry id, or PROFILE_ITEM
    level: str
    category: str  # the entry's category, or PROFILE_ITEM
    date: Optional[str]  # the day the entry happened (YYYY-MM-DD); None for the profile


@dataclass(frozen=True)
class Requirement:
    item: Item
    rule: Rule
    until: Optional[dt.date]  # None: the date the rule counts from is not known (no date of birth)


@dataclass(frozen=True)
class Decision:
    """A retention review's decision: keep until a date, or destroy."""

    id: str
    decision: str  # 'keep' or 'destroy'
    keep_until: Optional[str]
    decided_on: str  # YYYY-MM-DD
    author: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.id, "decision": self.decision, "keep_until": self.keep_until,
                "decided_on": self.decided_on, "author": self.author, "reason": self.reason}


def decisions_in(entries: Iterable[Entry]) -> tuple[Decision, ...]:
    """The review decisions among a record's entries (as they now stand)."""
    out = []
    for e in entries:
        d = e.details or {}
        if e.category == REVIEW_CATEGORY and d.get("procedure") == REVIEW_PROCEDURE:
            out.append(Decision(e.id, str(d.get("decision")), d.get("keep_until"), e.date, e.author,
                                str(d.get("reason") or "")))
    return tuple(out)


# fields, as errors name them (the command line: --keep-until, --reason)
KEEP_UNTIL, REASON, REVIEW_DATE = "keep-until date", "reason for the review decision", "review date"


def decision_day(at: Any, made: dt.datetime, allowance: dt.timedelta) -> tuple[dt.date, list[tuple[str, str]]]:
    """The day a decision committed at ``made`` (the commit's date, an aware time) was taken: the commit's day,
    not the ``at`` its author wrote; and what is wrong with ``at`` (its day must be the commit's, within the
    clock ``allowance``, ``policy.CLOCK_ALLOWANCE``, either side: 'confide review' writes its own today), as
    ``review_problems`` words it. verify judges a decision by this day, so a decision cannot be backdated
    to before its record's review date, or to make a keep-until date already past look ahead."""
    day = made.date()
    try:
        written = dt.date.fromisoformat(str(at)[:10])
    except ValueError:
        return day, []  # the entry schema reports a time that is not one
    if not (made - allowance).date() <= written <= (made + allowance).date():
        return day, [("decision", "the day it says it was taken is not the day of its commit")]
    return day, []


def decision_level(levels: Sequence[str], entries: Iterable[Entry]) -> str:
    """The level a review decision is kept at: the highest of the record's entries (its date, and so its
    keep-until date, tells what they hold), the lowest level when it has none. Not simply the highest level:
    a sealed safeguarding entry appearing in a record without one would read as a child protection concern."""
    present = {e.level for e in entries}
    return next((lv for lv in reversed(levels) if lv in present), levels[0])


def review_problems(details: Mapping[str, Any], level: str, levels: Sequence[str], decided_on: dt.date,
                    review_date: Optional[dt.date], state: str, needed: str) -> list[tuple[str, str]]:
    """What cannot be right about a review decision kept at ``level`` and recorded on ``decided_on``, for a
    record whose review date (before it) was ``review_date``, its state ``state`` (``Review.state``) and the
    level a decision needs ``needed`` (``decision_level``): (field, sentence) pairs, each sentence naming its
    field as ``{0}`` and repeating nothing written. 'confide review' refuses them; verify reports them from
    history (who may decide is ``policy``'s: the 'destroy' permission)."""
    out: list[tuple[str, str]] = []
    decision = details.get("decision")
    if details.get("procedure") != REVIEW_PROCEDURE or decision not in DECISIONS:
        out.append(("decision", "{0} is not a decision to keep or to destroy"))
    if not str(details.get("reason") or "").strip():
        out.append((REASON, "{0} is empty: a review decision says why"))
    until = details.get("keep_until")
    if decision == "keep":
        try:
            if dt.date.fromisoformat(str(until)) <= decided_on:
                out.append((KEEP_UNTIL, "{0} is not after the day of the decision"))
        except ValueError:
            out.append((KEEP_UNTIL, "{0} is not a date"))
    elif until is not None:
        out.append((KEEP_UNTIL, "{0} is given with a decision to destroy"))
    if level not in levels or levels.index(level) < levels.index(needed):
        out.append(("level", f"a review decision is kept at the {needed} level or above, the highest of the record's "
                             "entries, since its date tells what they hold"))
    wrote = details.get("review_date")
    if wrote != (review_date.isoformat() if review_date is not None else None):
        out.append((REVIEW_DATE, "the {0} it was taken at is not the record's review date at that time"))
    if state == "awaiting-destruction":
        out.append(("decision", "a review already decided to destroy this record: it awaits destruction"))
    elif review_date is None or review_date > decided_on:
        out.append(("decision", "the record's review date has not come: a review decides once it has"))
    return out


def moved_down(category: Any, old_level: str, new_level: str, levels: Sequence[str]) -> Optional[str]:
    """Why an entry of ``category`` may not move from ``old_level`` down to ``new_level``, or None: a review's
    decision is never moved down ('mark' refuses, verify reports it), since it was kept at the highest level of
    the record's entries (``decision_level``) and a lower one would show its date to holders who do not read
    what set it. Moving it up is harmless."""
    if category != REVIEW_CATEGORY or levels.index(new_level) >= levels.index(old_level):
        return None
    return ("a retention review's decision is not moved down a level: it is kept at the highest level of the "
            "record's entries, since its date tells what they hold")


@dataclass(frozen=True)
class Review:
    """A record's retention: its review date, what sets it, and the decisions taken at its reviews."""

    leaving_date: Optional[str]
    dob: Optional[str]
    requirements: tuple[Requirement, ...]
    decisions: tuple[Decision, ...] = ()
    missing: tuple[str, ...] = field(default_factory=tuple)  # rules that cannot be applied (no date of birth)

    @property
    def computed(self) -> Optional[dt.date]:
        """The latest date the rules require; None while the child has no leaving date, or some rule that
        applies cannot be counted (no date of birth): then no date can be promised."""
        if self.leaving_date is None or self.missing:
            return None
        dates = [r.until for r in self.requirements if r.until is not None]
        return max(dates) if dates else None

    @property
    def latest_decision(self) -> Optional[Decision]:
        return max(self.decisions, key=lambda d: (d.decided_on, d.id)) if self.decisions else None

    @property
    def state(self) -> str:
        """'no-leaving-date', 'no-date' (a rule cannot be counted, or none applies), 'awaiting-destruction'
        (a review decided so), or 'dated'."""
        d = self.latest_decision
        if d is not None and d.decision == "destroy":
            return "awaiting-destruction"
        if d is not None and d.decision == "keep" and d.keep_until is not None:
            return "dated"  # a review's keep-until date stands whatever the leaving date later says
        if self.leaving_date is None:
            return "no-leaving-date"
        if self.date is None:
            return "no-date"
        return "dated"

    @property
    def date(self) -> Optional[dt.date]:
        """The review date: the latest decision's keep-until date, else the rules' date."""
        d = self.latest_decision
        if d is not None and d.decision == "keep" and d.keep_until is not None:
            return dt.date.fromisoformat(d.keep_until)
        return self.computed

    def setting(self) -> tuple[Requirement, ...]:
        """The requirements that set the rules' date (every one whose date is the latest)."""
        c = self.computed
        return tuple(r for r in self.requirements if c is not None and r.until == c)

    def due(self, today: dt.date) -> bool:
        return self.state == "dated" and self.date is not None and self.date <= today


def items_of(general: str, entries: Iterable[Entry]) -> list[Item]:
    """What the rules see of a record: its profile (at the ``general`` level) and each entry as it now stands
    (review decisions left out: they say what happens to the record, they are not the child's file)."""
    out = [Item(PROFILE_ITEM, general, PROFILE_ITEM, None)]
    out += [Item(e.id, e.level, e.category, e.date) for e in entries if e.category != REVIEW_CATEGORY]
    return out


def requirement(rule: Rule, item: Item, dob: Optional[str], leaving: Optional[str]) -> Requirement:
    start = {"leaving": leaving, "birth": dob, "entry": item.date}[rule.start]
    if start is None:
        return Requirement(item, rule, None)
    return Requirement(item, rule, add_period(dt.date.fromisoformat(start[:10]), rule.years, rule.months))


def review(rules: Sequence[Rule], *, dob: Optional[str], leaving_date: Optional[str], items: Iterable[Item],
           decisions: Sequence[Decision] = ()) -> Review:
    """The record's retention from its decrypted profile (``dob``, ``leaving_date``) and items."""
    reqs: list[Requirement] = []
    missing: list[str] = []
    for item in items:
        for rule in rules:
            if rule.applies(item.level, item.category):
                r = requirement(rule, item, dob, leaving_date)
                reqs.append(r)
                if r.until is None and rule.start == "birth" and rule.name not in missing:
                    missing.append(rule.name)
    return Review(leaving_date, dob, tuple(reqs), tuple(decisions), tuple(missing))


__all__ = ["decision_level", "decision_day", "moved_down", "LEAVING_AHEAD", "leaving_problems", "REVIEW_DATE", "REVIEW_CATEGORY", "REVIEW_PROCEDURE", "DECISIONS", "KEEP_UNTIL", "REASON", "decisions_in",
           "review_problems", "STARTS", "PROFILE_ITEM", "DEFAULT_RULES", "DEFAULTS", "Rule", "Rules", "Item", "Requirement", "Decision",
           "Review", "has_left", "parse_period", "add_period", "rule_from", "rules_of", "review", "requirement", "items_of"]
