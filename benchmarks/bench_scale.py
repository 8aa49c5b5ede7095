"""Issue 12, "At 25 years' scale": staff turnover and pack growth, measured on whole ``confide`` processes.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_scale.py turnover [--records 200] [--entries 5] [--changes 125] [--every 25]
    .venv/bin/python benchmarks/bench_scale.py pack [--records 1000] [--entries 50] [--adds 1000]
    ... [--tree PATH]   # the vault_cli tree the confide processes import (PYTHONPATH; default this checkout)

Every command is a real ``python -m vault_cli`` process with ``--tree`` on ``PYTHONPATH``, real keys (from
``confide keygen``) and real git, so the same script measures today's format and a redesigned one: run it
once per tree and compare the JSON in ``benchmarks/work/`` (``scale-turnover.json``, ``scale-pack.json``).

**turnover** builds a vault through processes of the tree: ``init`` (amira, manager), ``holder add`` of a
DSL (dara), 18 practitioners and a recovery key (``--staff 20`` active staff), then one ``confide import`` of
``--records`` children with ``--entries`` entries each; ben and cara (practitioners who stay) are the key
persons, alternately. Then ``--changes`` staff changes, alternating as real turnover does: a practitioner
leaves (``holder remove``; the longest-serving of the other 16 first), then a new one joins (``holder add``
with a fresh key), so the staff count goes 20, 19, 20, ... At the start and after every ``--every``
changes it records:

- ``head mean`` / ``head max``: bytes of the record heads (``records/*.yaml`` that are not
  ``*.entries.yaml``; a redesign that moves keys elsewhere should say where, and count it);
- ``add``: one ``confide add`` (ben, key person, a general entry from stdin), median of 5 (each a commit);
- ``show``: one ``confide show`` of the same record (ben), median of 5;
- ``leave`` / ``join``: the wall time of the last ``holder remove`` / ``holder add`` before the checkpoint
  (at the start, measured before any change, these two are changes 1 and 2: the first leave and join).

The table gives each figure at every checkpoint and its ratio to the start; the issue's target is that
every figure at the end is within 2x of its start. Each change's time is kept in the JSON (``changes``).

**pack** builds a ``--records`` x ``--entries`` vault with the tree's ``benchmarks/synth.py`` (run as a
process, so in the tree's format), runs a plain ``git gc``, then ``--adds`` single-entry ``confide add``
processes (real processes, one commit each, not fast-import, which deltas by path and hides the effect),
on records spread over the vault (as ben, the key person of half of them), and ``git gc`` again. It
reports the pack bytes before and after, the bytes written (growth of the tracked files: the new
entries, as committed), and the ratio ``pack growth / bytes written``; the issue's target is at most 2x.
Use the full 1,000 records for it: git deltas a blob only against the few neighbours its name-hash
(which sorts by the path's ending) puts it beside, so on a small vault (50 records) the previous version of
an entries file is still among them and the ratio is ~1 even in today's format; the synthetic vault is one
``record.import`` commit, so a redesign's ``synth.py`` must build its own format for the comparison to hold.

Wall times are single processes on a shared machine: quote them with the load average printed at the
end. Byte-code is cached (``PYTHONPYCACHEPREFIX`` under ``benchmarks/work/``) so no run pays compilation.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
TEXT = ("played outside with the sand and water tray and talked about the boats she made; ate all of lunch "
        "and slept for forty minutes; settled quickly at drop off and waved to her father at the door")


class Runner:
    """Runs ``python -m vault_cli`` against one vault with one tree's code, as a named holder."""

    def __init__(self, tree: Path, work: Path, vault: Path):
        self.tree, self.work, self.vault = tree, work, vault
        self.keys: dict = {}

    def env(self, who: Optional[str]) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "GIT_"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(HOME=str(self.work / "home"), PYTHONPATH=str(self.tree), NO_COLOR="1",
                   PYTHONPYCACHEPREFIX=str(WORK / "pycache"), CONFIDE_VAULT=str(self.vault),
                   GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_COUNT="2",
                   GIT_CONFIG_KEY_0="gc.auto", GIT_CONFIG_VALUE_0="0",
                   GIT_CONFIG_KEY_1="maintenance.auto", GIT_CONFIG_VALUE_1="false")
        if who is not None:
            env["CONFIDE_IDENTITY"] = str(self.keys[who])
        return env

    def run(self, who: Optional[str], *args: str, input: Optional[bytes] = None) -> tuple[float, str]:
        """(wall seconds, stdout) of one process; a failure stops the benchmark with its stderr."""
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "vault_cli", *args], env=self.env(who), input=input,
                           capture_output=True)
        t = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"confide {' '.join(args[:2])} as {who} failed ({p.returncode}): "
                             f"{p.stderr.decode(errors='replace')[-2000:]}")
        return t, p.stdout.decode()

    def keygen(self, name: str, *, age: bool = False) -> str:
        """A fresh key for ``name`` (``confide keygen``, mode 0600); returns the public line to give ``holder add``."""
        path = self.work / "keys" / f"{name}.key"
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _, out = self.run(None, "keygen", "--out", str(path), *(["--age"] if age else []))
        self.keys[name] = path
        if age:
            return out.strip().splitlines()[-1]
        pub = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], check=True, capture_output=True, text=True)
        return " ".join(pub.stdout.split()[:2])

    def git(self, *args: str) -> str:
        env = self.env(None)
        return subprocess.run(["git", "-C", str(self.vault), *args], check=True, capture_output=True,
                              env=env).stdout.decode()


