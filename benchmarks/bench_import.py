"""Import benchmark (issue 11): 1,000 entries over 100 children, one ``confide import`` against processes.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_import.py [--runs 3] [--children 100] [--entries 10] [--sample 10]

Both sides start from copies of one vault made for the purpose (untimed): a
manager (amira, who runs every timed command), a DSL, two practitioners who
are the children's key persons, and a recovery key; every commit signed, as
``confide init`` makes a vault. The data is synthetic: each child a name,
date of birth, room and key person; each entry ~200 characters of text at one
of the three levels, a date in the past, a parents-informed date or reason on
some.

- **import**: one ``confide import FILE`` process bringing in every child and
  entry (one commit);
- **processes**: the same work done the other way: one ``confide child add``
  per child, then one ``confide add`` per entry (``--text -``, as the README
  advises), each its own process and commit, as a shell loop would run them.

With ``--sample K`` (default 10: 10 ``child add`` and 100 ``add`` processes per
run) the processes side runs the first K children only and the total for all
children is **extrapolated** from the median time of one ``child add`` and of
one ``add`` process in that run: children x median(child add) + entries x
median(add). ``--sample 0`` runs every process (1,100 at the defaults; ~10
minutes or more on a loaded machine). Runs are interleaved (import, then
processes, per run), each on a fresh copy of the vault, and medians are
reported. Target: import at most 0.1x the processes.

Every command is run as the console script would run it (``vault_cli.cli.main:main``,
with its one-command pruning), with this tree on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIDE = [sys.executable, "-c", "from vault_cli.cli.main import main; main()"]
HEADER = ["child", "name", "dob", "room", "key_person", "at", "level", "category", "text", "parent_view",
          "parents_informed", "parents_not_informed", "third_parties"]
WORDS = ("played outside with the sand and water tray and talked about the boats she made while her friend "
         "watched; later said that home was busy this week and that grandma came to stay; ate all her lunch; "
         "slept well after lunch; settled quickly at drop off and waved to her father at the door").split()


def env_for(work: Path, vault: Path, key: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "GIT_"))}
    env.update(HOME=str(work / "home"), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               PYTHONPATH=str(REPO), CONFIDE_VAULT=str(vault), CONFIDE_IDENTITY=str(key),
               GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="gc.auto", GIT_CONFIG_VALUE_0="0")
    return env


def run(args: list, env: dict, input: bytes | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run([*CONFIDE, *args], env=env, input=input, capture_output=True)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"confide {' '.join(args[:2])} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    return t, p.stdout.decode()


def build_template(work: Path) -> tuple[Path, dict]:
    """A vault as 'confide init' and 'holder add' make it; the keys made by 'confide keygen'."""
    (work / "home").mkdir(parents=True)
    keys = {}
    for name in ("amira", "dara", "ben", "cara"):
        keys[name] = work / f"{name}.key"
        run(["keygen", "--out", str(keys[name])], env_for(work, work, keys[name]))
    keys["rec"] = work / "rec.key"
    _, rec_line = run(["keygen", "--age", "--out", str(keys["rec"])], env_for(work, work, keys["rec"]))
    vault = work / "template"
    env = env_for(work, vault, keys["amira"])
    run(["init", str(vault), "--name", "Bench Nursery", "--holder", "amira"], env)

    def public(name: str) -> str:
        out = subprocess.run(["ssh-keygen", "-y", "-f", str(keys[name])], check=True, capture_output=True, text=True)
        return " ".join(out.stdout.split()[:2])

    for name, role in (("dara", "dsl"), ("ben", "practitioner"), ("cara", "practitioner")):
        run(["holder", "add", name, "--role", role, "--recipient", public(name)], env)
    run(["holder", "add", "rec", "--role", "recovery", "--recipient", rec_line.strip().splitlines()[-1]], env)
    return vault, keys


def make_data(children: int, entries: int, seed: int = 11) -> list:
    """[(profile, [entry, ...])]: synthetic children and entries, all dated in the past."""
    rnd = random.Random(seed)
    rooms = ("rainbow", "sunflower", "acorn", "willow")
    out = []
    for i in range(children):
        profile = {"name": f"Child{i:03d} Bench", "dob": f"202{rnd.randint(1, 3)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
                   "room": rooms[i % 4], "key_person": ("ben", "cara")[i % 2]}
        items = []
        for j in range(entries):
            level = ("general", "general", "confidential", "safeguarding")[rnd.randrange(4)]
            category = {"general": "observation", "confidential": "injury", "safeguarding": "concern"}[level]
            day = f"2026-{rnd.randint(1, 10):02d}-{rnd.randint(10, 28):02d}"
            at = day if j % 3 == 0 else f"{day}T{rnd.randint(8, 17):02d}:{rnd.choice(('00', '15', '30', '45'))}"
            e = {"at": at, "level": level, "category": category,
                 "text": " ".join(rnd.choice(WORDS) for _ in range(36))[:200].strip()}
            if level == "confidential":
                e["parents_informed"] = day
            elif level == "safeguarding":
                e["parents_not_informed"] = "informing parents may place the child at risk"
            items.append(e)
        out.append((profile, items))
    return out


def as_csv(data: list) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for i, (profile, items) in enumerate(data):
        first = {"child": str(i), **profile}
        if not items:
            w.writerow([first.get(c, "") for c in HEADER])
        for j, e in enumerate(items):
            row = {**(first if j == 0 else {"child": str(i)}), **e}
            w.writerow([row.get(c, "") for c in HEADER])
    return buf.getvalue().encode("utf-8")


def fresh_copy(template: Path, dest: Path) -> Path:
    from vault_cli.services.sync import register_repo_config

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest, symlinks=True)
    register_repo_config(dest)  # the allowed-signers path in .git/config is absolute
    return dest


def time_import(work: Path, template: Path, keys: dict, csv_path: Path) -> float:
    vault = fresh_copy(template, work / "run-import")
    t, out = run(["import", str(csv_path)], env_for(work, vault, keys["amira"]))
    assert len(out.splitlines()) > 0
    return t


def time_processes(work: Path, template: Path, keys: dict, data: list) -> tuple[list, list, float]:
    vault = fresh_copy(template, work / "run-processes")
    env = env_for(work, vault, keys["amira"])
    child_times, add_times = [], []
    t0 = time.perf_counter()
    for profile, items in data:
        t, out = run(["child", "add", "--name", profile["name"], "--dob", profile["dob"], "--room", profile["room"],
                      "--key-person", profile["key_person"]], env)
        child_times.append(t)
        rid = out.strip().splitlines()[-1]
        for e in items:
            args = ["add", rid, "--level", e["level"], "--category", e["category"], "--text", "-", "--at", e["at"]]
            if "parents_informed" in e:
                args += ["--parents-informed", e["parents_informed"]]
            if "parents_not_informed" in e:
                args += ["--parents-not-informed", e["parents_not_informed"]]
            t, _ = run(args, env, input=e["text"].encode() + b"\n")
            add_times.append(t)
    return child_times, add_times, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--children", type=int, default=100)
    ap.add_argument("--entries", type=int, default=10, help="entries per child")
    ap.add_argument("--sample", type=int, default=10,
                    help="children whose child add / add processes are run per run (0: all), the rest extrapolated")
    ap.add_argument("--json", dest="json_out", help="write the figures to this file")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        print(f"# building the vault in {work} ...", file=sys.stderr)
        template, keys = build_template(work)
        data = make_data(a.children, a.entries)
        csv_path = work / "children.csv"
        csv_path.write_bytes(as_csv(data))
        n_children, n_entries = len(data), sum(len(items) for _, items in data)
        sample = data[: a.sample] if a.sample else data
        imports, processes, per_child, per_add, measured = [], [], [], [], []
        for r in range(a.runs):
            t = time_import(work, template, keys, csv_path)
            imports.append(t)
            ct, at, total = time_processes(work, template, keys, sample)
            mc, ma = statistics.median(ct), statistics.median(at)
            est = total if not a.sample else n_children * mc + n_entries * ma
            processes.append(est)
            per_child.append(mc)
            per_add.append(ma)
            measured.append(total)
            print(f"run {r + 1}: import {t:.2f} s; processes {'measured' if not a.sample else 'extrapolated'} "
                  f"{est:.1f} s ({len(ct)} child add, {len(at)} add run in {total:.1f} s; median child add "
                  f"{mc:.3f} s, add {ma:.3f} s)", file=sys.stderr)
        imp, proc = statistics.median(imports), statistics.median(processes)
        figures = {
            "children": n_children, "entries": n_entries, "runs": a.runs,
            "sample_children": len(sample), "sample_processes": len(sample) + sum(len(i) for _, i in sample),
            "extrapolated": bool(a.sample),
            "import_s": imports, "import_median_s": imp,
            "processes_s": processes, "processes_median_s": proc,
            "child_add_median_s": statistics.median(per_child), "add_median_s": statistics.median(per_add),
            "ratio": imp / proc, "target": 0.1, "ok": imp / proc <= 0.1,
        }
        how = (f"extrapolated from {figures['sample_processes']} processes per run "
               f"({n_children} x median child add + {n_entries} x median add)") if a.sample else "measured in full"
        print(f"{n_entries} entries over {n_children} children, {a.runs} runs, medians:")
        print(f"  confide import (one process, one commit)   {imp:8.2f} s")
        print(f"  child add + add processes ({n_children + n_entries})     {proc:8.2f} s   ({how})")
        print(f"    one child add {figures['child_add_median_s']:.3f} s, one add {figures['add_median_s']:.3f} s")
        print(f"  ratio import / processes                   {imp / proc:8.3f}   (target <= 0.1: "
              f"{'ok' if figures['ok'] else 'MISSED'})")
        if a.json_out:
            Path(a.json_out).write_text(json.dumps(figures, indent=2) + "\n")
        return 0 if figures["ok"] else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
