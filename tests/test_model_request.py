"""A parent's request as its steps' entries tell it (``model/request.py``), and what ``model/disclosure.py`` reads of
them: typed values built from ``Entry`` objects, no vault needed."""

import datetime as dt

from vault_cli.model import disclosure
from vault_cli.model.record import Entry, Person, Profile
from vault_cli.model.request import file_entries, requests_in, third_parties

RQ = "r-01m8p8r01fm423"


def _entry(eid, category, details=None, *, level="confidential", at="2026-11-02", third=(), not_informed=None,
           author="dara", recorded_at="2026-11-02T09:00:00+00:00"):
    return Entry(id=eid, level=level, category=category, text="x", at=at, recorded_at=recorded_at, author=author,
                 parent_view="not-asked", parents_informed=None, parents_not_informed=not_informed,
                 third_parties=tuple(third), corrects=None, details=details)


def _record():
    opening = _entry("e-01m8p8r01fm423", "request", {
        "procedure": "request/1", "requester": "Sam Doe", "relationship": "father", "received": "2026-11-02",
        "deadline": "2026-12-02", "statutory_deadline": "2026-12-02", "acknowledged": "2026-11-03"})
    step = {"request": RQ}
    return [
        opening,
        _entry("e-01m8p8r01fm400", "injury", at="2026-10-01", third=("Dr  Lee",), not_informed="risk"),
        _entry("e-01m8p8r01fm401", "observation", level="safeguarding", at="2026-10-02", third=("dr lee",)),
        _entry("e-01m8p8r01fm500", "request-consent",
               {**step, "procedure": "request-consent/1", "third_party": "Dr Lee", "answer": "refused", "on": "2026-11-05"}),
        _entry("e-01m8p8r01fm501", "request-consent",
               {**step, "procedure": "request-consent/1", "third_party": "DR LEE", "answer": "given", "on": "2026-11-06"}),
        _entry("e-01m8p8r01fm502", "request-decision",
               {**step, "procedure": disclosure.DECISION_PROCEDURE, "entry": "e-01m8p8r01fm400", "decision": "withhold",
                "ground": "serious-harm", "reason": "r1"}),
        _entry("e-01m8p8r01fm503", "request-decision",
               {**step, "procedure": disclosure.DECISION_PROCEDURE, "entry": "e-01m8p8r01fm400", "decision": "disclose",
                "reason": "r2"}),
        _entry("e-01m8p8r01fm504", "request-extend",
               {**step, "procedure": "request-extend/1", "until": "2027-01-02", "reasons": "complex", "told_on": "2026-11-10"}),
        _entry("e-01m8p8r01fm505", "request-override",
               {**step, "procedure": disclosure.OVERRIDE_PROCEDURE, "refusals": ["court-order", "made-up"], "reason": "r"}),
        _entry("e-01m8p8r01fm506", "request-extend", {**step, "procedure": "request-extend/1", "until": "not a date",
                                                      "reasons": "x", "told_on": "2026-11-10"}),  # not well formed
        _entry("e-01m8p8r01fm507", "request-close", {**step, "procedure": "request-close/1", "closed_on": "2027-01-05"}),
    ]


def test_a_request_is_built_from_its_steps_entries_and_malformed_steps_are_not_steps():
    entries = _record()
    found = requests_in(entries, "c-bc7vwf6q")
    assert list(found) == [RQ]
    req = found[RQ]
    assert req.opening.requester == "Sam Doe" and req.opening.acknowledged == "2026-11-03"
    assert req.opening.legal_advice is None
    assert [c.answer for c in req.consents] == ["refused", "given"]
    assert {k: c.answer for k, c in req.answers().items()} == {"dr lee": "given"}  # the latest answer counts
    assert req.decided()["e-01m8p8r01fm400"].decision == "disclose"  # the latest decision counts
    assert req.withheld() == {}
    assert req.deadline == dt.date(2027, 1, 2)  # the malformed extension is ignored
    assert disclosure.overridden(req.overrides, RQ) == {"court-order"}
    assert disclosure.overridden(req.overrides, "r-01m8p8r01fm999") == set()
    assert req.state(dt.date(2027, 1, 6)) == "closed late"
    assert req.summary(dt.date(2026, 11, 20), "Ada")["days_left"] is None
    assert [e.id for e in file_entries(entries)] == ["e-01m8p8r01fm400", "e-01m8p8r01fm401"]
    parties = third_parties(entries)
    assert list(parties) == ["dr lee"] and parties["dr lee"].name == "Dr  Lee"
    assert parties["dr lee"].entries == ["e-01m8p8r01fm400", "e-01m8p8r01fm401"]


def test_which_entries_need_a_decision_and_what_the_profile_refuses():
    entries = _record()
    file = file_entries(entries)
    assert [disclosure.needs_decision(e) for e in file] == [[disclosure.NOT_INFORMED], [disclosure.TOP_LEVEL]]
    decided = requests_in(entries, "c-bc7vwf6q")[RQ].decided()
    assert [e.id for e in disclosure.undecided(file, decided)] == ["e-01m8p8r01fm401"]
    profile = Profile(name="Ada", parents=(Person("Sam  DOE", parental_responsibility=False),), court_orders=" ",
                      fields=("name", "parents", "court_orders"))
    assert disclosure.refusals(profile, "sam doe") == [disclosure.NO_PR]
    assert disclosure.refusals(profile, "Kim Doe") == []
    assert disclosure.requester_listed(profile, "Sam Doe") and not disclosure.requester_listed(None, "Sam Doe")
    assert disclosure.refusals(None, "Sam Doe") == []