def median_of(fn, n: int) -> float:
    return statistics.median(fn() for _ in range(n))


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def fresh_work(name: str) -> Path:
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    (work / "home").mkdir(parents=True)
    return work


# ---------------------------------------------------------------------------
# turnover


def heads(vault: Path) -> list:
    return [p.stat().st_size for p in (vault / "records").glob("*.yaml") if not p.name.endswith(".entries.yaml")]


def import_csv(records: int, entries: int, key_persons: tuple, seed: int = 5) -> bytes:
    rnd = random.Random(seed)
    rows = ["child,name,dob,room,key_person,at,level,category,text"]
    for i in range(records):
        kp = key_persons[i % len(key_persons)]
        first = f"{i},Child{i:04d} Bench,202{rnd.randint(1, 3)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)},rainbow,{kp}"
        for j in range(max(entries, 1)):
            head = first if j == 0 else f"{i},,,,"
            at = f"2026-{rnd.randint(1, 10):02d}-{rnd.randint(10, 28):02d}"
            body = f"{at},general,observation,{TEXT}" if entries else ",,,"
            rows.append(f"{head},{body}")
    return ("\n".join(rows) + "\n").encode()


def build_turnover(r: Runner, records: int, entries: int, staff: int) -> list:
    """The vault (see the module docstring); returns the practitioners who may leave, longest-serving first."""
    pub = r.keygen("amira")
    r.run("amira", "init", str(r.vault), "--name", "Scale Nursery", "--holder", "amira")
    del pub  # init takes the holder's key from the identity
    r.run("amira", "holder", "add", "dara", "--role", "dsl", "--recipient", r.keygen("dara"))
    movers = [f"p{i:03d}" for i in range(1, staff - 3)]  # staff - manager - DSL - ben - cara
    for name in ("ben", "cara", *movers):
        r.run("amira", "holder", "add", name, "--role", "practitioner", "--recipient", r.keygen(name))
    r.run("amira", "holder", "add", "rec", "--role", "recovery", "--recipient", r.keygen("rec", age=True))
    data = r.work / "children.csv"
    data.write_bytes(import_csv(records, entries, ("ben", "cara")))
    r.run("amira", "import", str(data))
    return movers


def record_of(r: Runner, key_person: str) -> str:
    _, out = r.run(key_person, "child", "list", "--json")
    items = json.loads(out)
    items = items.get("children", items) if isinstance(items, dict) else items
    ids = sorted(c.get("id") or c.get("record") for c in items if c.get("key_person") == key_person)
    if not ids:
        raise SystemExit(f"no record with key person {key_person} in child list --json: {out[:300]}")
    return ids[0]


