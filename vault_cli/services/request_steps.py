"""The steps of a parents' request, each an encrypted entry of the child's record, one commit each.

open (logged, acknowledged, the deadline set), a third party's consent or refusal,
a decision to withhold an entry from the clean copy (with its ground) or to disclose it, a
manager's override where the child's profile says the requester may not have a copy, an extension for a complex
request, and closing it after the file was gone through with the requester. The
procedure and how a request is read back are ``services.requests``.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.errors import Denied, NotFound, UsageError
from vault_cli.model import disclosure, policy
from vault_cli.model.deadlines import add_months, latest_extension, setting_deadline, statutory_deadline
from vault_cli.services import records, requests
from vault_cli.services.vault import Session


def add_step(session: Session, record_id: str, *, level: str, category: str, text: str, at: Optional[str],
         details: dict, unchanged_since: Optional[str] = None) -> records.WriteResult:
    result = records.add_entry(session, record_id, level=level, category=category, text=text, at=at, details=details,
                               unchanged_since=unchanged_since)
    # The parents-informed duty is about what is recorded of the child; a parent's own
    # request and its handling are not such information (see 'confide due').
    result.warnings = [w for w in result.warnings if "parents are not recorded as informed" not in w]
    return result


def open_request(
    session: Session,
    record_id: str,
    *,
    requester: str,
    relationship: str,
    received: str,
    id_checked: Optional[str] = None,
    acknowledged: Optional[str] = None,
    manager_informed: Optional[str] = None,
    legal_advice: Optional[str] = None,
    notes: Optional[str] = None,
) -> records.WriteResult:
    requester = requests.clean_text(requester, "requester", limit=200)
    relationship = requests.clean_text(relationship, "relationship", limit=200)
    received_d = requests.parse_day(received, "date received")
    requests.not_future(received_d, "date received", session.clock.today())
    ack_d = requests.parse_day(acknowledged, "date acknowledged")
    if ack_d is not None:
        requests.not_future(ack_d, "date acknowledged", session.clock.today())
        if ack_d < received_d:
            raise UsageError("{0} is before {1}", "a request is acknowledged on or after the day it arrives",
                             fields=("date acknowledged", "date received"))
    informed_d = requests.parse_day(manager_informed, "date the manager was informed")
    if informed_d is not None:
        requests.not_future(informed_d, "date the manager was informed", session.clock.today())
    if legal_advice is not None and legal_advice not in requests.LEGAL_ADVICE:
        raise UsageError("{0} takes " + " or ".join(requests.LEGAL_ADVICE), "legal advice is advised where litigation is possible",
                         fields=("legal advice",))
    id_checked = requests.clean_text(id_checked, "how the identity was checked", required=False, limit=500)
    notes = requests.clean_text(notes, "notes", required=False)
    session.vault.check_record_id(record_id)
    actor = requests.require_manager_or_dsl(session, "open a request to see a child's file")
    if informed_d is None and policy.may(session.settings, actor, "manage-holders"):
        informed_d = session.clock.today()  # the manager opens it: the manager knows
    due, capped = setting_deadline(session.settings, received_d)
    details = {
        "procedure": "request/1", "requester": requester, "relationship": relationship,
        "received": received_d.isoformat(), "id_checked": id_checked,
        "acknowledged": ack_d.isoformat() if ack_d else None,
        "manager_informed": informed_d.isoformat() if informed_d else None,
        "legal_advice": legal_advice, "deadline": due.isoformat(),
        "statutory_deadline": statutory_deadline(received_d).isoformat(),
        "deadline_rule": session.settings.request_deadline, "notes": notes,
    }
    text = (f"Request to see the child's records from {requester} ({relationship}), received {received_d.isoformat()}; "
            f"identity checked: {id_checked or 'not recorded'}; to be answered by {due.isoformat()}.")
    result = add_step(session, record_id, level="confidential", category="request", text=text,
                  at=received_d.isoformat(), details=details)
    result.id = requests.request_id_of(result.id)
    if capped:
        result.warnings.append(capped)
    if not id_checked:
        result.warnings.append("how the requester's identity was checked is not recorded (--id-checked)")
    if not ack_d:
        result.warnings.append("the request is not recorded as acknowledged in writing (--acknowledged DATE)")
    if informed_d is None:
        result.warnings.append("the manager is not recorded as informed (--manager-informed DATE)")
    if legal_advice is None:
        result.warnings.append("whether legal advice was sought is not recorded (--legal-advice sought|not-sought)")
    return result


def _open_for_step(session: Session, request_id: str, doing: str, category: str) -> requests.Loaded:
    loaded = requests.load(session, request_id)
    if loaded.request.closed is not None and disclosure.refused_after_close(category):
        raise UsageError(f"request {request_id} is closed, so you cannot {doing}",
                         f"see it with: confide request show {request_id}")
    return loaded


def record_consent(session: Session, request_id: str, *, third_party: str, given: bool, refused: bool,
                   on: Optional[str] = None, notes: Optional[str] = None) -> records.WriteResult:
    if given == refused:
        raise UsageError("say whether consent was given or refused", "add {0} or {1} (one of them)",
                         fields=("consent given", "consent refused"))
    name = requests.clean_text(third_party, "third party", limit=200)
    on_d = requests.parse_day(on, "date of the answer") or session.clock.today()
    requests.not_future(on_d, "date of the answer", session.clock.today())
    notes = requests.clean_text(notes, "notes", required=False)
    session.require_writer()
    loaded = _open_for_step(session, request_id, "record consents", "request-consent")
    if loaded.sealed:
        raise Denied(f"you cannot read {loaded.sealed} entries of this record, so you cannot check its third parties",
                     "ask the manager or the DSL to record the answer")
    parties = requests.third_parties(loaded.entries)
    slot = parties.get(requests.party_key(name))
    if slot is None:
        raise NotFound("no entry of this record names that third party",
                       f"see the third parties as the entries name them: confide request show {request_id}")
    if on_d < loaded.request.received:
        raise UsageError("{0} is before the request was received", "give the date the answer came",
                         fields=("date of the answer",))
    answer = "given" if given else "refused"
    details = {"procedure": "request-consent/1", "request": request_id, "third_party": slot.name, "answer": answer,
               "on": on_d.isoformat(), "notes": notes}
    text = f"Consent to disclosure {answer} by third party {slot.name} on {on_d.isoformat()} (request {request_id})."
    return add_step(session, loaded.request.record, level="confidential", category="request-consent", text=text,
                at=on_d.isoformat(), details=details)


DECIDE, DISCLOSE, GROUND, REASON = "withhold it", "disclose it", "ground", "reason for the decision"  # fields
NOT_TOLD = "without telling the requester"


def _reason(text) -> str:
    """The reason given, or asked for now (``text`` may be a callable: the command line's prompt or stdin, called
    once every check that needs no reason has passed)."""
    if callable(text):
        text = text()
    if text is None or not text.strip():
        raise UsageError("the reason for the decision is empty",
                         "write why, at the prompt or on stdin (never on the command line); nothing was changed")
    return requests.clean_text(text, REASON) or ""


def check_decision(*, withhold: bool, disclose: bool, ground: Optional[str], tell: bool = True) -> None:
    """The decision's flags, checked before anyone is asked for a reason."""
    if withhold == disclose:
        raise UsageError("say whether the entry is withheld or disclosed", "add {0} --ground GROUND, or {1}",
                         fields=(DECIDE, DISCLOSE))
    if withhold and ground not in disclosure.GROUNDS:
        raise UsageError(("{0} is missing" if not ground else "{0} is not one of the grounds the law provides") +
                         "; a withholding needs one of: " + ", ".join(disclosure.GROUNDS),
                         "see what each means: confide request decide --help", fields=(GROUND,))
    if disclose and ground:
        raise UsageError("{0} is for withholding, not disclosing", "leave it out, or withhold with {1}",
                         fields=(GROUND, DECIDE))
    if not tell and ground not in disclosure.UNTOLD_GROUNDS:
        raise UsageError("{0} is only for withholding on " + ", ".join(disclosure.UNTOLD_GROUNDS),
                         "where telling the requester would itself cause that harm; nothing was changed",
                         fields=(NOT_TOLD,))


