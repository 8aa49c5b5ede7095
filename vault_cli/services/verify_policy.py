"""verify's rules for who signed a commit and for the vault's policy files (confide.yaml, holders.yaml).

Mixed into ``verify.Verifier``. A commit's signer must be the holder it claims
to be, by a key history declared for them; a vault that requires signatures
never stops requiring them; holders.yaml changes only as the holder commands
change it (a holder added by whoever adds them, removed for good, a key
replaced only by a recorded rotation, no key ever used twice); confide.yaml
and the git settings files are changed only by a role that may; legal holds as
``services.verify_holds`` says.
"""

from __future__ import annotations

from typing import Optional

from vault_cli.adapters import signing
from vault_cli.adapters.gitlog import CommitInfo
from vault_cli.errors import IntegrityError
from vault_cli.formats import holdfile, signers
from vault_cli.model import policy
from vault_cli.model.holders import FORMAT, HOLDERS_FILE, Holder, Holders, detail_words
from vault_cli.model.settings import SETTINGS_FILE, Settings
from vault_cli.services import staff, verify_holds
from vault_cli.services.verify_records import Ctx
from vault_cli.services.verify_versions import VerifierState

POLICY_FILES = {SETTINGS_FILE, HOLDERS_FILE}
SETTINGS_FILES = {".gitattributes", ".gitignore"}