def turnover(a: argparse.Namespace) -> dict:
    work = fresh_work("scale-turnover")
    r = Runner(a.tree, work, work / "vault")
    t0 = time.perf_counter()
    print(f"# building {a.records} records x {a.entries} entries, {a.staff} staff, in {r.vault} ...", file=sys.stderr)
    movers = build_turnover(r, a.records, a.entries, a.staff)
    rid = record_of(r, "ben")
    print(f"# built in {time.perf_counter() - t0:.0f} s; measuring on record {rid}", file=sys.stderr)
    serial = len(movers)
    changes: list = []  # [{"n", "kind", "who", "s"}]

    def change() -> None:
        nonlocal serial
        n = len(changes) + 1
        if n % 2:  # a leave
            who = movers.pop(0)
            t, _ = r.run("amira", "holder", "remove", who, "--reason", "left the setting")
            kind = "leave"
        else:
            serial += 1
            who = f"p{serial:03d}"
            line = r.keygen(who)  # untimed: the joiner's own keygen
            t, _ = r.run("amira", "holder", "add", who, "--role", "practitioner", "--recipient", line)
            movers.append(who)
            kind = "join"
        changes.append({"n": n, "kind": kind, "who": who, "s": round(t, 4)})

    def add_once() -> float:
        return r.run("ben", "add", rid, "--level", "general", "--category", "observation", "--text", "-",
                     input=TEXT.encode() + b"\n")[0]

    def checkpoint() -> dict:
        sizes = heads(r.vault)
        last = {k: next((c["s"] for c in reversed(changes) if c["kind"] == k), None) for k in ("leave", "join")}
        point = {"changes": len(changes), "head_mean": statistics.mean(sizes), "head_max": max(sizes),
                 "add": median_of(add_once, a.repeat),
                 "show": median_of(lambda: r.run("ben", "show", rid)[0], a.repeat),
                 "leave": last["leave"], "join": last["join"], "load": load()}
        print(f"# after {point['changes']:4d} changes: head mean {point['head_mean'] / 1024:8.1f} KB, max "
              f"{point['head_max'] / 1024:8.1f} KB, add {point['add']:.2f} s, show {point['show']:.2f} s, last leave "
              f"{point['leave'] or 0:.2f} s, join {point['join'] or 0:.2f} s (load {point['load']})", file=sys.stderr)
        return point

    points = [checkpoint()]  # no staff change yet: head, add and show
    change()
    change()  # the start's own staff-change figures: the first leave and join
    points[0].update(leave=changes[0]["s"], join=changes[1]["s"])
    while len(changes) < a.changes:
        change()
        if len(changes) % a.every == 0 or len(changes) == a.changes:
            points.append(checkpoint())
    return {"params": {"records": a.records, "entries": a.entries, "staff": a.staff, "changes": a.changes,
                       "every": a.every, "repeat": a.repeat, "tree": str(a.tree), "record": rid},
            "points": points, "changes": changes, "seconds": round(time.perf_counter() - t0, 1)}


def turnover_table(res: dict) -> str:
    pts = res["points"]
    start = pts[0]
    cols = (("head_mean", "head mean KB", 1 / 1024), ("head_max", "head max KB", 1 / 1024),
            ("add", "add s", 1), ("show", "show s", 1), ("leave", "leave s", 1), ("join", "join s", 1))
    lines = [f"{'changes':>8} " + " ".join(f"{label:>13} {'ratio':>6}" for _, label, _ in cols)]
    for p in pts:
        cells = []
        for key, _, scale in cols:
            v, v0 = p[key], start[key]
            cells.append(f"{v * scale:13.2f} {v / v0 if v0 else float('nan'):6.2f}")
        lines.append(f"{p['changes']:>8} " + " ".join(cells))
    end = pts[-1]
    worst = max((end[k] / start[k], k) for k, _, _ in cols if start[k])
    lines.append(f"target: every figure at the end within 2x of the start; worst {worst[1]} {worst[0]:.2f}x: "
                 f"{'ok' if worst[0] <= 2 else 'MISSED'}")
    leaves = [c["s"] for c in res["changes"] if c["kind"] == "leave"]
    joins = [c["s"] for c in res["changes"] if c["kind"] == "join"]
    lines.append(f"{len(res['changes'])} changes: leave median {statistics.median(leaves):.2f} s "
                 f"(first {leaves[0]:.2f}, last {leaves[-1]:.2f}), join median {statistics.median(joins):.2f} s "
                 f"(first {joins[0]:.2f}, last {joins[-1]:.2f}); total {sum(leaves) + sum(joins):.0f} s of changes")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# pack growth


def pack_bytes(vault: Path) -> dict:
    obj = vault / ".git" / "objects"
    packs = sum(p.stat().st_size for p in (obj / "pack").glob("*.pack"))
    loose = sum(p.stat().st_size for d in obj.iterdir() if len(d.name) == 2 for p in d.iterdir())
    return {"pack": packs, "loose": loose}


def tracked_bytes(r: Runner) -> int:
    names = [n for n in r.git("ls-files", "-z").split("\0") if n]
    return sum((r.vault / n).stat().st_size for n in names if (r.vault / n).is_file())