def decide(session: Session, request_id: str, *, entry_id: str, withhold: bool, disclose: bool,
           ground: Optional[str] = None, reason=None, tell: bool = True) -> records.WriteResult:
    """Record for one request whether an entry is withheld from the clean copy (with its ground) or disclosed;
    ``tell=False``: withheld without the copy saying so (see ``model.disclosure``)."""
    check_decision(withhold=withhold, disclose=disclose, ground=ground, tell=tell)
    requests.require_manager_or_dsl(session, "decide what a clean copy discloses")
    loaded = _open_for_step(session, request_id, "record decisions for it", "request-decision")
    target = next((e for e in requests.file_entries(loaded.entries) if e.id == entry_id), None)
    if target is None:
        raise NotFound(f"{entry_id} is not an entry of this child's file that you can read",
                       f"see the entries to decide on with: confide request show {request_id}")
    reason = _reason(reason)
    decision = "withhold" if withhold else "disclose"
    earlier = loaded.request.decided().get(entry_id)
    level = disclosure.decision_level(target.level)  # it says what the entry is about
    details = {"procedure": disclosure.DECISION_PROCEDURE, "request": request_id, "entry": entry_id,
               "decision": decision, "ground": ground if withhold else None, "reason": reason,
               "needed_because": disclosure.needs_decision(target), "replaces": earlier.id if earlier else None,
               "tell": tell}
    if withhold:
        assert ground is not None  # checked above: a withholding names its ground
        text = (f"Entry {entry_id} withheld from the clean copy for request {request_id} "
                f"(ground: {disclosure.GROUNDS[ground]}"
                f"{'; the requester is not told' if not tell else ''}): {reason}")
    else:
        text = f"Entry {entry_id} to be disclosed in the clean copy for request {request_id}: {reason}"
    result = add_step(session, loaded.request.record, level=level, category="request-decision", text=text, at=None,
                      details=details)
    if earlier is not None:
        result.warnings.append(f"this replaces the earlier decision for {entry_id} ({earlier.decision}, "
                               f"{earlier.on[:10]} by {earlier.by})")
    return result


