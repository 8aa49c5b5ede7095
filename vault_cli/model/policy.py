"""Who may read and do what: the setting's policy as one table of rules.

The rows live in ``confide.yaml`` (``roles``: what each role reads, grants and
lowers, what else it ``may`` do, whether it may be a key person, what a grant
*to* it needs); this module is the only code that reads them. The commands
that act ask it before they change anything, and ``confide verify`` asks it,
with the same arguments, of every commit in history, so a rule that a command
enforces is a rule that verify checks. No role name appears in code: a custom
role in ``confide.yaml`` is judged exactly like the default ones.

Readers of a level of a record (docs/design.md, "Level keys, generations and wrapped copies"): every
active holder whose role reads that level of every record, the child's key
person for the levels in ``key_person_reads``, and explicit grants, minus
revocations recorded in the record. The envelope's wrapped copies are kept
within this set; cryptography, not this module, enforces it on read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from vault_cli.errors import Denied
from vault_cli.model.holders import Holder, Holders
from vault_cli.model.levels import grants_from_json, revocations_from_json
from vault_cli.model.settings import Role, Settings

# What each permission of a role's ``may`` list allows (documentation and error messages).
PERMISSIONS = {
    "write": "add entries, create records, change profiles, mark entries",
    "manage-holders": "add, remove and re-key key holders, and declare their signing keys",
    "change-settings": "change confide.yaml and the vault's git settings files",
    "requests": "open, extend, export and close parents' requests to see a file, and decide what each copy discloses",
    "repudiate": "repudiate commits that do not verify, restoring the last verified state",
    "adopt-signing": "vouch for a vault's unsigned early history and require signatures from then on",
    # Rows for the record's end of life (retention, destruction, transfer to the next setting): 'confide review'
    # asks 'destroy' (and verify asks it of every review decision in history); the commands that ask the
    # others come with that work, the rows are here so that settings written now already say who will be allowed to.
    "destroy": "decide a record's retention review, place and lift legal holds, and destroy a record whose review "
               "decided so (with a second person's approval)",
    "approve-destruction": "be the second person who approves a destruction",
    "transfer": "send a child's file to the next setting or school",
}

# Level rules: (role field, what it allows).
LEVEL_RULES = {
    "reads": "read this level of every record",
    "grants": "grant this level to others and revoke it",
    "lowers": "move an entry down from this level (sharing it more widely)",
}


def role_of(settings: Settings, holder: Optional[Holder]) -> Optional[Role]:
    return settings.roles.get(holder.role) if holder is not None else None


# ---------------------------------------------------------------------------
# The rules


def acts(settings: Settings, holder: Optional[Holder]) -> bool:
    """An active holder whose role is used day to day (not an offline break-glass key)."""
    role = role_of(settings, holder)
    return bool(role and holder is not None and holder.active and role.acts)


def may(settings: Settings, holder: Optional[Holder], permission: str) -> bool:
    """May ``holder`` do ``permission`` (one of ``PERMISSIONS``)?"""
    assert permission in PERMISSIONS, permission
    role = role_of(settings, holder)
    return bool(role and holder is not None and holder.active and role.acts and permission in role.may)


def may_level(settings: Settings, holder: Optional[Holder], rule: str, level: str) -> bool:
    """May ``holder`` read / grant / lower ``level`` by role (``rule`` in ``LEVEL_RULES``)?"""
    assert rule in LEVEL_RULES, rule
    role = role_of(settings, holder)
    if not role or holder is None or not holder.active:
        return False
    if rule == "reads":
        return level in role.reads
    return role.acts and level in getattr(role, rule)


def may_grant(settings: Settings, holder: Optional[Holder], level: str) -> bool:
    return may_level(settings, holder, "grants", level)


def may_hand_over(settings: Settings, holder: Optional[Holder]) -> list[str]:
    """The key-person levels ``holder`` may not grant (empty: they may hand a child to a new key person)."""
    return [lv for lv in settings.key_person_reads if not may_grant(settings, holder, lv)]


def may_override_refusal(settings: Settings, holder: Optional[Holder]) -> bool:
    """May ``holder`` let a clean copy go to a requester whom the child's profile says it must not (no parental
    responsibility, a court order)? Only a manager: one who handles requests and manages the key holders."""
    return may(settings, holder, "requests") and may(settings, holder, "manage-holders")


def may_be_key_person(settings: Settings, holder: Optional[Holder]) -> bool:
    role = role_of(settings, holder)
    return bool(role and holder is not None and holder.active and role.acts and role.key_person and "write" in role.may)


def grant_needs(settings: Settings, holder: Holder) -> tuple[str, ...]:
    """What a grant *to* ``holder`` must carry: 'until', 'parent-permission' (one record at a time)."""
    role = role_of(settings, holder)
    return role.granted_with if role else ()


def is_recovery(settings: Settings, holder: Holder) -> bool:
    """A break-glass key: offline, and reads every level."""
    role = role_of(settings, holder)
    return bool(role and role.offline and set(settings.levels) <= set(role.reads))


def managers(settings: Settings, holders: Holders) -> list[Holder]:
    return [h for h in holders.active() if may(settings, h, "manage-holders")]


# Staff details (``model.holders.STAFF_DETAILS``): who reads each, by what their role ``may`` do. They are
# sealed in holders.yaml for exactly these holders and a recovery key: the display name for whoever
# prepares a parent's copy (which names staff by it) or manages holders, the removal reason for managers.
STAFF_READERS = {
    "display_name": ("manage-holders", "requests"),
    "removed_reason": ("manage-holders",),
}


def staff_readers(settings: Settings, holders: Holders, detail: str) -> list[str]:
    """The holders a staff detail is sealed for: active holders whose role may one of its permissions, and
    any recovery key (which reads everything). Sorted, so the same people give the same list."""
    perms = STAFF_READERS[detail]
    return sorted(h.name for h in holders.active()
                  if any(may(settings, h, p) for p in perms) or is_recovery(settings, h))


def readers_for(
    settings: Settings,
    holders: Holders,
    head: dict[str, Any],
    level: str,
    today: Optional[dt.date],
) -> set[str]:
    names: set[str] = set()
    for h in holders.active():
        if may_level(settings, h, "reads", level):
            names.add(h.name)
    kp = head.get("key_person")
    if kp and level in settings.key_person_reads:
        holder = holders.find(kp)
        if holder is not None and holder.active:
            names.add(kp)
    for r in revocations_from_json(head.get("revoked")):  # role or key-person access revoked for this record
        if r.level == level:
            names.discard(r.holder)
    for g in grants_from_json(head.get("grants")):
        if g.level == level and g.live(today):  # today None: end dates aside, as merges and verify's invariants ask
            holder = holders.find(g.holder)
            if holder is not None and holder.active:
                names.add(g.holder)
    return names


def may_make_key(settings: Settings, holders: Holders, head: dict[str, Any], holder: Optional[Holder], level: str) -> bool:
    """May ``holder`` start a new generation of a level's key? Whoever makes a key knows its secret,
    so only a holder who reads that level of the record (end dates aside) may."""
    return holder is not None and holder.name in readers_for(settings, holders, head, level, None)


def reasons_for(settings: Settings, holders: Holders, head: dict[str, Any], holder: Holder, level: str, today: dt.date) -> list[str]:
    """Why a holder reads a level of a record (for ``confide access``)."""
    out: list[str] = []
    if may_level(settings, holder, "reads", level):
        out.append(f"role {holder.role}")
    if head.get("key_person") == holder.name and level in settings.key_person_reads:
        out.append("key person")
    if any(r.is_for(holder.name, level) for r in revocations_from_json(head.get("revoked"))):
        out = []  # 'confide revoke' took away the role / key-person access to this record
    for g in grants_from_json(head.get("grants")):
        if g.is_for(holder.name, level) and g.live(today):
            out.append("grant" + (f" until {g.until}" if g.until else ""))
    return out


# ---------------------------------------------------------------------------
# Refusals: the same rules as errors that name who may


def _who_may(settings: Settings, permission: Optional[str] = None, rule: Optional[str] = None,
             level: Optional[str] = None) -> str:
    names = []
    for name, role in settings.roles.items():
        if role.offline:
            continue
        if permission and permission in role.may or rule and level in getattr(role, rule):
            names.append(name)
    return ", ".join(names) or "no role in confide.yaml"


def require_actor_may_act(settings: Settings, actor: Holder) -> None:
    if not acts(settings, actor):
        raise Denied(
            f"holder '{actor.name}' is a {actor.role} key and is never used for day-to-day commands",
            "act with your own identity; an offline break-glass key is for recovery only",
        )


def require(settings: Settings, actor: Holder, permission: str, doing: str) -> None:
    """Refuse unless ``actor`` may ``permission``; ``doing`` says what was asked, in words."""
    require_actor_may_act(settings, actor)
    if not may(settings, actor, permission):
        raise Denied(
            f"'{actor.name}' ({actor.role}) may not {doing}",
            f"roles that may ({PERMISSIONS[permission]}): {_who_may(settings, permission=permission)}; "
            "ask one of them to run it",
        )


def require_writer(settings: Settings, actor: Holder) -> None:
    require(settings, actor, "write", "write to the vault")


def require_holder_manager(settings: Settings, actor: Holder) -> None:
    require(settings, actor, "manage-holders", "change key holders")


def require_level(settings: Settings, actor: Holder, rule: str, level: str, doing: str) -> None:
    """Refuse unless ``actor``'s role may ``rule`` (grants / lowers) ``level``."""
    require_actor_may_act(settings, actor)
    if not may_level(settings, actor, rule, level):
        raise Denied(
            f"'{actor.name}' ({actor.role}) may not {doing}",
            f"roles that may {LEVEL_RULES[rule].replace('this level', 'the ' + level + ' level')}: "
            f"{_who_may(settings, rule=rule, level=level)}",
        )


