"""The vault's two policy files: confide.yaml (settings and the rules table) and holders.yaml.

Parsing checks each against its schema (``schemas/settings.schema.json``,
``schemas/holders.schema.json``) and gives the domain's objects
(``model.settings.Settings``, ``model.holders.Holders``); writing gives the bytes
confide commits. ``TEMPLATE`` is the confide.yaml that ``confide init`` writes
(``examples/confide.yaml`` is the same, with every setting explained).
"""

from __future__ import annotations

import json

from vault_cli.errors import IntegrityError
from vault_cli.formats import schema, yamlio
from vault_cli.model.holders import FORMAT, HOLDERS_FILE, Holder, Holders, detail_words
from vault_cli.model.settings import DEFAULT_CATEGORIES, SETTINGS_FILE, Settings

TEMPLATE = """\
# confide.yaml: this vault's settings and the policy confide enforces.
# Edit with care and commit the change; 'confide verify' checks it against
# schemas/settings.schema.json.
format: confide/settings/1

# The setting's name, as it appears on reports and clean copies.
name: {name}

# Confidentiality levels, least to most restricted. Fixed in this format.
#   general:      profile, contacts, dietary and medical needs, routine observations
#   confidential: what parents regard as confidential; injuries, concerns, family changes
#   safeguarding: child protection records and agency correspondence
levels: [general, confidential, safeguarding]

# Roles: who may do what. This table is the one place the rules live: every
# command that acts and 'confide verify' that judges history read it.
#   reads:   levels of *every* record the role reads
#   grants:  levels it may grant to others, and revoke
#   lowers:  levels it may move an entry down from (sharing it more widely)
#   may:     what else it may do (see README, "Roles and rules")
#   key_person: false if it may never be a child's key person
#   granted_with: what a grant *to* this role needs: until (an end date),
#            parent-permission (the parent's written permission, one child at a time)
#   offline: true for a break-glass key that reads but never acts
roles:
  manager:
    description: setting manager
    reads: [general, confidential, safeguarding]
    grants: [general, confidential, safeguarding]
    lowers: [confidential, safeguarding]
    may: [write, manage-holders, change-settings, requests, repudiate, adopt-signing, destroy, approve-destruction, transfer]
  dsl:
    description: designated safeguarding lead
    reads: [general, confidential, safeguarding]
    grants: [safeguarding]
    lowers: [confidential, safeguarding]
    may: [write, requests, approve-destruction, transfer]
  practitioner:
    description: practitioner; reads the general level of every child
    reads: [general]
    lowers: [confidential]
    may: [write]
  student:
    description: student; reads nothing without a grant and the parent's written permission
    reads: []
    lowers: [confidential]
    may: [write]
    key_person: false
    granted_with: [parent-permission]
  auditor:
    description: auditor or inspector; reads only what is granted, for a limited time
    reads: []
    may: []
    key_person: false
    granted_with: [until]
  recovery:
    description: offline break-glass key; reads everything, never acts day to day
    reads: [general, confidential, safeguarding]
    offline: true

# A child's key person reads these levels of that child's record.
key_person_reads: [general, confidential, safeguarding]

# Entry categories. 'confide add --category' accepts only these.
categories:
{categories}
# How long the setting allows itself to answer a parent's request to see
# their child's file: '1 month' (UK GDPR) or fewer days, e.g. '14 days'.
request_deadline: 1 month

# Retention: how long a child's record is kept. Each rule applies to the
# profile and the entries of a record by level and / or category (the profile
# is the category 'profile'; a rule naming neither applies to everything) and
# keeps them for 'keep' counted 'from' the leaving date, the date of birth, or
# the entry's own date. A record's review date is the latest date any of its
# entries (and its profile) requires, once the child has a leaving date; see
# 'confide retention RECORD'. Change them to your setting's policy.
retention:
  rules:
    # EYFS statutory framework 3.71: records kept 'for a reasonable period of
    # time' after the child leaves; settings' policies commonly say 3 years.
    - name: personal-file
      from: leaving
      keep: 3 years
    # Accident and injury records: a child may claim for a personal injury
    # until 3 years after turning 18 (Limitation Act 1980), plus a margin.
    - name: accident-injury
      categories: [accident, injury]
      from: birth
      keep: 21 years 3 months
    # Child protection records: until the child's 25th birthday (IRMS
    # information management toolkit for schools).
    - name: child-protection
      levels: [safeguarding]
      from: birth
      keep: 25 years
    # RIDDOR: records of reportable incidents kept at least 3 years.
    - name: riddor-incident
      categories: [incident]
      from: entry
      keep: 3 years

# Signed history: 'required' (every commit signed by its holder's SSH key,
# checked by every command and by 'confide verify'), or 'unsigned' for
# experiments only (anyone who can push could then write as anyone).
signing: {signing}
"""


def render_template(name: str, *, signing: str = "required") -> str:
    cats = "".join(f"  - {c}\n" for c in DEFAULT_CATEGORIES)
    return TEMPLATE.format(name=json.dumps(name, ensure_ascii=False), categories=cats, signing=signing)


def settings_from_bytes(raw: bytes) -> Settings:
    """Parse and check confide.yaml against its schema."""
    data = yamlio.load_cached(raw, SETTINGS_FILE)
    schema.check("settings", data, SETTINGS_FILE)
    return Settings(data)


def holders_from_bytes(raw: bytes) -> Holders:
    """Parse and check holders.yaml: its schema, and no name given twice."""
    data = yamlio.load_cached(raw, HOLDERS_FILE)
    schema.check("holders", data, HOLDERS_FILE)
    names = [h["name"] for h in data["holders"]]
    if len(set(names)) != len(names):
        raise IntegrityError(f"{HOLDERS_FILE} names a holder twice", "git log -p holders.yaml")
    schema.check_real_dates(data["holders"], ("added", "removed"), HOLDERS_FILE)
    for h in data["holders"]:
        schema.check_real_dates(h.get("previous_signing_keys") or [], ("until",), HOLDERS_FILE)
    return Holders((Holder.from_dict(h) for h in data["holders"]), format=int(data["format"].rsplit("/", 1)[1]))


def dump_holders(holders: Holders, *, merging_format_1: bool = False) -> str:
    """holders.yaml's text (format 2), checked against its schema before it is written. Every staff detail
    must have been sealed first (``services.staff.seal_details``): none is ever written in the clear. Only
    a merge of sides that still keep details in the clear (``merging_format_1``) writes them as they were,
    in format 1, for the next manager's write to seal."""
    fmt = FORMAT
    for h in holders.all:
        for detail in h.plaintext_details():
            if not merging_format_1:
                raise IntegrityError(f"the {detail_words(detail)} of holder '{h.name}' would be written to "
                                     f"{HOLDERS_FILE} in the clear; nothing was written",
                                     "this is a bug in confide: please report it")
            fmt = 1
    data = {"format": f"confide/holders/{fmt}", "holders": [h.to_dict() for h in holders.all]}
    schema.check("holders", data, HOLDERS_FILE)
    return yamlio.dump(data)


__all__ = ["TEMPLATE", "render_template", "settings_from_bytes", "holders_from_bytes", "dump_holders"]
