"""Search benchmark (issue 5): ``confide find`` over every entry, against the floor of decrypting each block once.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_requests.py [--runs 3] [--records 1000] [--entries 50]

(the same as ``benchmarks/bench.py --only requests``; ``bench.py`` imports this
module and runs these sections with the others).

On the synthetic vault (``benchmarks/synth.py``: 1,000 records x 50 entries,
plus one big record), as the manager, who reads every level:

- ``confide find TEXT`` with a text no entry holds, so every entry is decrypted
  and searched and nothing is printed: the whole command, a fresh process;
- the floor, measured in the same run: every entry block decrypted once with
  pyrage in one process, the level keys unwrapped beforehand (untimed), the
  blocks already in memory. Only the X25519 + ChaCha20 work; no file reading,
  no YAML, no JSON, no process start-up;
- the peer: a bash loop of ``age -d -i LEVELKEY BLOCK`` over the same number
  of files (each entry block written out as its own file, next to its record's
  level keys). Its one untimed warm-up run covers only the first 1,000 files.

Target: ``confide find`` no slower than the single-process floor (ratio <= 1),
which needs both cores: decryption alone is the floor's whole cost.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import synth  # noqa: E402
from benchmarks.harness import Context, section  # noqa: E402

GROUP = "requests"
RUNS = 3
FLOOR = "pyrage decrypt every entry block, one process (floor)"
NEEDLE = "zzqx-no-entry-says-this"


def _count_entries(ctx: Context) -> int:
    """Entry blocks in the vault's HEAD, counted by git (no vault_cli: serves either code tree)."""
    out = ctx.git("grep", "-c", "-e", "^- id: e-", "HEAD", "--", "records")
    return sum(int(line.rsplit(":", 1)[1]) for line in out.splitlines() if line.strip())


def _setup_find(ctx: Context) -> None:
    if "requests_blocks" not in ctx.state:
        ctx.reset_vault()
        ctx.state["requests_blocks"] = _count_entries(ctx)


def _setup(ctx: Context) -> None:
    """The floor's blocks and the peer's files (decrypted in-process with this tree's vault_cli)."""
    if "requests" in ctx.state:
        return
    import pyrage  # noqa: F401

    from vault_cli.services.vault import Session, Vault

    if not shutil.which("age"):
        raise SystemExit("the 'age' command is needed for the find baseline (apt-get install age)")
    sv = ctx.sv
    ctx.reset_vault()
    from vault_cli.cli import environment

    session = Session.start(Vault.open(environment.config(vault=str(sv.root), identity=str(sv.keys[sv.manager]))))
    blocks = []
    files = ctx.work / "find-age-files"
    if files.exists():
        shutil.rmtree(files)
    files.mkdir(parents=True)
    n = 0
    for rid in session.vault.record_ids():
        env = session.vault.envelope(rid)
        folder = files / rid
        folder.mkdir()
        for key in env.keys:
            ident = session.level_identity(env, key["id"])
            if ident is None:
                raise SystemExit(f"the manager cannot read key {key['id']} of {rid}")
            fd = os.open(folder / f"{key['id']}.key", os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as fh:  # the unwrapped level key, as 'age -d -i' wants it
                fh.write(str(ident._key) + "\n")
        for item in env.entries:
            ident = session.level_identity(env, item["key"])
            blocks.append((item["data"].encode("ascii"), ident._key))
            (folder / f"{item['key']}.{item['id']}.age").write_text(item["data"])
            n += 1
    loop = (
        "set -e; for d in {root}/*/; do for f in \"$d\"k-*.age; do "
        "k=${{f##*/}}; age -d -i \"$d${{k%%.*}}.key\" \"$f\" >/dev/null; done; done"
    )
    warm = ctx.work / "find-age-warm"
    if warm.exists():
        shutil.rmtree(warm)
    warm.mkdir()
    for folder in sorted(files.iterdir())[:20]:  # ~1,000 files
        shutil.copytree(folder, warm / folder.name)
    ctx.state["requests"] = {
        "blocks": blocks,
        "loop": loop.format(root=shlex.quote(str(files))),
        "warm_loop": loop.format(root=shlex.quote(str(warm))),
        "warm": False,
    }
    ctx.state["requests_blocks"] = n


@section(FLOOR, group=GROUP, setup=_setup, compare=None, per="requests_blocks", runs=RUNS, order=50,
         note="pyrage.decrypt of every entry block once, in one process, keys unwrapped and blocks in memory beforehand")
def floor(ctx: Context) -> float:
    import pyrage

    blocks = ctx.state["requests"]["blocks"]
    t0 = time.perf_counter()
    for data, key in blocks:
        pyrage.decrypt(data, [key])
    return time.perf_counter() - t0


@section("age -d loop over as many files (peer)", group=GROUP, setup=_setup, compare=FLOOR, per="requests_blocks",
         runs=1, order=51, note="bash: for each entry block file, age -d -i ITS_LEVEL_KEY FILE >/dev/null")
def age_loop(ctx: Context) -> float:
    st = ctx.state["requests"]
    if not st["warm"]:  # the harness's untimed warm-up: a small subset is enough to warm the page cache
        st["warm"] = True
        return ctx.time_argv(["bash", "-c", st["warm_loop"]], env=synth.git_env())
    return ctx.time_argv(["bash", "-c", st["loop"]], env=synth.git_env())


@section("confide find (every entry, manager)", group=GROUP, setup=_setup_find, compare=FLOOR, target=1.0,
         per="requests_blocks", runs=RUNS, order=52,
         note=f"confide find {NEEDLE}: every entry decrypted and searched, no match; a fresh process")
def confide_find(ctx: Context) -> float:
    return ctx.confide("find", NEEDLE, who=ctx.sv.manager)


def main(argv=None) -> int:
    from benchmarks import bench

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--runs" not in argv:
        argv += ["--runs", str(RUNS)]
    return bench.main(["--only", GROUP, *argv])


if __name__ == "__main__":
    raise SystemExit(main())