# ---------------------------------------------------------------------------
# Signed history


def signatures_required(settings: Settings, holders: Holders) -> bool:
    """Must every commit be signed by its holder? ``signing`` in confide.yaml says; a vault made before
    that setting existed required them once every holder who writes had a signing key (or when
    ``require_signatures`` said so), and its history is judged by that rule."""
    if settings.signing is not None:
        return settings.signing == "required"
    legacy = settings.data.get("require_signatures")
    if legacy is not None:
        return bool(legacy)
    committers = [h for h in holders.active() if may(settings, h, "write")]
    return bool(committers) and all(h.signing_key for h in committers)


# ---------------------------------------------------------------------------
# Dates an entry may carry: what 'add', 'mark' and 'import' refuse, and verify reports from history

# Two allowances for clocks, and why they differ. An entry's time is judged against the clock of the machine
# that writes it: the command's clock as it writes, and in verify the date of the commit that added it (the
# same machine's clock, a moment later); that machine's clock against itself needs only CLOCK_ALLOWANCE, the
# same for both. A commit's date is judged in verify against the verifier's own clock, on another machine,
# whose clock may differ by more, and a finding there stops every command on that vault until a manager
# repudiates the commit: COMMIT_DATE_ALLOWANCE is wide enough never to stop a vault over ordinary drift or a
# time zone set wrong. An entry dated into the future by as much as a commit dated alike is thus a finding only
# beyond COMMIT_DATE_ALLOWANCE + CLOCK_ALLOWANCE of the verifier's clock (and the commit's signer is named).
CLOCK_ALLOWANCE = dt.timedelta(minutes=5)  # an entry's time after its writer's clock (command) or its commit (verify)
COMMIT_DATE_ALLOWANCE = dt.timedelta(days=1)  # a commit's date after the verifier's clock
WHEN, INFORMED = "time it happened", "date parents were informed"  # fields, as errors name them


