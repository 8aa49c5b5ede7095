"""The benchmark harness: a registry of timed sections, a runner, the table and results.json.

``bench.py`` is the entry point. Sections register here, so several engineers can
add benchmarks without editing each other's code:

- put them in ``benchmarks/bench_<topic>.py`` (imported automatically by
  ``bench.py``; ``--only NAME`` / ``--skip NAME`` select sections by name or group);
- decorate a function with ``@section(name, group=..., baseline=..., target=...)``.

A section function is called once per run, with the shared ``Context``; it returns
the seconds of the timed work (float), or a dict ``{measure_name: seconds}`` when
one run times several things. Anything it must not time (resetting the vault,
making a scratch copy) it does outside its own timer, or in ``setup``. Runs are
*interleaved* (run 1 of every section, then run 2 of every section, ...), so
machine noise lands on the baselines and the commands alike and the ratios stay
meaningful on a busy machine. Medians are reported, with min, max and spread.

Example (``benchmarks/bench_access.py``)::

    from benchmarks.harness import section, Context

    @section("revoke --all", group="access", per="records", compare="age loop re-encrypt", target=0.3)
    def revoke_all(ctx: Context) -> float:
        t = ctx.confide("revoke", "ben", "--all", who="amira")       # wall seconds, checked exit 0
        ctx.reset_vault()                                             # untimed: back to the built state
        return t

``per="records"`` divides the median by ``ctx.records`` (or give an int); ``compare``
names the measure the ratio is taken against (default ``typer start-up``); ``target``
is the ratio the section should stay within (``ok`` in the results).

The trust model: a signed vault's clone keeps ``.git/confide/`` (``trust.json``:
anchor and verified checkpoint; the derived ``allowed_signers``). ``mark()`` keeps a
copy of it for the commit it marks, and ``reset_vault(to)`` puts that copy back (or
pins ``verified = to``), so every run starts as a clone whose checkpoint is its HEAD,
as a real clone's is, and never verifies the commits a previous run made and reset.

Two code trees: a ``Context`` names the source tree its ``confide`` processes import
(``code``, set as ``PYTHONPATH``; default this repository), so one run can time the
same sections against two versions of ``vault_cli`` with the same interpreter and
venv (``benchmarks/compare.py``). Sections must then act only through processes
(``ctx.confide``, ``ctx.git``) and ``benchmarks.synth``'s key helpers, never import
``vault_cli`` themselves, or they would run one tree's code on the other's vault.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional, Union

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINE = "typer start-up"


@dataclasses.dataclass
class Section:
    name: str
    fn: Callable
    group: str = "core"
    setup: Optional[Callable] = None  # called once, before the first run, with the Context
    per: Union[str, int, None] = None  # "records", "entries", or a count: also report median / per
    compare: Optional[str] = BASELINE  # ratio against this measure's median
    target: Optional[float] = None  # ratio target (<=)
    target_per_ms: Optional[float] = None  # or a per-item target in ms (<=)
    runs: Optional[int] = None  # override --runs (expensive sections)
    note: str = ""
    order: int = 100
    also_compare: tuple = ()  # more measures to give the ratio against (wall and CPU), besides ``compare``
    net_of: Optional[str] = None  # per-item "net" figures subtract this measure's median (default: typer start-up)
    per_label: Optional[str] = None  # what ``per`` counts ("commits"); default: the ``per`` key, or "items"
    warmup: bool = True  # one untimed run first (page cache, .pyc); off for sections that warm themselves up


REGISTRY: list = []


def section(name: str, **kw) -> Callable:
    """Register ``fn(ctx) -> seconds | {name: seconds}`` as a timed section (see the module docstring)."""

    def deco(fn: Callable) -> Callable:
        same = [s for s in REGISTRY if s.name == name]
        if same and same[0].fn.__qualname__ == fn.__qualname__:
            return fn  # the same module imported twice (bench.py as __main__ and as benchmarks.bench)
        if same:
            raise ValueError(f"benchmark section {name!r} registered twice")
        REGISTRY.append(Section(name=name, fn=fn, **kw))
        return fn

    return deco


# ---------------------------------------------------------------------------
# CPU time of every process a command started, orphans included

_SUBREAPER: Optional[bool] = None


def _become_subreaper() -> bool:
    """Make this process the subreaper of what it starts (Linux ``PR_SET_CHILD_SUBREAPER``).

    A command's own CPU time comes from ``wait4``, which counts only the descendants that were
    waited for. A forked worker that is killed when its pool closes leaves its children (a
    ``git cat-file --batch`` per worker, say) orphaned: nobody waits for them, and their CPU time
    would be missing from the figure. As subreaper, this process inherits them and ``time_argv``
    reaps them after the command exits, adding their time. Not possible: the figure is as before."""
    global _SUBREAPER
    if _SUBREAPER is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _SUBREAPER = sys.platform.startswith("linux") and libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            _SUBREAPER = False
    return _SUBREAPER


def _children() -> set:
    """The ids of this process's child processes (from /proc)."""
    me, out = os.getpid(), set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == me:
                out.add(int(d))
    return out


