"""A vault reloaded at another commit (under the lock after waiting, or after a sync's fast-forward) lets the
previous commit's reader go: its ``git cat-file`` process ends, instead of living as long as the caller."""

from __future__ import annotations

from vault_cli.adapters.config import Config
from vault_cli.services.vault import Vault


def test_loading_another_commit_ends_the_previous_readers_git_process(vault):
    rid = vault.add_child("Ada Reload")
    first = vault.git("rev-parse", "HEAD~1").strip()
    v = Vault(vault.root, config=Config())
    v.read("confide.yaml")  # starts the commit's reader
    proc = v.tree._cat.proc
    assert proc.poll() is None
    v.load(first)
    assert proc.returncode is not None  # reaped by the reload, not left for the garbage collector or the exit
    assert v.commit == first and v.read("confide.yaml")
    assert rid  # the newer commit made the reload a real move
