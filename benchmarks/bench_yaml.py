"""What ``vault_cli/formats/canonical.py`` (the hand-written YAML fast path) saves, against ruamel.yaml alone.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_yaml.py [--runs 5] [--commits 3000] [--skip-commands] [--skip-verify]

The peer is this same code with ``canonical.py`` replaced by a module whose
every function declines (returns None), so every YAML file is read and written
by ruamel.yaml's C loader and emitter (``yamlio.library_load`` /
``library_dump``) and ``verify`` parses every version of an entries file whole.
The peer tree is generated under ``benchmarks/work/trees/ruamel-only`` on each
run (its ``vault_cli`` is a copy of this tree's); nothing else differs.

1. The commands (``compare.py``, interleaved, one vault per tree, 1,000 records
   x 50 entries): ``confide add``, ``add`` to a 300-entry record, ``show`` of
   it, ``child list``, and the bulk ``revoke --all`` / ``grant --all`` /
   ``holder rotate`` that read and rewrite every head.
2. ``confide verify --json`` as the manager over a history of ``--commits``
   one-entry commits on 300 records x 20 entries (``synth.grow_history``),
   both trees on the same vault, interleaved; the two reports must be
   identical (apart from timings).
3. In-process costs per file (CPU, best of 5) on the first vault's files:
   reading and writing a head, a 50-entry entries file and the 300-entry one.

Medians of wall and CPU time; on a shared machine CPU is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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

WORK = HERE / "work"
PEER = WORK / "trees" / "ruamel-only"
SECTIONS = ["confide add", "confide add (300-entry record)", "confide show (300 entries)", "confide child list",
            "confide revoke --all (practitioner)", "confide grant --all (every level)",
            "confide holder rotate (practitioner)"]
DECLINING = '''"""canonical.py for the benchmark's peer: every function declines, so ruamel.yaml does all the work."""
MAX_DEPTH = 16


def dump(data):
    return None


def load(text):
    return None


def entry_items(tail):
    return None


def entries_document(items):
    return b"entries:\\n" + b"".join(b"- id: " + item + b"\\n" for item in items)


def append_entry(tail, entry):
    return None
'''


def make_peer() -> Path:
    """A copy of this tree's code with ``canonical.py`` declining everything."""
    shutil.rmtree(PEER, ignore_errors=True)
    PEER.mkdir(parents=True)
    shutil.copytree(REPO / "vault_cli", PEER / "vault_cli", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "schemas", PEER / "schemas")
    (PEER / "vault_cli" / "formats" / "canonical.py").write_text(DECLINING)
    return PEER


def commands(runs: int) -> None:
    argv = [sys.executable, str(HERE / "compare.py"), "--tree", f"canonical={REPO}@ssh", "--tree", f"ruamel-only={PEER}@ssh",
            "--runs", str(runs), "--results", str(WORK / "results-yaml-commands.json")]
    for s in SECTIONS:
        argv += ["--only", s]
    subprocess.run(argv, check=True)


def _verify_once(root: Path, sv, code: Path) -> tuple:
    env = synth.env_for(sv, sv.manager, PYTHONPATH=str(code))
    confide = str(Path(sys.executable).with_name("confide"))
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([confide, "verify", "--json", "--vault", str(root)], capture_output=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"verify failed with {code}: {p.stderr.decode()[-600:]}")
    report = {k: v for k, v in json.loads(p.stdout).items() if k not in ("seconds", "elapsed")}
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), json.dumps(report, sort_keys=True)


def verify(runs: int, commits: int) -> None:
    root = WORK / f"yaml-history-300x20-{commits}"
    sv = synth.load(root)
    if sv is None:
        synth.remove(root)
        sv = synth.build_vault(root, 300, 20, entry_authors="committer")
        synth.pin_trust(sv)
        synth.grow_history(sv, commits)
    n = int(subprocess.run(["git", "-C", str(root), "rev-list", "--count", "HEAD"], capture_output=True, text=True).stdout)
    trees = {"canonical": REPO, "ruamel-only": PEER}
    res: dict = {t: [] for t in trees}
    for r in range(runs):
        for t in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            res[t].append(_verify_once(root, sv, trees[t]))
            print(f"  verify run {r + 1} {t}: {res[t][-1][0]:.2f}s wall, {res[t][-1][1]:.2f}s CPU", flush=True)
    if len({x[2] for rows in res.values() for x in rows}) != 1:
        raise SystemExit("the two trees' verify reports differ")
    base = statistics.median(x[1] for x in res["canonical"])
    for t, rows in res.items():
        cpu = statistics.median(x[1] for x in rows)
        print(f"verify over {n} commits [{t}]: median {statistics.median(x[0] for x in rows):.2f}s wall, "
              f"{cpu:.2f}s CPU ({cpu / base:.2f}x)")


def per_file() -> None:
    code = f"""
import glob, sys, time
sys.path.insert(0, {str(REPO)!r})
from vault_cli.formats import canonical, yamlio
root = sys.argv[1]
heads = [open(p, 'rb').read() for p in sorted(glob.glob(root + '/records/*.yaml')) if not p.endswith('.entries.yaml')][:200]
tails = [open(p, 'rb').read() for p in sorted(glob.glob(root + '/records/*.entries.yaml'))]
big = max(tails, key=len)
tails = tails[:200]
def best(f, items):
    out = []
    for _ in range(5):
        t = time.process_time()
        for x in items:
            f(x)
        out.append(time.process_time() - t)
    return min(out) * 1000 / len(items)
t = time.process_time(); yamlio._yaml(); print(f"ruamel.yaml import and set-up: {{(time.process_time() - t) * 1000:.1f}} ms")
for label, items in (("head", heads), ("50-entry file", tails), ("300-entry file", [big])):
    data = [yamlio.library_load(x, 'x') for x in items]
    print(f"{{label}}: read {{best(canonical.load, items):.2f}} ms vs ruamel.yaml {{best(lambda x: yamlio.library_load(x, 'x'), items):.2f}} ms; "
          f"write {{best(canonical.dump, data):.2f}} ms vs {{best(yamlio.library_dump, data):.2f}} ms")
"""
    root = WORK / "compare-canonical-1000x50"
    with_files = root if root.is_dir() else next(WORK.glob("compare-*-1000x50"), None)
    if with_files is None:
        print("per-file costs: no 1000x50 vault under benchmarks/work (run the commands first)")
        return
    subprocess.run([sys.executable, "-c", code, str(with_files)], check=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--commits", type=int, default=3000)
    ap.add_argument("--skip-commands", action="store_true")
    ap.add_argument("--skip-verify", action="store_true")
    a = ap.parse_args(argv)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(WORK / "pycache"))
    make_peer()
    if not a.skip_commands:
        commands(a.runs)
    if not a.skip_verify:
        verify(a.runs, a.commits)
    per_file()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