def _reap_orphans(known: set) -> float:
    """Wait for the children this process inherited since ``known`` was taken; their CPU seconds."""
    total = 0.0
    for _ in range(100):  # an orphan's own orphans come to us too
        new = _children() - known
        if not new:
            break
        for pid in new:
            try:
                _, _, usage = os.wait4(pid, 0)
            except ChildProcessError:
                continue
            total += usage.ru_utime + usage.ru_stime
    return total


# ---------------------------------------------------------------------------
# the context handed to sections


class CommandFailed(RuntimeError):
    pass


def told_today() -> str:
    """``--parents-informed`` for an entry written now: today (add refuses a date before the entry's,
    so a fixed date stops working the day after it)."""
    return time.strftime("%Y-%m-%d", time.localtime())


@dataclasses.dataclass
class Context:
    sv: object  # synth.SynthVault
    work: Path  # a scratch folder for this benchmark run (under benchmarks/work/)
    runs: int
    python: str = sys.executable
    confide_bin: str = str(Path(sys.executable).with_name("confide"))
    state: dict = dataclasses.field(default_factory=dict)  # free space for sections to share setup
    cpu_s: float = 0.0  # CPU seconds of the processes timed by time_argv since the runner last reset it
    code: Path = REPO  # the source tree whose vault_cli the confide processes import (PYTHONPATH)
    label: str = ""  # which tree, in a comparison ("before", "after")

    @property
    def root(self) -> Path:
        return self.sv.root

    @property
    def records(self) -> int:
        return len(self.sv.records)

    def env(self, who: str = "amira", **extra: str) -> dict:
        from benchmarks.synth import env_for

        return env_for(self.sv, who, PYTHONPATH=str(self.code), **extra)

    def time_argv(self, argv: list, *, env: Optional[dict] = None, input: Optional[bytes] = None,
                  check: bool = True, cwd: Optional[str] = None) -> float:
        """Wall seconds of one process, start to exit (stdout/stderr captured, not shown)."""
        import tempfile

        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, tempfile.TemporaryFile() as fi:
            if input is not None:
                fi.write(input)
                fi.seek(0)
            reaper = _become_subreaper()
            known = _children() if reaper else set()
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, stdin=fi if input is not None else subprocess.DEVNULL, stdout=fo,
                                    stderr=fe, env=env, cwd=cwd)
            # wait4 reaps the child and gives its CPU time (user + sys, its waited-for children
            # such as git included): a figure less disturbed by other load than wall time.
            _, status, usage = os.wait4(proc.pid, 0)
            t = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            if reaper:
                cpu += _reap_orphans(known)
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read(), fe.read()
        self.cpu_s += cpu
        if check and proc.returncode != 0:
            raise CommandFailed(f"{' '.join(map(str, argv[:6]))} exited {proc.returncode}: "
                                f"{err.decode(errors='replace')[-800:]}")
        self.state["last_stdout"] = out
        return t

    def confide(self, *args: str, who: str = "amira", input: Optional[bytes] = None, env: Optional[dict] = None,
                check: bool = True) -> float:
        """Wall seconds of one ``confide ARGS`` process as holder ``who`` (the real console script)."""
        e = self.env(who)
        if env:
            e.update(env)
        return self.time_argv([self.confide_bin, *args], env=e, input=input, check=check)

    def git(self, *args: str, root: Optional[Path] = None) -> str:
        from benchmarks.synth import git_env

        return subprocess.run(["git", "-C", str(root or self.root), *args], check=True, capture_output=True,
                              env=git_env()).stdout.decode()

    def mark(self) -> str:
        """The vault's HEAD now; pass it to ``reset_vault`` to come back to it (trust state included)."""
        packdir = self.root / ".git" / "objects" / "pack"
        self.state.setdefault("start_packs", set()).update(p.name for p in packdir.glob("pack-*.idx"))  # kept
        head = self.git("rev-parse", "HEAD").strip()
        self._keep_trust(head)
        return head

    # -- the clone's trust state (.git/confide) --------------------------------
    def _trust_dir(self) -> Path:
        return self.root / ".git" / "confide"

    def _keep_trust(self, head: str) -> None:
        folder = self._trust_dir()
        if folder.is_dir():
            self.state.setdefault("trust_at", {})[head] = {
                p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}

    def _restore_trust(self, head: str) -> None:
        """The trust state a clone at ``head`` has: the one kept when ``head`` was marked, or (a commit
        never marked) the vault's anchor with ``verified = head``. Vaults without one are left alone."""
        folder = self._trust_dir()
        kept = self.state.get("trust_at", {}).get(head)
        if kept is None:
            path = folder / "trust.json"
            if not path.is_file():
                return
            data = json.loads(path.read_text())
            data.update(verified=head, repudiated=[])
            kept = {"trust.json": (json.dumps(data, indent=1) + "\n").encode()}
        for name, data in kept.items():
            tmp = folder / f".{name}.bench"
            tmp.write_bytes(data)
            os.replace(tmp, folder / name)

    def trust_verified(self) -> Optional[str]:
        """This clone's verified checkpoint (None for a vault without a trust state)."""
        try:
            return json.loads((self._trust_dir() / "trust.json").read_text()).get("verified")
        except (OSError, ValueError):
            return None

    def set_verified(self, commit: str) -> None:
        """Untimed: move this clone's checkpoint to ``commit`` (e.g. back before commits it pulled)."""
        path = self._trust_dir() / "trust.json"
        data = json.loads(path.read_text())
        data["verified"] = commit
        tmp = path.with_name(".trust.json.bench")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, path)

    def expiry_cache_warm(self) -> bool:
        """Is confide's expiry cache (``.git/confide-expiry.json``) about the current HEAD?"""
        try:
            return json.loads((self.root / ".git" / "confide-expiry.json").read_text()).get("head") == self.mark()
        except (OSError, ValueError, AttributeError):
            return False

    def warm_expiry_cache(self) -> None:
        """Untimed: after ``reset_vault`` (HEAD moved outside confide, as a pull would move it) the next
        write rescans every record for grant end dates once (~50 ms of ``git grep`` at 1,000 records).
        Write benchmarks that mean the steady state call this first; ``confide expire`` rescans and
        commits nothing when no grant is due (the synthetic vault has none)."""
        if not self.expiry_cache_warm():
            cpu = self.cpu_s
            self.confide("expire", who=self.sv.manager)
            self.cpu_s = cpu  # untimed: keep its CPU out of the section's figure too

    def reset_vault(self, to: Optional[str] = None) -> None:
        """Put the synthetic vault back at ``to`` (default: the state bench.py started from). Untimed."""
        target = to or self.state["start_head"]
        self.git("reset", "-q", "--hard", target)
        self.git("clean", "-q", "-fd", "--", "records")
        for f in (".git/confide-journal.json",):
            (self.root / f).unlink(missing_ok=True)
        self._restore_trust(target)
        self._drop_new_packs()

    def _drop_new_packs(self) -> None:
        """Remove the packs bulk commands wrote since the run began (their commits were just reset
        away), so each measure starts from a vault with the packs a real one has. Automatic gc is
        off in the benchmark's git environment (``synth.git_env``), so no pack here mixes them with
        objects still in use; the reflog entries that name those commits go too."""
        packdir = self.root / ".git" / "objects" / "pack"
        if "start_packs" not in self.state:  # the first reset: what is there now stays
            self.state["start_packs"] = {p.name for p in packdir.glob("pack-*.idx")}
            return
        self.git("reflog", "expire", "--expire=now", "--all")
        for idx in packdir.glob("pack-*.idx"):
            if idx.name not in self.state["start_packs"]:
                for part in (idx, idx.with_suffix(".pack"), idx.with_suffix(".rev")):
                    part.unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# running and reporting


