"""``confide add`` and ``confide verify`` on several code trees, side by side: schema and signature checking.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/compare_schema_sig.py --tree current=/path/a --tree generated=/path/b \\
        [--tree ...] [--runs 15] [--records 500 --entries 5 --grow 2000] [--only add|verify|verify-key]

Issue 10 asks for ``vault_cli/formats/schema.py`` (a hand-written validator) to
be replaced by a maintained library, chosen by measurement, and for
``adapters/signing.py``'s hand-written SSHSIG check likewise. Each ``--tree
LABEL=PATH`` is a checkout holding ``vault_cli/`` (imported through
``PYTHONPATH``); the first is the one the ratios are to. All trees act on one
synthetic vault in this tree's format (``synth.build_vault`` with SSH keys,
``--records`` x ``--entries``, then ``--grow`` signed one-entry commits, so
``confide verify`` walks ~``grow`` commits and as many record versions), kept
under ``benchmarks/work/`` and reused. Sections, every run timing each tree in a
rotating order after one untimed warm-up each:

- ``confide add``: one entry to a record as the manager, a whole process (its
  start-up included); untimed before each: the vault reset to its built state,
  checkpoint at HEAD (the manager's key too), expiry cache warm;
- ``confide verify --json`` with no key: the keyless checks over the whole
  history (signatures, rules, schemas of every record version);
- ``confide verify --json`` as the manager (``verify-key``, not run unless
  asked): also every block the manager's key opens. The synthetic vault's
  bulk-built records say their entries are by other holders than the commit
  that added them, so this ends with findings (exit 9) at the first commit and
  judges the commits built on it only as tainted: not a figure to quote.

The table gives per tree the median wall time (min-max) and the median CPU time
(user + sys of the process and its children), and the ratios to the first tree.

The trees compared for issue 10 (the figures are in the docstrings of
``vault_cli/formats/schema.py`` and ``vault_cli/adapters/signing.py``): the code
before it (``git archive`` of the commit before); that code with
``benchmarks/variants/schema_jsonschema.py`` as ``vault_cli/formats/schema.py``
(jsonschema at run time); that code with this branch's ``formats/schema.py`` and
``formats/schema_validators/`` (generated validators), or with its
``adapters/signing.py`` (sshsig), or with that and
``benchmarks/variants/signing_ssh_keygen.patch`` (ssh-keygen per commit); and
this branch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import bench, harness, synth  # noqa: E402
from benchmarks.compare import table  # noqa: E402
from benchmarks.harness import Context  # noqa: E402

TEXT = "Played in the sand area with two friends and shared the spades without prompting."


def _vault(root: Path, records: int, entries: int, grow: int, rebuild: bool) -> synth.SynthVault:
    sv = None if rebuild else synth.load(root)
    if sv is not None and sv.signing:
        print(f"reusing {root}")
        return sv
    synth.remove(root)
    print(f"building {root}: {records} records x {entries} entries, then {grow} one-entry commits")
    sv = synth.build_vault(root, records, entries, identities="ssh")
    if grow:
        synth.grow_history(sv, grow)
    synth.pin_trust(sv, verify=True)
    return sv


def _add(ctx: Context) -> float:
    ctx.reset_vault()
    ctx.warm_expiry_cache()
    return ctx.confide("add", ctx.state["add_record"], "--level", "general", "--category", "observation",
                       "--text", TEXT, who=ctx.sv.manager)


def _verify(ctx: Context, key: bool) -> float:
    ctx.reset_vault()
    env = synth.env_for(ctx.sv, ctx.sv.manager, PYTHONPATH=str(ctx.code))
    if not key:
        env.pop("CONFIDE_IDENTITY")
        env["HOME"] = env["XDG_CONFIG_HOME"] = str(ctx.work / "no-home")
    return ctx.time_argv([ctx.confide_bin, "verify", "--json"], env=env, check=not key)


SECTIONS = {
    "add": ("confide add", _add),
    "verify": ("confide verify (no key)", lambda ctx: _verify(ctx, False)),
    "verify-key": ("confide verify (manager)", lambda ctx: _verify(ctx, True)),
}


def _row(name: str, per_tree: dict, trees: list) -> dict:
    out: dict = {"section": name}
    for tree in trees:
        wall = [w for w, _ in per_tree[tree]]
        cpu = [c for _, c in per_tree[tree]]
        out[tree] = {"median_s": statistics.median(wall), "min_s": min(wall), "max_s": max(wall),
                     "cpu_median_s": statistics.median(cpu), "runs_s": wall, "cpu_s": cpu}
    base = out[trees[0]]
    for tree in trees[1:]:
        out[tree]["ratio"] = out[tree]["median_s"] / base["median_s"]
        out[tree]["cpu_ratio"] = out[tree]["cpu_median_s"] / base["cpu_median_s"] if base["cpu_median_s"] else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", action="append", required=True, metavar="LABEL=PATH")
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--entries", type=int, default=5)
    ap.add_argument("--grow", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--only", action="append", choices=sorted(SECTIONS), default=[])
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--results", type=Path, default=HERE / "work" / "results-schema-sig.json")
    a = ap.parse_args(argv)
    codes = {}
    for spec in a.tree:
        label, _, path = spec.partition("=")
        if not label or not (Path(path) / "vault_cli").is_dir():
            raise SystemExit(f"--tree {spec}: give LABEL=PATH, PATH a checkout with vault_cli/")
        codes[label] = Path(path).resolve()
    trees = list(codes)
    work = bench.WORK
    work.mkdir(exist_ok=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: byte code cached
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    sv = _vault(work / f"schemasig-{a.records}x{a.entries}+{a.grow}", a.records, a.entries, a.grow, a.rebuild)
    scratch = Path(tempfile.mkdtemp(prefix="schemasig-", dir=work))
    ctxs = {}
    for tree in trees:
        (scratch / tree).mkdir()
        ctx = Context(sv=sv, work=scratch / tree, runs=a.runs, code=codes[tree], label=tree)
        ctx.state["start_head"] = sv.head
        ctx.state["add_record"] = sv.records[len(sv.records) // 2]
        ctxs[tree] = ctx
        env = dict(os.environ, PYTHONPATH=str(codes[tree]))
        where = subprocess.run([ctx.confide_bin.replace("/confide", "/python"), "-c", "import vault_cli; print(vault_cli.__file__)"], env=env,
                               capture_output=True, text=True, check=True, cwd=str(scratch)).stdout.strip()
        if not where.startswith(str(codes[tree])):
            raise SystemExit(f"tree {tree}: PYTHONPATH={codes[tree]} imports vault_cli from {where}")
    ctx0 = ctxs[trees[0]]
    bench.start_context(ctx0)
    # The manager's key has checked the history up to HEAD on this clone, as after their first command there.
    # (Without this, their first command checks the whole history with their key, and the bulk-built
    # records' entries, by other holders than the commit that added them, are findings: see verify-key.)
    path = sv.root / ".git" / "confide" / "trust.json"
    state = json.loads(path.read_text())
    state.setdefault("readers", {})[sv.manager] = sv.head
    path.write_text(json.dumps(state, indent=1) + "\n")
    ctx0.mark()
    for ctx in ctxs.values():
        ctx.state.update(ctx0.state)
    names = a.only or ["add", "verify"]
    commits = int(ctx0.git("rev-list", "--count", "HEAD"))
    print(f"{len(names)} sections x {len(trees)} trees ({', '.join(trees)}), {a.runs} runs, vault of {commits} commits")
    info_before = harness.machine_info()
    samples: dict = {}
    t0 = time.perf_counter()
    try:
        for r in range(-1, a.runs):  # run -1: untimed warm-up
            for key in names:
                _, fn = SECTIONS[key]
                order = trees[r % len(trees):] + trees[:r % len(trees)]
                for tree in order:
                    ctx = ctxs[tree]
                    ctx.cpu_s = 0.0
                    t = fn(ctx)
                    if r >= 0:
                        samples.setdefault((key, tree), []).append((t, ctx.cpu_s))
            print(f"  run {r + 1}/{a.runs} done ({time.perf_counter() - t0:.0f}s)" if r >= 0 else "  warm-up done")
    finally:
        ctx0.reset_vault()
    info_after = harness.machine_info()
    rows = [_row(SECTIONS[k][0], {t: samples[(k, t)] for t in trees}, trees) for k in names]
    print()
    print(table(rows, trees))
    print(f"\nload average before {info_before.get('loadavg')} after {info_after.get('loadavg')}; "
          f"{time.perf_counter() - t0:.0f}s")
    a.results.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                     "trees": {t: str(c) for t, c in codes.items()}, "commits": commits,
                                     "runs": a.runs, "machine": {"before": info_before, "after": info_after},
                                     "rows": rows}, indent=2) + "\n")
    print(f"wrote {a.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
