"""What this clone trusts: the vault's anchor and the last commit it verified.

Each clone keeps ``.git/confide/trust.json`` (never tracked, so no commit can
change it):

- ``anchor``: the vault's identity, its first commit and the fingerprint of the
  key that signed it (``verify.Anchor``), pinned when the vault was made
  (``confide init``) or first trusted (``confide clone/restore --trust``,
  ``confide trust``);
- ``verified``: the newest commit this clone has verified, and every commit
  behind it is verified too;
- ``repudiated``: commits behind it that a signed repudiation answered (what is
  built on them alone stays untrusted);
- ``remotes``: what this clone last verified of each remote branch; a fetch
  that no longer contains it (history rewritten or cut back) is refused.

Before a command reads or writes, ``ensure_verified`` verifies the commits
since ``verified`` (cost in proportion to the new commits, not the history;
nothing at all when HEAD has not moved) and refuses, exit 9, when they do not
verify. Commands then read the vault from that commit (``gitlog.CommitTree``),
never from the working tree. A commit confide makes itself moves the checkpoint
(``advance``): it was built under the vault's lock from the verified state.

Beside it, ``.git/confide/allowed_signers`` is derived from the verified
holders, and git's ``gpg.ssh.allowedSignersFile`` points at it, so plain
``git log --show-signature`` never trusts a signers file a commit could edit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .errors import FindingsError, VaultStateError

STATE_FILE = "trust.json"


def state_dir(git_dir: Path) -> Path:
    return git_dir / "confide"


@dataclass
class TrustState:
    git_dir: Path
    anchor: Optional[str] = None
    verified: Optional[str] = None
    repudiated: list = field(default_factory=list)
    remotes: dict = field(default_factory=dict)

    @classmethod
    def load(cls, git_dir: Path) -> "TrustState":
        path = state_dir(git_dir) / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(git_dir)
        except (OSError, ValueError):
            raise VaultStateError(
                f"{path} is damaged, so this clone does not know what it has verified",
                "remove it and pin the vault again with: confide trust ANCHOR (the vault's identity, from a manager)",
            ) from None
        return cls(git_dir, data.get("anchor"), data.get("verified"), list(data.get("repudiated") or []),
                   dict(data.get("remotes") or {}))

    def save(self) -> None:
        folder = state_dir(self.git_dir)
        folder.mkdir(mode=0o700, exist_ok=True)
        data = {"anchor": self.anchor, "verified": self.verified, "repudiated": sorted(set(self.repudiated)),
                "remotes": self.remotes}
        tmp = folder / f".{STATE_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, folder / STATE_FILE)


def git_dir_of(root: Path) -> Path:
    plain = root / ".git"
    if plain.is_dir():
        return plain
    return root  # a bare repository (the shared one, for the server hook)


def anchor_of(root: Path, root_commit: str) -> str:
    """The anchor a verified history gives: its first commit and that commit's signer (if signed)."""
    from . import gitlog, signing
    from .verify import Anchor

    raw = gitlog.run(root, "cat-file", "commit", root_commit)
    sig = signing.verify_commit(raw)
    return str(Anchor(root_commit, signing.fingerprint(sig.key) if sig.status == "good" else None))


def findings_error(result, verified: Optional[str], what: str = "this vault's history") -> FindingsError:
    first = result.findings[0]
    where = f" {first.file}" if first.file else ""
    since = f"{verified[:12]}..HEAD" if verified else "HEAD"
    return FindingsError(
        f"{what} does not verify: commit {first.commit[:12]}{where}: {first.check}: {first.message}"
        + (f" (and {len(result.findings) - 1} more finding(s))" if len(result.findings) > 1 else "")
        + "; nothing was read or changed",
        f"see every finding with 'confide verify', and the commits with 'git log --show-signature {since}'",
        (f"go back to the last verified commit on this machine with 'git reset --keep {verified[:12]}', "
         if verified else "")
        + "or have a manager reject the commits, restoring the last verified state: confide repudiate",
    )