@dataclasses.dataclass
class Measure:
    name: str
    group: str
    runs_s: list
    per: Optional[int] = None
    per_label: str = ""
    compare: Optional[str] = None
    target: Optional[float] = None
    target_per_ms: Optional[float] = None
    note: str = ""
    cpu_s: list = dataclasses.field(default_factory=list)  # CPU seconds per run (user + sys), when known
    also_compare: tuple = ()
    net_of: Optional[str] = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs_s)

    def to_dict(self, all_: dict) -> dict:
        d = {
            "group": self.group, "median_s": round(self.median, 6), "min_s": round(min(self.runs_s), 6),
            "max_s": round(max(self.runs_s), 6), "runs": len(self.runs_s),
            "runs_s": [round(x, 6) for x in self.runs_s],
            "spread": round((max(self.runs_s) - min(self.runs_s)) / self.median, 3) if self.median else None,
        }
        if self.cpu_s and any(self.cpu_s):
            d["cpu_median_s"] = round(statistics.median(self.cpu_s), 6)
            base = all_.get(self.compare) if self.compare else None
            if base is not None and base.cpu_s and any(base.cpu_s) and self.compare != self.name:
                d["cpu_ratio"] = round(statistics.median(self.cpu_s) / statistics.median(base.cpu_s), 3)
        if self.per:
            d["per"] = self.per
            d["per_label"] = self.per_label
            d["per_item_ms"] = round(1000 * self.median / self.per, 4)
            base = all_.get(self.net_of or BASELINE)
            if base is not None:
                d["per_item_net_ms"] = round(1000 * (self.median - base.median) / self.per, 4)
                d["per_item_net_of"] = base.name
                if self.cpu_s and base.cpu_s and any(base.cpu_s):
                    d["per_item_net_cpu_ms"] = round(
                        1000 * (statistics.median(self.cpu_s) - statistics.median(base.cpu_s)) / self.per, 4)
        for other in self.also_compare:
            base = all_.get(other)
            if base is None or other == self.name:
                continue
            d.setdefault("ratios", {})[other] = round(self.median / base.median, 3)
            if self.cpu_s and base.cpu_s and any(base.cpu_s) and any(self.cpu_s):
                d.setdefault("cpu_ratios", {})[other] = round(statistics.median(self.cpu_s) / statistics.median(base.cpu_s), 3)
        if self.compare and self.compare != self.name and self.compare in all_:
            ratio = self.median / all_[self.compare].median
            d["compare"] = self.compare
            d["ratio"] = round(ratio, 3)
            if self.target is not None:
                d["target"] = self.target
                d["ok"] = ratio <= self.target
        if self.target_per_ms is not None and self.per:
            d["target_per_ms"] = self.target_per_ms
            d["ok"] = d.get("ok", True) and d["per_item_net_ms"] <= self.target_per_ms
        if self.note:
            d["note"] = self.note
        return d


