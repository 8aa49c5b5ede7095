"""Access benchmarks (issue 3): revoke, grant, rotate on 1,000 records x 50 entries, against ``age`` in a loop.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_access.py [--runs 3] [--records 1000] [--entries 50]

(the same as ``benchmarks/bench.py --only access``; ``bench.py`` imports this
module and runs these sections with the others).

Times whole ``confide`` processes as the manager, each from the synthetic
vault's built state (``benchmarks/synth.py``: amira manager, dara DSL, ben and
cara practitioners and key persons of half the records each, a recovery key):

- ``confide revoke ben --all``: a practitioner, every level of every record
  (ben is key person of half of them): 2,000 new level-key generations;
- ``confide holder add dsl2 --role dsl``: how a new DSL gets every level of
  every record (every generation re-wrapped for them);
- ``confide grant ivy --all --level general --level confidential --level
  safeguarding --until DATE``: the same wrapping work as an explicit grant, to
  an auditor added (untimed) beforehand;
- ``confide holder rotate cara --recipient NEW``: cara's copies re-wrapped,
  fresh generations wherever she reads the current one;
- ``confide holder remove ben``: a leaver revoked from every level of every
  record (the same work as ``revoke --all``, and holders.yaml changes too).

New holders' keys are of the vault's kind (``synth.holder_key``): an SSH key
that reads and signs, or an age identity with ``--signing-key`` in a signed
vault of age identities, or an age identity alone in an unsigned (older) vault.

The peer baseline, in the same interleaved runs: the same 1,000 records kept
the other way, one age file per child encrypted to every reader, re-encrypted
for the new set of readers with a shell loop over the ``age`` command
(``age -d -i MANAGER | age -e -a -r ... -r ...`` per record). Each file holds
that record's real plaintext (profile and entries, decrypted once in setup).
Target: every confide command at most 0.3x the baseline.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import synth  # noqa: E402
from benchmarks.harness import Context, section  # noqa: E402

BASELINE_NAME = "age loop re-encrypt (1,000 records)"
RUNS = 3
GROUP = "access"


def _plaintexts(root: Path, identity: Path) -> list:
    """Every record's profile and entries, decrypted in-process (the content a one-file design would hold)."""
    from vault_cli.adapters import parallel
    from vault_cli.cli import environment
    from vault_cli.services import records
    from vault_cli.services.vault import Session, Vault

    session = Session.start(Vault.open(environment.config(vault=str(root), identity=str(identity))))

    def one(rid: str) -> bytes:
        return json.dumps(records.show_record(session, rid), ensure_ascii=False, sort_keys=True).encode("utf-8")

    return list(parallel.map_ordered(one, session.vault.record_ids(), processes=session.config.workers))


