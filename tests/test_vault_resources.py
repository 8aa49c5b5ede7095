"""A vault reloaded at another commit (under the lock after waiting, or after a sync's fast-forward) reads it
through the same ``git cat-file`` process, and closing the vault ends it, instead of it living as long as the
caller."""

from __future__ import annotations

from vault_cli.adapters.config import Config
from vault_cli.services.vault import Vault


def test_loading_another_commit_starts_no_other_reader_and_close_ends_the_one(vault):
    """One reader (``Vault.objects``) serves every commit the vault loads and the trust check before it:
    a reload starts no second process (a reader per loaded commit cost ~3 ms of CPU each), and ``close``
    ends the one there is."""
    rid = vault.add_child("Ada Reload")
    first = vault.git("rev-parse", "HEAD~1").strip()
    v = Vault(vault.root, config=Config())
    v.read("confide.yaml")  # starts the commit's reader
    proc = v.tree._cat.proc
    assert proc.poll() is None
    running = _my_children()
    v.load(first)
    assert v.commit == first and v.read("confide.yaml")
    assert v.tree._cat.proc is proc and proc.poll() is None and _my_children() == running
    v.close()
    assert proc.returncode is not None  # reaped by close, not left for the garbage collector or the exit
    assert rid  # the newer commit made the reload a real move


def _my_children() -> set:
    """The processes whose parent is this one, zombies included (from /proc: no helper library)."""
    import os

    me, out = os.getpid(), set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            out.add(int(d))
    return out


def _fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def test_a_closed_vault_ends_its_readers_process_and_a_with_block_closes_it(vault):
    from vault_cli.cli import environment
    from vault_cli.services import children
    from vault_cli.services.vault import Session

    rid = vault.add_child("Ada Close")
    v = Vault(vault.root, config=Config())
    v.read("confide.yaml")
    proc = v.tree._cat.proc
    v.close()
    assert proc.returncode is not None and v.tree._cat is None
    v.close()  # twice is fine
    assert v.read("confide.yaml")  # and reading again starts a new reader
    v.close()
    with Session.open(environment.config(vault=str(vault.root), identity=str(vault.keys["amira"]))) as s:
        assert children.names_and_births(s)[0]["record"] == rid
        proc = s.vault.tree._cat.proc
        assert proc.poll() is None
    assert proc.returncode is not None


def test_many_vaults_and_in_process_commands_leave_no_process_or_descriptor(vault):
    """Opened and closed many times over, directly and by commands run in this process (as the tests run
    them), vaults leave no 'git cat-file' (nor zombie) and no pipe behind. The garbage collector is off, so
    nothing is ended for them by accident of a collection."""
    import gc

    from vault_cli.cli import environment
    from vault_cli.services.vault import Session

    rid = vault.add_child("Ada Leak")
    vault.add_entry(rid, "a note", who="ben")
    vault.ok("show", rid)  # the first run's imports and one-off files
    gc.collect()
    gc.disable()
    try:
        procs, fds = _my_children(), _fds()
        for _ in range(25):
            with Vault(vault.root, config=Config()) as v:
                v.read("confide.yaml")
            with Session.open(environment.config(vault=str(vault.root), identity=str(vault.keys["ben"]))) as s:
                s.vault.envelope(rid)
            vault.ok("show", rid)
            vault.ok("child", "list", who="ben")
            vault.ok("holder", "list")
            vault.ok("access", rid)
            vault.run("show", "c-00000000")  # a failing command closes too
        assert _my_children() - procs == set()
        assert _fds() <= fds
    finally:
        gc.enable()