def override(session: Session, request_id: str, *, reason=None) -> records.WriteResult:
    """A manager lets the clean copy go ahead although the child's profile says it must not, with the reason."""
    actor = session.require_writer()
    policy.require_actor_may_act(session.settings, actor)
    if not policy.may_override_refusal(session.settings, actor):
        raise Denied(f"'{actor.name}' ({actor.role}) may not override what the child's profile says about access",
                     "only a manager (a role that may handle requests and manage holders) may; ask one")
    loaded = _open_for_step(session, request_id, "override its refusals", "request-override")
    req = loaded.request
    if loaded.profile is None:
        raise Denied("you cannot read the child's profile", "ask a manager who reads the record")
    requests.refuse_while_conflicted(loaded.env.head, loaded.env.record)
    pending = disclosure.pending_refusals(loaded.profile, req.opening.requester, req.overrides, request_id)
    if not pending:
        raise UsageError(f"nothing in the child's profile stops the clean copy for request {request_id}",
                         "nothing was changed; an override is recorded only where the profile refuses")
    reason = _reason(reason)
    details = {"procedure": disclosure.OVERRIDE_PROCEDURE, "request": request_id, "refusals": pending,
               "reason": reason}
    text = (f"Clean copy for request {request_id} allowed by a manager although "
            + "; and ".join(disclosure.REFUSALS[r] for r in pending) + f": {reason}")
    return add_step(session, req.record, level="confidential", category="request-override", text=text, at=None,
                    details=details)