def _setup_baseline(ctx: Context) -> None:
    """The peer's files: one age file per record, to every current reader, holding its real plaintext
    (decrypted in-process with this tree's vault_cli, so only for a vault in this tree's format)."""
    if "access_loop" in ctx.state:
        return
    if not shutil.which("age"):
        raise SystemExit("the 'age' command is needed for the access baseline (apt-get install age)")
    import pyrage

    sv = ctx.sv
    st: dict = {}
    ctx.reset_vault()
    readers = [h for h in (sv.manager, sv.dsl, *sv.practitioners, sv.recovery) if h]
    from vault_cli.formats.policyfiles import holders_from_bytes

    holders = holders_from_bytes((sv.root / "holders.yaml").read_bytes())
    rcpts = {h: holders.get(h).recipient for h in readers}
    env = synth.git_env()
    os.environ.update({k: v for k, v in env.items() if k.startswith("GIT_CONFIG")})
    texts = _plaintexts(sv.root, sv.keys[sv.manager])
    src, dst = ctx.work / "age-in", ctx.work / "age-out"
    src.mkdir(parents=True, exist_ok=True)
    dst.mkdir(parents=True, exist_ok=True)
    parsed = [pyrage.ssh.Recipient.from_str(r) if r.startswith("ssh-") else pyrage.x25519.Recipient.from_str(r)
              for r in rcpts.values()]
    for rid, text in zip(sorted(sv.records), texts, strict=False):  # the ids only name the files; texts are the vault's records
        (src / f"{rid}.age").write_bytes(pyrage.encrypt(text, parsed, armored=True))
    st["plaintext_bytes_median"] = sorted(len(t) for t in texts)[len(texts) // 2]
    remaining = [r for h, r in rcpts.items() if h != "ben"]  # the same change as 'revoke ben --all'
    st["loop"] = (
        f"set -e; for f in {shlex.quote(str(src))}/*.age; do "
        f"age -d -i {shlex.quote(str(sv.keys[sv.manager]))} \"$f\" | "
        f"age -e -a {' '.join('-r ' + shlex.quote(r) for r in remaining)} -o {shlex.quote(str(dst))}/\"$(basename \"$f\")\"; "
        "done"
    )
    ctx.state["access_loop"] = st


def _setup(ctx: Context) -> None:
    """What the confide sections need, through confide processes only (so it serves either code tree):
    an auditor to grant to, added once (untimed; the grant runs start from that commit), and fresh keys
    of the vault's kind for the new DSL and for cara's rotation."""
    if "access" in ctx.state:
        return
    sv = ctx.sv
    st: dict = {}
    ctx.reset_vault()
    _, ivy = synth.holder_key(sv, ctx.work, "ivy")
    ctx.confide("holder", "add", "ivy", "--role", "auditor", *ivy)
    st["grant_head"] = ctx.mark()
    ctx.reset_vault()
    _, st["dsl2"] = synth.holder_key(sv, ctx.work, "dsl2")
    _, st["cara_new"] = synth.holder_key(sv, ctx.work, "cara-new")
    st["until"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    ctx.state["access"] = st


@section(BASELINE_NAME, group=GROUP, setup=_setup_baseline, compare=None, per="records", runs=RUNS, order=40,
         note="bash loop: age -d -i MANAGER REC.age | age -e -a -r (4 remaining readers) per record; "
              "real plaintext (profile + 50 entries)")
def age_loop(ctx: Context) -> float:
    return ctx.time_argv(["bash", "-c", ctx.state["access_loop"]["loop"]], env=synth.git_env())


@section("confide revoke --all (practitioner)", group=GROUP, setup=_setup, compare=BASELINE_NAME, target=0.3,
         per="records", runs=RUNS, order=41, note="revoke ben --all: every level, 1,000 records, 2,000 new generations")
def revoke_all(ctx: Context) -> float:
    t = ctx.confide("revoke", "ben", "--all")
    ctx.reset_vault()
    return t


@section("confide holder add (new DSL, every level)", group=GROUP, setup=_setup, compare=BASELINE_NAME, target=0.3,
         per="records", runs=RUNS, order=42, note="every generation of every level of every record wrapped for the new DSL")
def add_dsl(ctx: Context) -> float:
    t = ctx.confide("holder", "add", "dsl2", "--role", "dsl", *ctx.state["access"]["dsl2"])
    ctx.reset_vault()
    return t


@section("confide grant --all (every level)", group=GROUP, setup=_setup, compare=BASELINE_NAME, target=0.3,
         per="records", runs=RUNS, order=43, note="grant an auditor general+confidential+safeguarding of every record --until")
def grant_all(ctx: Context) -> float:
    st = ctx.state["access"]
    ctx.reset_vault(st["grant_head"])
    t = ctx.confide("grant", "ivy", "--all", "--level", "general", "--level", "confidential", "--level",
                    "safeguarding", "--until", st["until"])
    ctx.reset_vault()
    return t


@section("confide holder rotate (practitioner)", group=GROUP, setup=_setup, compare=BASELINE_NAME, target=0.3,
         per="records", runs=RUNS, order=44, note="cara's copies re-wrapped for a new key; fresh generations where she reads")
def rotate(ctx: Context) -> float:
    t = ctx.confide("holder", "rotate", "cara", *ctx.state["access"]["cara_new"][:2])
    ctx.reset_vault()
    return t


@section("confide holder remove (practitioner)", group=GROUP, setup=_setup, compare=BASELINE_NAME, target=0.3,
         per="records", runs=RUNS, order=45, note="ben removed: revoked from every level of every record")
def remove(ctx: Context) -> float:
    t = ctx.confide("holder", "remove", "ben", "--reason", "left the setting")
    ctx.reset_vault()
    return t


def main(argv=None) -> int:
    from benchmarks import bench

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--runs" not in argv:
        argv += ["--runs", str(RUNS)]
    return bench.main(["--only", GROUP, *argv])


if __name__ == "__main__":
    raise SystemExit(main())