class PolicyChecks(VerifierState):
    """Provided by ``verify.Verifier``: add, blob, _modes, holders_of, settings_of, parse_error, paths (see ``VerifierState``)."""

    # -- the tree ------------------------------------------------------------------
    def check_tree_shape(self, c: CommitInfo) -> None:
        """A vault's tree holds regular files, each path once. git accepts a tree with a path twice (reading
        ``COMMIT:PATH`` then gives one entry while a diff shows the other) or a gitlink where a record was:
        commands would read what verify never judged."""
        seen: set = set()
        for path, mode in self._modes.get(c.sha, []):
            if path in seen:
                self.add(c.sha, path, "tree", f"the commit's tree holds {path} twice: a malformed tree, made by hand")
            seen.add(path)
            if mode not in ("100644", "000000"):
                what = {"160000": "a submodule link", "120000": "a symbolic link", "100755": "an executable file",
                        "040000": "a folder"}.get(mode, f"mode {mode}")
                self.add(c.sha, path, "tree", f"{path} is {what}, not a regular file: a vault holds only confide's files")

    # -- signatures --------------------------------------------------------------
    def check_signature(self, c: CommitInfo, holders: Holders, settings: Settings,
                        required: Optional[bool] = None) -> Optional[Holder]:
        claimed = holders.find(c.claimed)
        if c.author and c.trailers.get("Confide-Holder") and c.author != c.trailers["Confide-Holder"]:
            self.add(c.sha, None, "author", f"the commit's author '{c.author}' is not the holder its trailer names ('{c.claimed}')")
        if required is None:
            required = policy.signatures_required(settings, holders)
        sig = c.sig
        if sig.status == "unsigned":
            if required:
                self.add(c.sha, None, "unsigned", f"the commit is not signed (it claims to be by '{c.claimed}')")
            else:
                self.unsigned += 1
                if self.unsigned_policy_note is None:
                    self.unsigned_policy_note = (
                        "this vault does not require signatures (signing: unsigned in confide.yaml)" if settings.signing == "unsigned"
                        else "this vault's early history was made without required signatures")
            return claimed
        if sig.status == "bad":
            self.add(c.sha, None, "signature", f"the commit's signature is not valid: {sig.detail}")
            return claimed
        assert sig.key is not None  # a good signature names its key (signing.verify_commit)
        blob = signing.parse_public_key(sig.key)
        signer = next((h for h in holders.all if h.signing_key and signing.parse_public_key(h.signing_key) == blob), None)
        if signer is None:
            former = next((h for h in holders.all if any(signing.parse_public_key(k["key"]) == blob
                                                         for k in (h.previous_signing_keys or []))), None)
            if former is not None:
                self.add(c.sha, None, "signer", f"the commit is signed with a key '{former.name}' no longer used at that point (it was replaced)")
            else:
                self.add(c.sha, None, "signer", f"the commit is signed by a key that was not any holder's at that point ({signing.fingerprint(sig.key)})")
            return None
        if not signer.active:
            self.add(c.sha, None, "signer", f"the commit is signed by '{signer.name}', who was not an active holder at that point")
            return None
        if signer.name != c.claimed:
            self.add(c.sha, None, "signer", f"the commit says it is by '{c.claimed}' but was signed by '{signer.name}'")
        return signer

    # -- files other than records ---------------------------------------------------
    def check_change(self, ctx: Ctx, path: str, old: Optional[str], new: Optional[str], before: dict, after: dict) -> None:
        c = ctx.c
        if path in POLICY_FILES or path in SETTINGS_FILES:
            need = "manage-holders" if path == HOLDERS_FILE else "change-settings"
            if c.parents and not ctx.may(need) and not (path == SETTINGS_FILE and c.action == "vault.adopt-signing"
                                                        and ctx.may("adopt-signing")):
                self.add(c.sha, path, "role", f"{path} was changed by '{ctx.name}', whose role may not ({policy.PERMISSIONS[need]})")
            if new is None:
                self.add(c.sha, path, "removed", f"{path} was removed")
                return
            if path == HOLDERS_FILE:
                new_h = self.holders_of(after)
                if new_h is None:
                    self.add(c.sha, path, "schema", self.parse_error(after.get(path), "holders.yaml"))
                else:
                    if c.parents:
                        self.check_holders_change(ctx, self.holders_of(before) or Holders([]), new_h)
                    if len(c.parents) <= 1:
                        self.check_staff_details(ctx, self.holders_of(before) if c.parents else None, new_h)
                if signers.ALLOWED_SIGNERS_FILE in after:
                    self.check_allowed_signers(ctx, after)
            elif path == SETTINGS_FILE:
                new_s = self.settings_of(after)
                if new_s is None:
                    self.add(c.sha, path, "schema", self.parse_error(after.get(path), "confide.yaml"))
                elif c.parents:
                    self.check_settings_change(ctx, self.settings_of(before), new_s)
            return
        if path == signers.ALLOWED_SIGNERS_FILE:
            if new is not None:
                self.check_allowed_signers(ctx, after)
            return
        if path == "records/.gitkeep":
            if new is not None and (self.blob(new) or b""):
                self.add(c.sha, path, "file-name", "records/.gitkeep holds something: it is an empty placeholder")
            elif c.parents and not ctx.may("write"):
                self.add(c.sha, path, "role", f"{path} was changed by '{ctx.name}', whose role may not write")
            return
        if path.startswith(holdfile.HOLDS_DIR + "/"):
            verify_holds.check(self, ctx, path, old, new)  # legal holds: placed and released by managers only
            return
        if new is not None:
            self.add(c.sha, path, "file-name",
                     f"unexpected file {path}: a vault holds only confide's files, records/<id>.yaml and records/<id>.entries.yaml")

    def check_allowed_signers(self, ctx: Ctx, after: dict) -> None:
        holders = self.holders_of(after)
        if holders is None:
            return
        expected = signers.allowed_signers_text(holders).encode()
        actual = self.blob(after.get(signers.ALLOWED_SIGNERS_FILE))
        if actual != expected:
            self.add(ctx.c.sha, signers.ALLOWED_SIGNERS_FILE, "allowed-signers", "allowed_signers does not match the signing keys in holders.yaml")

    def check_holders_change(self, ctx: Ctx, old: Holders, new: Holders) -> None:
        """What the holder commands may change: add a holder, remove one, rotate a key, declare a signing key."""
        c, path = ctx.c, HOLDERS_FILE
        if not policy.managers(ctx.after_settings, new):
            self.add(c.sha, path, "lockout", "no active holder who may manage holders is left: the vault's owners are locked out")
        old_by = {h.name: h for h in old.all}
        used: dict = {}
        for h in old.all:
            for r in [h.recipient, *h.previous_recipients]:
                used.setdefault(r, h.name)
            for k in [h.signing_key, *[x["key"] for x in h.previous_signing_keys or []]]:
                if k:
                    used.setdefault(k, h.name)
        if [h.name for h in new.all][:len(old.all)] != [h.name for h in old.all]:
            self.add(c.sha, path, "holder", "a holder was deleted from or moved in holders.yaml (holders are only ever added, and kept when removed)")
        for h in new.all:
            was = old_by.get(h.name)
            if was is None:
                if h.added_by != ctx.name or not h.active:
                    self.add(c.sha, path, "holder", f"holder '{h.name}' was added as by '{h.added_by}' in a commit by '{ctx.name}'")
                if h.role not in ctx.after_settings.roles:
                    self.add(c.sha, path, "holder", f"holder '{h.name}' has the role '{h.role}', which confide.yaml does not define")
                for k in (h.recipient, h.signing_key):
                    if k and used.get(k) not in (None, h.name):
                        self.add(c.sha, path, "holder", f"holder '{h.name}' was given a key that belongs to '{used[k]}'")
                continue
            if (was.role, was.added, was.added_by) != (h.role, h.added, h.added_by):
                self.add(c.sha, path, "holder", f"holder '{h.name}' had their role or origin changed (no command does that)")
            if not was.active and h.active:
                self.add(c.sha, path, "holder", f"removed holder '{h.name}' was made active again")
            if was.active and not h.active and (h.removed_by != ctx.name or c.action != "holder.remove"):
                self.add(c.sha, path, "holder", f"holder '{h.name}' was removed outside 'confide holder remove' by '{ctx.name}'")
            if was.recipient != h.recipient:
                if c.action != "holder.rotate" or h.previous_recipients != [*was.previous_recipients, was.recipient]:
                    self.add(c.sha, path, "holder", f"the key of holder '{h.name}' was replaced outside a recorded rotation")
                elif used.get(h.recipient) not in (None,):
                    self.add(c.sha, path, "holder", f"holder '{h.name}' was rotated to a key used before (by '{used[h.recipient]}')")
            elif h.previous_recipients != was.previous_recipients:
                self.add(c.sha, path, "holder", f"the retired keys of holder '{h.name}' were changed")
            if was.signing_key != h.signing_key:
                if was.signing_key and h.previous_signing_keys[:-1] != was.previous_signing_keys or (
                        was.signing_key and (h.previous_signing_keys or [{}])[-1].get("key") != was.signing_key):
                    self.add(c.sha, path, "holder", f"the signing key of holder '{h.name}' was replaced without keeping the old one")
                owner = used.get(h.signing_key) if h.signing_key else None
                if owner not in (None, h.name):
                    self.add(c.sha, path, "holder", f"holder '{h.name}' was given the signing key of '{owner}'")
                elif owner == h.name and not (h.signing_key == h.recipient == was.recipient):
                    self.add(c.sha, path, "holder", f"holder '{h.name}' was given back a key they used before (a replaced "
                             "key is never used again)")
            elif was.recipient != h.recipient and was.signing_key:
                self.add(c.sha, path, "holder", f"holder '{h.name}' was rotated to a new key but kept the old signing key "
                         "(a lost key signs as well as reads: a rotation replaces both)")
            elif h.previous_signing_keys != was.previous_signing_keys:
                self.add(c.sha, path, "holder", f"the replaced signing keys of holder '{h.name}' were changed")

    def check_staff_details(self, ctx: Ctx, old: Optional[Holders], new: Holders) -> None:
        """Staff details sealed (``services.staff``): none kept in the clear once holders.yaml is format 2, no
        going back to format 1, each sealed only for holders who may read it now (``policy.staff_readers``),
        and sealed anew when one of them rotates their key. (verify sees the names a block is listed for, not
        whom age sealed it for: a manager's 'holder list' opens them.) A merge is judged as a merge."""
        c, path = ctx.c, HOLDERS_FILE
        if old is not None and old.format >= FORMAT > new.format:
            self.add(c.sha, path, "staff-details", f"{path} went back to format {new.format}, which keeps staff "
                     "details in the clear")
            return
        if new.format < FORMAT:
            return  # a vault made before staff details were sealed: the next manager's write seals them
        settings = ctx.after_settings or ctx.settings
        old_by = {h.name: h for h in old.all} if old is not None else {}
        for h in new.all:
            for detail in h.plaintext_details():
                self.add(c.sha, path, "staff-details", f"the {detail_words(detail)} of holder '{h.name}' is kept in the "
                         f"clear in {path} (staff details are sealed for those who may read them)")
            for detail, block in h.sealed.items():
                readers = policy.staff_readers(settings, new, detail)
                stray = [n for n in block["for"] if n not in readers]
                if stray:
                    self.add(c.sha, path, "staff-details", f"the {detail_words(detail)} of holder '{h.name}' is sealed for "
                             f"{', '.join(stray)}, who may not read it")
                was = old_by.get(h.name)
                self._check_version_kept(ctx, h, detail, block, was)
                if (c.action == "holder.rotate" and c.trailers.get("Confide-Subject") in block["for"]
                        and was is not None and was.sealed.get(detail, {}).get("data") == block["data"]):
                    self.add(c.sha, path, "staff-details", f"the {detail_words(detail)} of holder '{h.name}' was not sealed "
                             f"anew when '{c.trailers.get('Confide-Subject')}', one of its readers, rotated their key")

    def _check_version_kept(self, ctx: Ctx, h: Holder, detail: str, block: dict, was: Optional[Holder]) -> None:
        """A detail sealed anew keeps its version only if its value is the same (``services.staff``): a merge
        takes an unchanged version for a reseal. Judged by a verifier whose key opens both blocks."""
        if was is None:
            return
        before = was.sealed.get(detail)
        if (before is None or not self.reader.identities or before.get("version") != block.get("version")
                or before.get("version") is None or before["data"] == block["data"]):
            return
        try:
            values = [staff.open_detail(x, detail, self.reader.identities) for x in (was, h)]
        except IntegrityError:
            return  # a damaged block: reported where holders.yaml is read
        if None in values:
            self.reader.unopened += 1
        elif values[0] != values[1]:
            self.add(ctx.c.sha, HOLDERS_FILE, "staff-details",
                     f"the {detail_words(detail)} of holder '{h.name}' was changed but kept its version (a merge "
                     "would take the change for the same value sealed anew)")

    def check_settings_change(self, ctx: Ctx, old: Optional[Settings], new: Settings) -> None:
        c = ctx.c
        before = old.signing if old else None
        required_before = policy.signatures_required(old, ctx.holders) if old else False
        if required_before and new.signing != "required":
            self.add(c.sha, SETTINGS_FILE, "signing", "the vault's signing policy was lowered: once signatures are required they always are")
        if not required_before and new.signing == "required":
            if c.action != "vault.adopt-signing" or c.sig.status != "good" or c.trailers.get("Confide-Attests") != (c.parents or [""])[0]:
                self.add(c.sha, SETTINGS_FILE, "signing", "signatures were made required outside a signed attestation "
                         "of the history before ('confide signing adopt')")
            elif self.vouched is None:
                self.vouched = (c.sha, ctx.name, self.unsigned)
                if self.anchor_key is None:
                    self.anchor_key = signing.fingerprint(c.sig.key)
        elif c.action == "vault.adopt-signing":
            self.add(c.sha, SETTINGS_FILE, "signing", f"an attestation that does not turn signing on (signing was {before})")
