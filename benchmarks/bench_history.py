"""History benchmarks (issue 4): ``confide verify`` and ``confide audit --json`` as history grows.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_history.py [--records 1000] [--entries 5] [--commits 1000,10000] [--runs 3]

Builds a synthetic vault of ``--records`` records under ``benchmarks/work/`` with
``benchmarks/synth.py`` (all records in one commit), grows its
history with one-entry ``entry.add`` commits (``synth.grow_history``, also
fast-import) up to each size in ``--commits``, and at each size times whole
``confide verify --json`` and ``confide audit --json`` processes as the manager
(so the content checks run too), reporting wall seconds, CPU seconds (the
command and the git processes it ran: steadier than wall time on a busy
machine) and milliseconds per commit, plus the marginal cost of the commits
added between two sizes. The per-commit cost should stay flat as the history
grows. Results also go to ``benchmarks/work/results-history.json``.

Synthetic commits are signed by their holder (``synth._sign_history``) and every
entry names the holder who committed it (``entry_authors="committer"``), so the
history verifies clean (exit 0; anything else fails the run) and verify walks
and checks every commit, as in a healthy vault. ``benchmarks/bench_trust.py``
times verify against its peer (``git log --show-signature``) and a command
verifying what it pulled.

Imported by ``bench.py`` too, where it registers one section (group ``history``)
that does the same at the sizes given by ``CONFIDE_BENCH_HISTORY`` (default
``1000,10000``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import synth  # noqa: E402
from benchmarks.harness import section  # noqa: E402


def _commits(root: Path) -> int:
    return int(subprocess.run(["git", "-C", str(root), "rev-list", "--count", "HEAD"], capture_output=True, text=True,
                              check=True).stdout)


CPU: list = []  # CPU seconds (user + system, the command and the git processes it ran) of each timed run


def _time(argv: list, env: dict) -> float:
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env)
    t = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed ({proc.returncode}): {proc.stderr.decode()[:400]}")
    if "audit" in argv:
        json.loads(proc.stdout)
    return t


def measure(root: Path, records: int, entries: int, sizes: list, runs: int, log=print) -> list:
    synth.remove(root)
    log(f"building {records} records x {entries} entries in one commit at {root}")
    sv = synth.build_vault(root, records, entries, entry_authors="committer")
    env = synth.env_for(sv, sv.manager)
    confide = str(Path(sys.executable).with_name("confide"))
    rows = []
    for size in sizes:
        have = _commits(root)
        if size > have:
            t0 = time.perf_counter()
            synth.grow_history(sv, size - have)
            log(f"  grew history to {size} commits in {time.perf_counter() - t0:.1f}s")
        n = _commits(root)
        CPU.clear()
        v = [_time([confide, "verify", "--json", "--vault", str(root)], env) for _ in range(runs)]
        vcpu = statistics.median(CPU)
        CPU.clear()
        a = [_time([confide, "audit", "--json", "--vault", str(root)], env) for _ in range(runs)]
        acpu = statistics.median(CPU)
        row = {"commits": n, "records": records, "verify_s": statistics.median(v), "audit_s": statistics.median(a),
               "verify_cpu_s": vcpu, "audit_cpu_s": acpu}
        row["verify_ms_per_commit"] = row["verify_s"] * 1000 / n
        row["audit_ms_per_commit"] = row["audit_s"] * 1000 / n
        log(f"  {n:>6} commits: verify {row['verify_s']:.2f}s ({row['verify_ms_per_commit']:.3f} ms/commit; "
            f"CPU {vcpu:.2f}s), audit --json {row['audit_s']:.2f}s ({row['audit_ms_per_commit']:.3f} ms/commit; CPU {acpu:.2f}s)")
        if rows:
            prev = rows[-1]
            row["verify_ms_per_added_commit"] = (row["verify_s"] - prev["verify_s"]) * 1000 / (n - prev["commits"])
            row["audit_ms_per_added_commit"] = (row["audit_s"] - prev["audit_s"]) * 1000 / (n - prev["commits"])
            added = n - prev["commits"]
            row["verify_cpu_ms_per_added_commit"] = (vcpu - prev["verify_cpu_s"]) * 1000 / added
            row["audit_cpu_ms_per_added_commit"] = (acpu - prev["audit_cpu_s"]) * 1000 / added
            log(f"         marginal cost of the {added} commits added: verify "
                f"{row['verify_ms_per_added_commit']:.3f} ms/commit (CPU {row['verify_cpu_ms_per_added_commit']:.3f}), "
                f"audit {row['audit_ms_per_added_commit']:.3f} ms/commit (CPU {row['audit_cpu_ms_per_added_commit']:.3f})")
        rows.append(row)
    return rows


@section("verify + audit over history", group="history", runs=1, compare=None,
         note="ms per commit at each history size; see benchmarks/bench_history.py")
def history_section(ctx) -> dict:
    sizes = [int(s) for s in os.environ.get("CONFIDE_BENCH_HISTORY", "1000,10000").split(",")]
    rows = measure(ctx.work / "history-vault", ctx.records, 5, sizes, 1, log=lambda *_: None)
    out = {}
    for r in rows:
        out[f"verify per commit @{r['commits']}"] = r["verify_ms_per_commit"] / 1000
        out[f"audit --json per commit @{r['commits']}"] = r["audit_ms_per_commit"] / 1000
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1000)
    p.add_argument("--entries", type=int, default=5, help="entries per record in the initial build")
    p.add_argument("--commits", default="1000,10000", help="history sizes to measure at, ascending")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.commits.split(",")]
    root = HERE / "work" / f"history-{args.records}"
    rows = measure(root, args.records, args.entries, sizes, args.runs)
    out = HERE / "work" / "results-history.json"
    out.write_text(json.dumps({"rows": rows, "cores": len(os.sched_getaffinity(0))}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
