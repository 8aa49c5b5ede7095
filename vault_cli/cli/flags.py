"""The flag that gives each field the library's errors name (``errors.ConfideError.fields``).

The library says "{0} needs a date as YYYY-MM-DD" about the field "date of
birth"; the command line says it about ``--dob``. A field missing here is shown
in its own words (a profile field such as ``dob`` in ``child set dob=...`` is
named as the user typed it). ``tests/test_architecture.py`` checks that every
field the library names is here.
"""

from __future__ import annotations

FLAGS = {
    # children and entries
    "child's name": "--name",
    "date of birth": "--dob",
    "entry text": "--text",
    "parent view": "--parent-view",
    "date parents were informed": "--parents-informed",
    "why parents were not informed": "--parents-not-informed",
    "third party": "--third-party",
    "time it happened": "--at",
    "corrected entry": "--corrects",
    "level": "--level",
    "category": "--category",
    "reason": "--reason",
    # access
    "child's record": "--child",
    "every record": "--all",
    "end date": "--until",
    "date of the parent's permission": "--parent-permission",
    "days ahead": "--within",
    "start date": "--since",
    # children by name
    "add a second child": "--force",
    "sort order": "--sort",
    "leaving before": "--leaving-before",
    "leaving after": "--leaving-after",
    "leaving date": "--date",
    # retention reviews
    "keep-until date": "--keep-until",
    "reason for the review decision": "--reason",
    # holders and keys
    "recipient": "--recipient",
    "display name": "--display-name",
    "signing key": "--signing-key",
    "new identity file": "--new-identity",
    "identity file": "--identity",
    "signing key file": "--signing-key-file",
    "key file": "--out",
    "vault folder": "--vault",
    "setting's name": "--name",
    "object format": "--object-format",
    "no signatures": "--unsigned",
    # history
    "start commit": "--since",
    "commit to restore": "--to",
    "vault's identity": "--trust",
    # parents' requests
    "requester": "--requester",
    "relationship": "--relationship",
    "date received": "--received",
    "date acknowledged": "--acknowledged",
    "date the manager was informed": "--manager-informed",
    "legal advice": "--legal-advice",
    "how the identity was checked": "--id-checked",
    "notes": "--notes",
    "consent given": "--given",
    "consent refused": "--refused",
    "date of the answer": "--on",
    "ground": "--ground",
    "reasons for the extension": "--reasons",
    "date the requester was told": "--told-on",
    "months of extension": "--months",
    "date of the meeting": "--met-on",
    "why there was no meeting": "--no-meeting",
    "clean copy file": "--out",
    "replace it": "--force",
    "withhold it": "--withhold",
    "disclose it": "--disclose",
    "without telling the requester": "--not-told",
    "reason for the decision": "the reason",
    # sharing decisions
    "who it was shared with": "--with",
    "what was shared": "--what",
    "purpose": "--purpose",
    "lawful basis": "--basis",
    "consent": "--consent",
    "date of the decision": "--on",
    "how it was shared": "--how",
    "advice": "--advice",
    # import
    "file format": "--format",
}