def _per_count(ctx: Context, per) -> Optional[int]:
    if per is None:
        return None
    if isinstance(per, int):
        return per
    if per == "records":
        return ctx.records
    if per == "entries":
        return ctx.records * ctx.sv.entries_per_record
    if callable(per):
        return per(ctx)
    return ctx.state.get(per)


def run_sections(ctx: Context, sections: list, *, log=print) -> dict:
    """Set up every section, then interleave their runs; returns {measure name: Measure}."""
    sections = sorted(sections, key=lambda s: s.order)
    for s in sections:
        if s.setup:
            log(f"  setup: {s.name}")
            s.setup(ctx)
    samples: dict = {}
    cpu: dict = {}  # CPU seconds per run, for sections that return one float
    owners: dict = {}
    max_runs = max((s.runs or ctx.runs) for s in sections) if sections else 0
    warm = set()
    for r in range(max_runs):
        for s in sections:
            if r >= (s.runs or ctx.runs):
                continue
            if s.name not in warm and s.warmup:  # one untimed warm-up: page cache, .pyc files
                s.fn(ctx)
            warm.add(s.name)
            ctx.cpu_s = 0.0
            out = s.fn(ctx)
            if isinstance(out, dict):
                for k, v in out.items():
                    samples.setdefault(k, []).append(v)
                    owners[k] = s
            else:
                samples.setdefault(s.name, []).append(out)
                cpu.setdefault(s.name, []).append(ctx.cpu_s)
                owners[s.name] = s
        log(f"  run {r + 1}/{max_runs} done")
    result = {}
    for name, runs in samples.items():
        s = owners[name]
        per = _per_count(ctx, s.per)
        result[name] = Measure(name, s.group, runs, per, s.per_label or (s.per if isinstance(s.per, str) else "items"), s.compare,
                               s.target, s.target_per_ms, s.note, cpu.get(name) or [], tuple(s.also_compare),
                               s.net_of)
    return result