def ensure_verified(root: Path, git, *, locked: bool = False) -> str:
    """The verified commit the command acts on: HEAD, once the commits since the checkpoint verify.

    ``locked``: the caller holds the vault's lock already (a write re-checking under it)."""
    head = git.head()
    if head is None:
        raise VaultStateError("the vault has no commits", "make one with: confide init DIR --name NAME --holder YOU")
    state = TrustState.load(git_dir_of(root))
    if state.verified == head:
        return head
    if state.anchor is None:
        raise VaultStateError(
            "this clone has no trust anchor, so confide cannot tell this vault from a forged one",
            "pin the vault's identity (printed by 'confide init'; ask its manager) with: confide trust ANCHOR",
        )
    if locked:
        verify_and_advance(root, state, head)
        return head
    from .store import VaultLock

    try:
        lock = VaultLock(root).__enter__()
    except PermissionError:  # read-only media: verify, but there is nowhere to keep the result
        verify_and_advance(root, state, head, keep=False)
        return head
    try:
        state = TrustState.load(git_dir_of(root))
        head = git.head() or head
        if state.verified != head:
            verify_and_advance(root, state, head)
    finally:
        lock.__exit__()
    return head


def verify_and_advance(root: Path, state: TrustState, tip: str, *, what: str = "this vault's history",
                       keep: bool = True) -> None:
    """Verify ``tip`` from the checkpoint (or from the anchor) and make it the checkpoint; refuse on findings."""
    from . import gitlog
    from .verify import Anchor, verify

    known = state.verified if state.verified and _exists(root, state.verified) else None
    exclude = (known,) if known else ()
    result = verify(root, tip=tip, exclude=exclude, anchor=None if known else Anchor.parse(state.anchor or ""),
                    repudiated=tuple(state.repudiated))
    if not result.ok:
        raise findings_error(result, known, what)
    if known and not gitlog.is_ancestor(root, known, tip) and gitlog.is_ancestor(root, tip, known):
        return  # HEAD went back to a commit already verified (a local reset): keep the checkpoint
    state.verified = tip
    state.repudiated = sorted(set(state.repudiated) | set(result.repudiated_commits))
    if keep:
        state.save()
        write_allowed_signers(root, state.git_dir, tip)


def _exists(root: Path, commit: str) -> bool:
    from . import gitlog

    return bool(gitlog.run(root, "cat-file", "-t", commit, check=False).strip() == b"commit")


def advance(root: Path, before: Optional[str], after: str, *, holders_changed: Optional[bool] = None) -> None:
    """A confide command committed ``after`` on top of the verified ``before``: move the checkpoint,
    and re-derive ``allowed_signers`` when holders.yaml changed (None: compare the two commits)."""
    state = TrustState.load(git_dir_of(root))
    if state.verified != before:
        return  # not built on the checkpoint (should not happen): the next command verifies it
    state.verified = after
    state.save()
    if holders_changed is None:
        from . import gitlog
        from .holders import HOLDERS_FILE

        blobs = gitlog.run(root, "rev-parse", f"{before}:{HOLDERS_FILE}", f"{after}:{HOLDERS_FILE}", check=False).split()
        holders_changed = len(blobs) != 2 or blobs[0] != blobs[1]
    if holders_changed:
        write_allowed_signers(root, state.git_dir, after)


def pin(root: Path, anchor: str, tip: str, *, what: str = "the vault") -> TrustState:
    """Trust ``anchor`` for this clone: verify the whole history from it, then keep it."""
    state = TrustState(git_dir_of(root), anchor=anchor)
    verify_and_advance(root, state, tip, what=what)
    return state


def write_allowed_signers(root: Path, git_dir: Path, commit: str) -> None:
    """``.git/confide/allowed_signers`` from the verified holders, for plain ``git log --show-signature``."""
    from . import gitlog, signing
    from .holders import HOLDERS_FILE, holders_from_bytes

    tree = gitlog.CommitTree(root, commit)
    try:
        raw = tree.read(HOLDERS_FILE)
        if raw is None:
            return
        text = signing.allowed_signers_text(holders_from_bytes(raw))
    finally:
        tree.close()
    folder = state_dir(git_dir)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / signing.ALLOWED_SIGNERS_FILE
    tmp = folder / f".allowed_signers.{os.getpid()}"
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["TrustState", "ensure_verified", "verify_and_advance", "advance", "pin", "anchor_of", "findings_error",
           "write_allowed_signers", "git_dir_of"]