def extend(session: Session, request_id: str, *, months: Optional[int] = None, until: Optional[str] = None,
           reasons: str, told_on: str) -> records.WriteResult:
    reasons = requests.clean_text(reasons, "reasons for the extension")
    told_d = requests.parse_day(told_on, "date the requester was told")
    requests.not_future(told_d, "date the requester was told", session.clock.today())
    if (months is None) == (until is None):
        raise UsageError("give the extension as {0} 1|2 or as {1} DATE (one of them)",
                         "a complex request may be extended by up to two further months",
                         fields=("months of extension", "end date"))
    if months is not None and months not in (1, 2):
        raise UsageError("{0} takes 1 or 2", "the law allows up to two further months, no more",
                         fields=("months of extension",))
    until_d = requests.parse_day(until, "end date")
    requests.require_manager_or_dsl(session, "extend a request's deadline")
    loaded = _open_for_step(session, request_id, "extend it", "request-extend")
    req = loaded.request
    statutory = statutory_deadline(req.received)
    limit = latest_extension(req.received)
    if months is not None:
        until_d = add_months(req.received, 1 + months)
    assert until_d is not None
    if until_d > limit:
        raise UsageError(
            f"{until_d.isoformat()} is beyond the statutory limit of {limit.isoformat()} "
            "(one month from receipt and two further months)",
            "an extension may add at most two months to the statutory month; nothing was changed",
        )
    if until_d <= req.deadline:
        raise UsageError(f"{until_d.isoformat()} is not later than the current deadline {req.deadline.isoformat()}",
                         "an extension must move the deadline later")
    if told_d < req.received or told_d > statutory:
        raise UsageError(
            f"the requester must be told of an extension within the first month, by {statutory.isoformat()}",
            "the extension cannot be used now: answer the request by its deadline",
        )
    details = {"procedure": "request-extend/1", "request": request_id, "until": until_d.isoformat(),
               "reasons": reasons, "told_on": told_d.isoformat(), "previous_deadline": req.deadline.isoformat()}
    text = (f"Deadline for request {request_id} extended from {req.deadline.isoformat()} to {until_d.isoformat()}; "
            f"requester told on {told_d.isoformat()}; reasons: {reasons}.")
    return add_step(session, req.record, level="confidential", category="request-extend", text=text,
                at=told_d.isoformat(), details=details)


def close(session: Session, request_id: str, *, met_on: Optional[str] = None, notes: Optional[str] = None,
          no_meeting: Optional[str] = None) -> records.WriteResult:
    met_d = requests.parse_day(met_on, "date of the meeting")
    notes = requests.clean_text(notes, "notes", required=False)
    no_meeting = requests.clean_text(no_meeting, "why there was no meeting", required=False)
    if met_d is None and no_meeting is None:
        raise UsageError("say when the file was gone through with the requester, or why it was not",
                         "add {0} DATE, or {1} REASON", fields=("date of the meeting", "why there was no meeting"))
    if met_d is not None and no_meeting is not None:
        raise UsageError("{0} and {1} contradict each other", "give one of them",
                         fields=("date of the meeting", "why there was no meeting"))
    if met_d is not None:
        requests.not_future(met_d, "date of the meeting", session.clock.today())
    requests.require_manager_or_dsl(session, "close a request")
    loaded = _open_for_step(session, request_id, "close it again", "request-close")
    req = loaded.request
    if met_d is not None and met_d < req.received:
        raise UsageError("{0} is before the request was received", "give the date of the meeting",
                         fields=("date of the meeting",))
    today = session.clock.today()
    details = {"procedure": disclosure.CLOSE_PROCEDURE, "request": request_id,
               "met_on": met_d.isoformat() if met_d else None, "no_meeting": no_meeting, "notes": notes,
               "closed_on": today.isoformat(), "deadline": req.deadline.isoformat(),
               "exports": len(req.exports)}
    if met_d:
        text = f"Request {request_id} closed: the file was gone through with the requester on {met_d.isoformat()}."
    else:
        text = f"Request {request_id} closed without a meeting: {no_meeting}."
    if notes:
        text += f" {notes}"
    result = add_step(session, req.record, level="confidential", category="request-close", text=text,
                  at=(met_d or today).isoformat(), details=details)
    if not req.exports:
        result.warnings.append(f"no clean copy was prepared for request {request_id}")
    if today > req.deadline:
        result.warnings.append(f"request {request_id} was closed after its deadline of {req.deadline.isoformat()}")
    return result


__all__ = ["open_request", "record_consent", "check_decision", "decide", "override", "extend", "close", "add_step"]