def _start(value: str, tz: Optional[dt.tzinfo]) -> dt.datetime:
    """An entry's time as an aware instant: a date alone (YYYY-MM-DD) is the start of that day."""
    if len(value) == 10:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(0, 0), tzinfo=tz)
    return dt.datetime.fromisoformat(value)


def date_problems(at: Optional[str], parents_informed: Optional[str], now: dt.datetime) -> list[tuple[str, str]]:
    """What cannot be right about an entry's dates when it is written at ``now`` (an aware time): its time
    after now (beyond ``CLOCK_ALLOWANCE``), parents informed after now or before it happened.

    Returns (field, sentence) pairs; each sentence names its field as ``{0}`` and no value, so
    neither a command's refusal nor a verify finding repeats what was written.
    """
    out: list[tuple[str, str]] = []
    latest = now + CLOCK_ALLOWANCE
    if at is not None:
        when = _start(at, now.tzinfo)
        if when > latest:
            out.append((WHEN, "{0} is in the future"))
    if parents_informed is not None:
        told = dt.date.fromisoformat(parents_informed)
        if told > latest.date():
            out.append((INFORMED, "{0} is in the future"))
        elif at is not None and told < _start(at, now.tzinfo).date():
            out.append((INFORMED, "{0} is before the entry's date: parents cannot be told of something before it happened"))
    return out


