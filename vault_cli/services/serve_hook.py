"""The shared repository refuses what does not verify: a pre-receive hook for the bare repository clones push to.

``confide serve-hook install REPO --trust IDENTITY`` pins the vault's identity
in the bare repository (``REPO/confide/trust.json``), verifies whatever it
already holds from that identity, and installs ``hooks/pre-receive``. From then
on every push is verified before git updates a ref, keylessly (the server holds
no key), from what the repository already holds (every ref it accepted was
verified, so only the new commits are walked):

- a push whose new commits have a finding is refused, and git shows the
  finding to the pusher as ``remote: confide: ...``;
- a push that rewrites or cuts back a branch (not a fast-forward), deletes one,
  or touches anything but a branch is refused: the audit trail only grows;
- the first push into an empty repository is verified from the pinned identity,
  so a forged history never reaches a clone.

git runs the hook with the pushed objects in a quarantine that its own
commands see (``GIT_QUARANTINE_PATH``); nothing is kept until the hook says yes.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Protocol, TextIO

from vault_cli.adapters import gitlog
from vault_cli.adapters.timeutil import Clock
from vault_cli.errors import NotFound, VaultStateError
from vault_cli.services import trust

ZERO = {"0" * 40, "0" * 64}
HOOK = """#!/bin/sh
# confide: verify every push before git accepts it (installed by 'confide serve-hook install').
exec {python} -m vault_cli serve-hook run
"""



class TextOut(Protocol):
    """Where the hook's messages go (git relays them to the pusher's terminal)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

def _bare(repo: str) -> Path:
    path = Path(repo).expanduser().resolve()
    if not (path / "HEAD").is_file() or not (path / "objects").is_dir() or (path / ".git").exists():
        raise NotFound(f"{path} is not a bare git repository",
                       "give the repository clones push to, e.g. /srv/git/vault.git (made with 'git init --bare')")
    return path


def install(repo: str, anchor: str, clock: Clock) -> dict:
    """Pin ``anchor`` in the bare repository, verify what it holds (by ``clock``'s time), and install the hook."""
    from vault_cli.services.verify import Anchor, verify

    path = _bare(repo)
    Anchor.parse(anchor)
    state = trust.TrustState.load(path)
    if state.anchor is not None and state.anchor != anchor:
        raise VaultStateError(f"{path} already serves the vault {state.anchor}, not the identity given",
                              "a vault's identity never changes; check which repository this is")
    tips = _tips(path)
    repudiated: set = set()
    for ref, tip in sorted(tips.items()):
        result = verify(path, clock=clock, tip=tip, anchor=Anchor.parse(anchor))
        if not result.ok:
            raise trust.findings_error(result, None, f"{ref} in {path}")
        repudiated |= set(result.repudiated_commits)
    state.anchor = anchor
    state.repudiated = sorted(repudiated)
    state.save()
    # git checks every object pushed is well formed (no tree that names a path twice, no broken object)
    gitlog.run(path, "config", "receive.fsckObjects", "true")
    if "refs/heads/master" not in tips:  # 'git init --bare' names master; confide's branch is main
        gitlog.run(path, "symbolic-ref", "HEAD", "refs/heads/main")
    hook = path / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    tmp = hook.with_name(f".pre-receive.{os.getpid()}")
    tmp.write_text(HOOK.format(python=shlex.quote(sys.executable)))
    os.chmod(tmp, 0o755)
    os.replace(tmp, hook)
    return {"repository": str(path), "anchor": anchor, "refs": len(tips), "hook": str(hook)}


def _tips(path: Path) -> dict:
    out = gitlog.run(path, "for-each-ref", "--format=%(refname) %(objectname)").decode().split("\n")
    return {line.split()[0]: line.split()[1] for line in out if line.strip()}


def run(stdin: TextIO, stderr: TextOut, repo: Path, clock: Clock) -> int:
    """The hook itself: read git's ``OLD NEW REF`` lines (``stdin``) for the bare repository ``repo``, verify,
    answer 0 (accept) or 1 (refuse), saying why on ``stderr`` (git shows it to the pusher)."""
    from vault_cli.services.verify import Anchor, verify

    path = repo
    state = trust.TrustState.load(path)

    def refuse(message: str) -> int:
        stderr.write(f"confide: refused: {message}\n")
        stderr.write("confide: nothing was accepted; the shared repository takes only history that verifies\n")
        stderr.flush()
        return 1

    if state.anchor is None:
        return refuse("this repository has no pinned vault identity ('confide serve-hook install REPO --trust ID')")
    updates = [line.split() for line in stdin.read().splitlines() if line.strip()]
    tips = list(_tips(path).values())
    repudiated = set(state.repudiated)
    for old, new, ref in updates:
        if not ref.startswith("refs/heads/"):
            return refuse(f"{ref}: only branches are kept in a vault's shared repository")
        if new in ZERO:
            return refuse(f"{ref}: a branch of the vault cannot be deleted")
        if old not in ZERO and not gitlog.is_ancestor(path, old, new):
            return refuse(f"{ref}: the push rewrites or cuts back history that is already shared "
                          f"({old[:12]} is not in the new history)")
        result = verify(path, clock=clock, tip=new, exclude=tuple(tips), anchor=None if tips else Anchor.parse(state.anchor),
                        repudiated=tuple(repudiated))
        if not result.ok:
            for f in result.findings[:20]:
                where = f" {f.file}" if f.file else ""
                stderr.write(f"confide: {(f.commit or '-')[:12]}{where}: {f.check}: {f.message}\n")
            return refuse(f"{ref}: {len(result.findings)} finding(s) in the pushed commits")
        repudiated |= set(result.repudiated_commits)
        tips.append(new)
    if repudiated != set(state.repudiated):
        state.repudiated = sorted(repudiated)
        state.save()
    return 0


__all__ = ["install", "run"]