DERIVED: list = []  # functions (measures) -> [(name, value, unit, note)], figures made from several measures


def derived(fn: Callable) -> Callable:
    """Register ``fn(measures) -> [(name, value, unit, note)]``: figures computed from several measures'
    medians (e.g. a marginal cost between two history sizes), printed under the table and kept in
    results.json (``derived``)."""
    if fn.__qualname__ not in {f.__qualname__ for f in DERIVED}:
        DERIVED.append(fn)
    return fn


def derive(measures: dict) -> list:
    out = []
    for fn in DERIVED:
        try:
            out.extend(fn(measures))
        except (KeyError, ZeroDivisionError):
            continue  # its measures were not run
    return out


def machine_info() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}
    try:
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    age = shutil.which("age")
    if age:
        info["age"] = subprocess.run([age, "--version"], capture_output=True, text=True).stdout.strip()
    info["git"] = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return info


def table(measures: dict) -> str:
    all_ = measures
    rows = [("measure", "median", "min", "max", "cpu", "per item", "ratio", "cpu ratio", "target", "")]
    for m in sorted(measures.values(), key=lambda m: (m.group != "baseline", m.group)):
        d = m.to_dict(all_)
        per = ""
        if m.per:
            per = f"{d['per_item_ms']:.2f} ms/{m.per_label.rstrip('s')} (net {d['per_item_net_ms']:.2f})" \
                if "per_item_net_ms" in d else f"{d['per_item_ms']:.2f} ms"
            if "per_item_net_ms" in d and d.get("per_item_net_of") != BASELINE:
                per = (f"{d['per_item_ms']:.2f} ms/{m.per_label.rstrip('s')} (net of {d['per_item_net_of']}: "
                       f"{d['per_item_net_ms']:.2f}, cpu {d.get('per_item_net_cpu_ms', float('nan')):.2f})")
        ratio = f"{d['ratio']:.2f}x {('vs ' + d['compare']) if d['compare'] != BASELINE else ''}".strip() if "ratio" in d else ""
        for other, r in d.get("ratios", {}).items():
            ratio = "; ".join(x for x in (ratio, f"{r:.2f}x vs {other}") if x)
        cpu_ratio_extra = "; ".join(f"{r:.2f}x" for r in d.get("cpu_ratios", {}).values())
        if "target" in d:
            target = f"<= {d['target']}x"
        elif "target_per_ms" in d:
            target = f"<= {d['target_per_ms']} ms net"
        else:
            target = ""
        ok = "" if "ok" not in d else ("ok" if d["ok"] else "MISSED")
        cpu = f"{1000 * d['cpu_median_s']:.0f}" if "cpu_median_s" in d else ""
        cpu_ratio = "; ".join(x for x in (f"{d['cpu_ratio']:.2f}x" if "cpu_ratio" in d else "", cpu_ratio_extra) if x)
        rows.append((m.name, f"{1000 * m.median:.0f} ms", f"{1000 * min(m.runs_s):.0f}", f"{1000 * max(m.runs_s):.0f}",
                     cpu, per, ratio, cpu_ratio, target, ok))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def derived_table(rows: list) -> str:
    if not rows:
        return ""
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{name.ljust(w)}  {value:.3f} {unit}  {note}".rstrip() for name, value, unit, note in rows)


def write_results(path: Path, measures: dict, *, params: dict, vault: dict, machine_before: dict,
                  machine_after: dict, extra: Optional[dict] = None) -> None:
    data = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "params": params,
        "machine": {"before": machine_before, "after": machine_after},
        "vault": vault,
        "baseline": BASELINE,
        "results": {name: m.to_dict(measures) for name, m in measures.items()},
        "derived": [{"name": n, "value": round(v, 6), "unit": u, "note": note} for n, v, u, note in derive(measures)],
    }
    data.update(extra or {})
    old = {}
    if path.exists():  # keep sections measured by earlier partial runs (--only), newest wins
        try:
            old = json.loads(path.read_text()).get("results", {})
        except ValueError:
            old = {}
    for k, v in old.items():
        data["results"].setdefault(k, dict(v, stale=True))
    path.write_text(json.dumps(data, indent=2) + "\n")