def pack(a: argparse.Namespace) -> dict:
    work = fresh_work("scale-pack")
    vault = work / "vault"
    synth_py = a.tree / "benchmarks" / "synth.py"
    t0 = time.perf_counter()
    print(f"# building {a.records} x {a.entries} with {synth_py} ...", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "GIT_"))}
    env.update(PYTHONPATH=str(a.tree), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run([sys.executable, str(synth_py), str(vault), "--records", str(a.records), "--entries",
                    str(a.entries)], check=True, env=env, stdout=subprocess.DEVNULL)
    build_s = time.perf_counter() - t0
    r = Runner(a.tree, work, vault)
    sys.path.insert(0, str(a.tree))
    from benchmarks import synth  # the tree's synth: its manifest, keys and key persons

    sv = synth.load(vault)
    if sv is None:
        raise SystemExit(f"synth.load({vault}) found no manifest")
    r.keys = dict(sv.keys)
    kp = sv.key_person_holder
    mine = [rid for rid, who in sv.key_person.items() if who == kp]
    r.git("gc", "--quiet")
    before = pack_bytes(vault)
    written0 = tracked_bytes(r)
    rnd = random.Random(3)
    targets = [rnd.choice(mine) for _ in range(a.adds)]
    times = []
    t1 = time.perf_counter()
    for i, rid in enumerate(targets, 1):
        sign = sv.signing_keys.get(kp)  # a separate signing key only with synth's identities="age"
        args = ["add", rid, "--level", "general", "--category", "observation", "--text", "-"]
        if sign is not None and Path(sign) != Path(sv.keys[kp]):
            args += ["--signing-key-file", str(sign)]
        times.append(r.run(kp, *args, input=f"{TEXT} ({i})\n".encode())[0])
        if i % 100 == 0:
            print(f"# {i} adds, median {statistics.median(times):.2f} s (load {load()})", file=sys.stderr)
    adds_s = time.perf_counter() - t1
    mid = pack_bytes(vault)
    written = tracked_bytes(r) - written0
    r.git("gc", "--quiet")
    after = pack_bytes(vault)
    growth = after["pack"] + after["loose"] - before["pack"] - before["loose"]
    return {"params": {"records": a.records, "entries": a.entries, "adds": a.adds, "tree": str(a.tree)},
            "build_s": round(build_s, 1), "adds_s": round(adds_s, 1), "add_median_s": statistics.median(times),
            "before_gc0": before, "after_adds_before_gc": mid, "after_gc": after,
            "written": written, "pack_growth": growth, "ratio": growth / written if written else None,
            "target": 2.0, "load": load()}


def pack_table(res: dict) -> str:
    p = res["params"]
    mb = 1 / 1e6
    lines = [
        f"vault {p['records']} x {p['entries']} (synth.py, built in {res['build_s']} s); {p['adds']} confide add "
        f"processes in {res['adds_s']} s (median {res['add_median_s']:.2f} s)",
        f"  packed, after git gc, before the adds  {res['before_gc0']['pack'] * mb:10.2f} MB",
        f"  after the adds, before gc (loose)      {res['after_adds_before_gc']['loose'] * mb:10.2f} MB loose",
        f"  packed, after git gc                   {res['after_gc']['pack'] * mb:10.2f} MB "
        f"(+{res['after_gc']['loose'] * mb:.2f} MB loose)",
        f"  pack growth                            {res['pack_growth'] * mb:10.3f} MB",
        f"  bytes written (tracked files' growth)  {res['written'] * mb:10.3f} MB",
        f"  ratio growth / written                 {res['ratio']:10.2f}   (target <= 2: "
        f"{'ok' if res['ratio'] is not None and res['ratio'] <= 2 else 'MISSED'})",
    ]
    return "\n".join(lines)


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("turnover", help="head size, add, show and a staff change under staff turnover")
    t.add_argument("--records", type=int, default=200)
    t.add_argument("--entries", type=int, default=5, help="entries per record (imported)")
    t.add_argument("--staff", type=int, default=20, help="active staff: manager, DSL, practitioners")
    t.add_argument("--changes", type=int, default=125, help="staff changes, alternately a leave and a join")
    t.add_argument("--every", type=int, default=25, help="a checkpoint after every this many changes")
    t.add_argument("--repeat", type=int, default=5, help="add and show runs per checkpoint (median)")
    p = sub.add_parser("pack", help="pack growth of single-entry adds after git gc")
    p.add_argument("--records", type=int, default=1000)
    p.add_argument("--entries", type=int, default=50)
    p.add_argument("--adds", type=int, default=1000)
    for s in (t, p):
        s.add_argument("--tree", type=Path, default=REPO, help="the vault_cli source tree to run (PYTHONPATH)")
        s.add_argument("--out", type=Path, help="the JSON file (default benchmarks/work/scale-<what>.json)")
    a = ap.parse_args(argv)
    a.tree = a.tree.resolve()
    if a.what == "turnover" and a.staff < 6:
        ap.error("--staff must be at least 6")
    WORK.mkdir(exist_ok=True)
    res = turnover(a) if a.what == "turnover" else pack(a)
    res.update(what=a.what, when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), python=sys.version.split()[0],
               cpus=os.cpu_count(), load_end=load())
    out = a.out or WORK / f"scale-{a.what}.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(turnover_table(res) if a.what == "turnover" else pack_table(res))
    print(f"load average at the end: {res['load_end']}; figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
