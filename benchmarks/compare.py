"""The same benchmark sections against two versions of confide's code, side by side, in one interleaved run.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/compare.py --before ../before [--runs 5] [--records 1000 --entries 50]
        [--tree LABEL=CODE@KIND ...] [--only NAME|GROUP] [--skip NAME]

Trees (default: ``before=BEFORE@before after-age=.@age after-ssh=.@ssh``):
``--tree LABEL=PATH@KIND`` runs the code at PATH (a checkout holding
``vault_cli/``) on a vault of KIND: ``before`` (built by PATH's own
``benchmarks/synth.py``, unsigned: a tree from before the trust model), ``own``
(built by PATH's own synth, as it builds by default: any later tree, e.g. issue 10's
``--tree before=../before@own --tree after=.@own``), ``age`` or ``ssh`` (built
by this tree's synth, with those identities). The first tree is the one the
ratios are to. Every tree runs through the same launcher (``python -m
vault_cli`` with PATH first on ``PYTHONPATH``).

Issue 9 asks what the trust model costs the daily and bulk commands. This runs
the issue-2/3/5 sections (``confide add``, ``show`` of 300 entries, ``child
list``, ``find``, the bulk access commands; or those ``--only`` names) with
the same interpreter and venv against:

- ``before``: the code of ``--before`` (a checkout of the commit before the
  trust model; its ``vault_cli`` is imported through ``PYTHONPATH``), on a vault
  built by *that tree's own* ``benchmarks/synth.py`` (run as a process with that
  ``PYTHONPATH``): the format and defaults that code knows (age identities,
  unsigned commits, no rules table, no checkpoint). The two versions cannot
  read each other's vault: the old code does not know the new ``confide.yaml``
  (``signing``, ``may``...) and the new one refuses a vault without a trust
  anchor or with unsigned commits where signatures are required;
- ``after-age``: this tree's code on a vault built by this tree's synth with
  ``identities="age"``: the same age X25519 keys to read as ``before`` (so the
  encryption work is the same), plus an SSH key per holder to sign
  (``CONFIDE_SIGNING_KEY``), signed history, checkpoint at HEAD. Against
  ``before`` this isolates the trust model's own cost: one ``ssh-keygen -Y
  sign`` per commit, reading from the verified commit's objects, the rules
  table, the checkpoint check;
- ``after-ssh``: the same with the new default keys (``confide keygen``: one
  SSH ed25519 key reads and signs); against ``after-age`` it shows what the
  key type costs (age's ssh-ed25519 recipient type).

Both synthetic vaults have the same shape (records, entries per record, level
mix, one big record, key persons, the same seed for texts and levels; record
ids and age keys are fresh in each build). Each run times every section on
every tree, trees in a rotating order, after one untimed warm-up each; every
section resets its vault as ``bench.py`` does (the trust state included). The
table gives, per tree, the median wall time with min-max and the median CPU
time (user + sys of the process and its children), and each tree's ratios to
``before``. Results go to ``benchmarks/work/results-compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
from benchmarks.harness import BASELINE, Context  # noqa: E402

RESULTS = HERE / "work" / "results-compare.json"  # benchmarks/work is not tracked
# The issue-2/3/5 sections, by default (bench.py's names).
DEFAULT_SECTIONS = [
    "confide add", "confide add (key person)", "confide add (300-entry record)",
    "confide add (fresh clone, no expiry cache)", "confide show (300 entries)", "confide show --json (300 entries)",
    "confide show (300 entries, terminal)", "confide child list", "confide find (every entry, manager)",
    "confide revoke --all (practitioner)", "confide holder add (new DSL, every level)",
    "confide grant --all (every level)", "confide holder rotate (practitioner)",
]


def _before_vault(before: Path, root: Path, records: int, entries: int, big: int, rebuild: bool,
                  log=print, *, own: bool = False) -> synth.SynthVault:
    """The ``before`` tree's own synthetic vault, built by its synth.py in a process of its own.

    ``own``: whatever that synth makes by default (a tree after the trust model); else it must be unsigned."""
    sv = None if rebuild else synth.load(root)
    if sv is not None and (own or not sv.signing) and sv.big_records:
        log(f"reusing {root}")
        return sv
    synth.remove(root)
    log(f"building the before tree's vault with {before}/benchmarks/synth.py at {root}")
    env = synth.git_env()
    env["PYTHONPATH"] = str(before)
    t = time.perf_counter()
    subprocess.run([sys.executable, str(before / "benchmarks" / "synth.py"), str(root), "--records", str(records),
                    "--entries", str(entries), "--big", str(big)], check=True, env=env, cwd=str(before),
                   stdout=subprocess.DEVNULL)
    log(f"  built in {time.perf_counter() - t:.1f}s")
    sv = synth.load(root)
    if sv is None or (sv.signing and not own):
        raise SystemExit(f"the before tree's synth did not leave a vault this script can read at {root}")
    return sv


def _after_vault(root: Path, records: int, entries: int, big: int, identities: str, rebuild: bool,
                 log=print) -> synth.SynthVault:
    sv = None if rebuild else synth.load(root)
    if sv is not None and sv.signing and sv.identities == identities and sv.big_records:
        log(f"reusing {root}")
        return sv
    synth.remove(root)
    log(f"building this tree's vault ({identities} identities) at {root}")
    # entries name the manager who commits them: the manager's keyed verify (a reader's checkpoint
    # moves only for what their key checked) then finds no author/signer mismatch to refuse
    sv = synth.build_vault(root, records, entries, identities=identities, entry_authors="committer")
    if big:
        synth.add_big_record(sv, big)
    synth.pin_trust(sv, verify=True)
    log(f"  built in {sv.build_seconds:.1f}s and verified from {sv.anchor}")
    return sv


def _row(name: str, per_tree: dict, trees: list) -> dict:
    out: dict = {"section": name}
    for tree in trees:
        runs = per_tree.get(tree)
        if not runs:
            continue
        wall = [w for w, _ in runs]
        cpu = [c for _, c in runs]
        out[tree] = {"median_s": statistics.median(wall), "min_s": min(wall), "max_s": max(wall),
                     "cpu_median_s": statistics.median(cpu), "runs_s": wall, "cpu_s": cpu}
    base = out.get(trees[0])
    for tree in trees[1:]:
        if base and tree in out:
            out[tree]["ratio"] = out[tree]["median_s"] / base["median_s"]
            out[tree]["cpu_ratio"] = out[tree]["cpu_median_s"] / base["cpu_median_s"] if base["cpu_median_s"] else None
    return out


def table(rows: list, trees: list) -> str:
    head = ["section"]
    for i, tree in enumerate(trees):
        head += [f"{tree} ms (min-max)", "cpu ms"]
        if i:
            head += [f"{tree}/{trees[0]}", "cpu"]
    lines = [head]
    for r in rows:
        line = [r["section"]]
        for i, tree in enumerate(trees):
            d = r.get(tree)
            if d is None:
                line += ["", ""] + (["", ""] if i else [])
                continue
            line += [f"{1000 * d['median_s']:.0f} ({1000 * d['min_s']:.0f}-{1000 * d['max_s']:.0f})",
                     f"{1000 * d['cpu_median_s']:.0f}"]
            if i:
                line += [f"{d['ratio']:.2f}x" if "ratio" in d else "",
                         f"{d['cpu_ratio']:.2f}x" if d.get("cpu_ratio") else ""]
        lines.append(line)
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)).rstrip() for x in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="benchmark sections on two code trees, interleaved")
    ap.add_argument("--before", type=Path, default=None,
                    help="a checkout of the code to compare against (the default trees' reference), "
                         "e.g. one made with 'git worktree add ../before COMMIT'")
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--big", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tree", action="append", default=[], metavar="LABEL=PATH@KIND",
                    help="a code tree and its vault kind (before|age|ssh); repeatable; the first is the reference")
    ap.add_argument("--only", action="append", default=[], help="section name, part of one, or group (repeatable)")
    ap.add_argument("--skip", action="append", default=[])
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--results", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    if a.before is None and not a.tree:
        ap.error("give --before PATH (a checkout of the code to compare against) or --tree LABEL=PATH@KIND")
    specs = a.tree or [f"before={a.before.resolve()}@before", f"after-age={REPO}@age", f"after-ssh={REPO}@ssh"]
    codes, kinds = {}, {}
    for spec in specs:
        label, _, rest = spec.partition("=")
        path, _, kind = rest.rpartition("@")
        if not label or kind not in ("before", "own", "age", "ssh") or not (Path(path) / "vault_cli").is_dir():
            raise SystemExit(f"--tree {spec}: give LABEL=PATH@KIND, PATH a checkout with vault_cli/, KIND before|age|ssh")
        if kind in ("before", "own") and not (Path(path) / "benchmarks" / "synth.py").is_file():
            raise SystemExit(f"--tree {spec}: {path} has no benchmarks/synth.py to build its vault with")
        codes[label], kinds[label] = Path(path).resolve(), kind
    trees = list(codes)

    bench._load_plugins()
    wanted = a.only or DEFAULT_SECTIONS
    sections = [s for s in harness.REGISTRY if s.group != "baseline"
                and any(k == s.name or k == s.group or (a.only and k.lower() in s.name.lower()) for k in wanted)
                and not any(k == s.name or k == s.group or k.lower() in s.name.lower() for k in a.skip)]
    typer = next(s for s in harness.REGISTRY if s.name == BASELINE)
    sections = sorted(sections, key=lambda s: s.order)
    if not sections:
        raise SystemExit("no sections selected")

    work = bench.WORK
    work.mkdir(exist_ok=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    import fcntl

    lock = open(work / "compare.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    info_before = harness.machine_info()
    shape = f"{a.records}x{a.entries}"
    vaults = {}
    for tree in trees:
        root = work / f"compare-{tree}-{shape}"
        if kinds[tree] in ("before", "own"):
            vaults[tree] = _before_vault(codes[tree], root, a.records, a.entries, a.big, a.rebuild,
                                         own=kinds[tree] == "own")
        else:
            vaults[tree] = _after_vault(root, a.records, a.entries, a.big, kinds[tree], a.rebuild)
    scratch = Path(tempfile.mkdtemp(prefix="compare-", dir=work))
    ctxs = {}
    for tree in trees:
        folder = scratch / tree
        folder.mkdir()
        # Each tree runs through the same launcher, as 'python -m vault_cli' does: the installed
        # 'confide' script names one tree's entry point, which another tree may not have.
        launcher = folder / "confide"
        launcher.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_module('vault_cli', run_name='__main__')\n")
        launcher.chmod(0o755)
        ctx = Context(sv=vaults[tree], work=folder, runs=a.runs, code=codes[tree], label=tree, confide_bin=str(launcher))
        bench.start_context(ctx)
        bench.choose_records(ctx)
        ctxs[tree] = ctx
    base_ctx = ctxs[trees[-1]]
    print(f"{len(sections)} sections x {len(trees)} trees ({', '.join(trees)}), {a.runs} runs each, interleaved")
    t0 = time.perf_counter()
    samples: dict = {}
    try:
        typer.setup(base_ctx)
        for s in sections:
            if s.setup:
                for tree in trees:
                    print(f"  setup: {s.name} [{tree}]")
                    s.setup(ctxs[tree])
        warm: set = set()
        for r in range(a.runs):
            if r == 0:
                typer.fn(base_ctx)  # untimed warm-up
            base_ctx.cpu_s = 0.0
            samples.setdefault((BASELINE, "typer"), []).append((typer.fn(base_ctx), base_ctx.cpu_s))
            for s in sections:
                order = trees[r % len(trees):] + trees[:r % len(trees)]  # rotate which tree goes first
                for tree in order:
                    ctx = ctxs[tree]
                    if (s.name, tree) not in warm:
                        s.fn(ctx)  # untimed warm-up
                        warm.add((s.name, tree))
                    ctx.cpu_s = 0.0
                    t = s.fn(ctx)
                    samples.setdefault((s.name, tree), []).append((t, ctx.cpu_s))
            print(f"  run {r + 1}/{a.runs} done ({time.perf_counter() - t0:.0f}s)")
    finally:
        for ctx in ctxs.values():
            ctx.reset_vault()
        shutil.rmtree(scratch, ignore_errors=True)
    info_after = harness.machine_info()
    rows = [_row(BASELINE, {trees[0]: samples[(BASELINE, "typer")]}, [trees[0]])]
    rows += [_row(s.name, {tree: samples.get((s.name, tree)) for tree in trees}, trees) for s in sections]
    print()
    print(table(rows, trees))
    print()
    print(f"{time.perf_counter() - t0:.0f}s; load average before {info_before.get('loadavg')} after "
          f"{info_after.get('loadavg')} on {info_before.get('affinity')} cores; the typer start-up (first column) "
          f"is code-independent: the yardstick")
    a.results.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "params": {"trees": {t: {"code": str(codes[t]), "vault": kinds[t]} for t in trees}, "records": a.records,
                   "entries": a.entries, "big": a.big, "runs": a.runs, "sections": [s.name for s in sections]},
        "machine": {"before": info_before, "after": info_after},
        "vaults": {tree: {"root": str(sv.root), "signing": sv.signing, "identities": sv.identities,
                          "median_record_bytes": sv.bytes_per_record, "records": len(sv.records)}
                   for tree, sv in vaults.items()},
        "rows": rows,
    }, indent=2) + "\n")
    print(f"wrote {a.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