# ---------------------------------------------------------------------------
# Sharing decisions ('confide share', golden rule 7): what the record of one must hold; verify asks the same
# of every one in history (at its commit's date)

SHARING_PROCEDURE = "information-sharing/1"
SHARING_DECISIONS = ("shared", "not-shared")
SHARING_CONSENT = ("given", "refused", "not-sought")
# fields, as errors name them (the command line: --with, --basis, --consent, --reason, --on, --level)
SHARED_WITH, BASIS, CONSENT, REASON, DECIDED_ON, LEVEL = (
    "who it was shared with", "lawful basis", "consent", "reason", "date of the decision", "level")


def sharing_problems(levels: tuple[str, ...], level: str, details: dict[str, Any], third_parties: list[str],
                     now: dt.datetime) -> list[tuple[str, str]]:
    """What cannot be right about a sharing decision recorded at ``now`` (an aware time): (field, sentence) pairs,
    in the order the command checks them; each sentence names its field as ``{0}`` and repeats nothing written."""
    out: list[tuple[str, str]] = []
    shared = details.get("decision") == "shared"
    if details.get("procedure") != SHARING_PROCEDURE or details.get("decision") not in SHARING_DECISIONS:
        out.append(("decision", "{0} is not a decision to share or not to share"))
    if shared and not str(details.get("basis") or "").strip():
        out.append((BASIS, "{0} is empty"))
    consent = details.get("consent")
    if consent not in SHARING_CONSENT:
        out.append((CONSENT, "{0} is not an answer confide records"))
    elif not str(details.get("reason") or "").strip() and (not shared or consent != "given"):
        out.append((REASON, "{0} is needed: " + ("why information is shared with consent " + consent if shared
                                                  else "why it was decided not to share")))
    on = details.get("on")
    try:
        if on is not None and dt.date.fromisoformat(on) > (now + CLOCK_ALLOWANCE).date():
            out.append((DECIDED_ON, "{0} is in the future"))
    except (TypeError, ValueError):
        out.append((DECIDED_ON, "{0} is not a date"))
    if level == levels[0]:
        out.append((LEVEL, f"a sharing decision is not {levels[0]} information"))
    with_whom = details.get("with")
    if not isinstance(with_whom, str) or with_whom not in third_parties:
        out.append((SHARED_WITH, "{0} is not among the entry's third parties"))
    return out
