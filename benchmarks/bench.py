"""confide's benchmarks (run by hand, never by the tests; no wall-clock limit is ever a test).

    .venv/bin/python benchmarks/bench.py [--records 1000 --entries 50 --runs 7] [--only NAME|GROUP] [--skip ...]

Builds (or reuses) a synthetic vault with ``benchmarks/synth.py`` under
``benchmarks/work/`` (gitignored), then times whole ``confide`` processes, wall
clock, as medians of ``--runs`` interleaved runs, next to baselines measured in
the same run: a minimal typer program's start-up, and an ``age`` + ``git
commit`` shell pipeline doing the same add. Prints a table and writes
``benchmarks/results.json``.

The issue-2 sections live in this file. Other sections go in
``benchmarks/bench_<topic>.py`` files, which are imported automatically and
register with ``@harness.section`` (see ``benchmarks/harness.py``).

How to read the figures:

- ``ratio`` is median wall time over the typer start-up's median, both from the
  same interleaved runs; ``cpu`` / ``cpu ratio`` use the processes' user+sys
  time (``wait4``), which a busy machine disturbs less. Quote medians and give
  the load average printed at the end; on 2 shared cores a run can be 10-20 %
  off another.
- Byte-code is cached for every Python process timed here (this environment
  sets PYTHONDONTWRITEBYTECODE=1, which would make each run of the editable
  install recompile vault_cli, ~35 ms, and measure that instead of confide).
- Write sections that mean the steady state warm confide's expiry cache first
  (``ctx.warm_expiry_cache()``); "confide add (fresh clone, no expiry cache)" shows the
  one-off rescan instead.
- Only one bench run uses a vault at a time (a lock file beside it).

The trust model (issue 9): the synthetic vault is signed (``signing: required``;
every holder has an SSH key, by default one key that reads and signs, as
``confide keygen`` makes; ``--identities age`` for age identities with separate
SSH signing keys), its whole history is verified from its anchor once after it
is built, and every run starts from a clone whose checkpoint is HEAD (see
``harness.reset_vault``), so write sections pay one ``ssh-keygen -Y sign`` per
commit and no verification; ``benchmarks/bench_trust.py`` times what verifying
new commits costs. ``benchmarks/compare.py`` runs these sections against the
code before the trust model, side by side.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import harness, synth  # noqa: E402
from benchmarks.harness import BASELINE, Context, section, told_today  # noqa: E402

WORK = HERE / "work"
RESULTS = HERE / "results.json"

MINIMAL_TYPER = '''\
import typer

app = typer.Typer()


@app.command()
def main(record: str, level: str = typer.Option("general", "--level"), text: str = typer.Option("", "--text")) -> None:
    """A minimal typer program: one command, three parameters, prints a line."""
    print(record, level, len(text))


if __name__ == "__main__":
    app()
'''

ENTRY_TEXT = "Played in the sand area with two friends and shared the spades without prompting."


# ---------------------------------------------------------------------------
# baselines


def _setup_typer(ctx: Context) -> None:
    path = ctx.work / "minimal_typer.py"
    path.write_text(MINIMAL_TYPER)
    ctx.state["typer_program"] = str(path)


@section(BASELINE, group="baseline", setup=_setup_typer, compare=None, order=0,
         note="python + import typer + one command, parsing 3 parameters")
def typer_startup(ctx: Context) -> float:
    return ctx.time_argv([ctx.python, ctx.state["typer_program"], "c-00000000", "--level", "general", "--text", "x"])


@section("python start-up", group="baseline", compare=None, order=1, note="python -c pass (the interpreter alone)")
def python_startup(ctx: Context) -> float:
    return ctx.time_argv([ctx.python, "-c", "pass"])


SHELL_ADD = r'''
set -e
cd "$VAULT"
id="e-$(date +%s%N | cut -c1-13)zzzz"
printf '%s' "$PAYLOAD" | age -a -r "$RECIPIENT" > "$TMPBLOCK"
{ printf -- '- id: %s\n  key: %s\n  data: |\n' "$id" "$KEYID"; sed 's/^/    /' "$TMPBLOCK"; } >> "records/$RECORD.entries.yaml"
git add -- "records/$RECORD.entries.yaml"
git $SIGN commit $SIGNFLAG -q -m "confide: add entry $id to $RECORD" -m "Confide-Action: entry.add
Confide-Record: $RECORD
Confide-Entry: $id
Confide-Holder: amira"
'''


def _setup_shell(ctx: Context) -> None:
    """A scratch clone of the vault for the shell pipeline (it appends blocks confide's way, but by hand)."""
    if not shutil.which("age"):
        raise SystemExit("the 'age' command is needed for the shell baseline (apt-get install age)")
    clone = ctx.work / "shell-vault"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", "--local", str(ctx.root), str(clone)], check=True, env=synth.git_env())
    from vault_cli.formats import envelope

    rid = ctx.state["add_record"]
    env = envelope.Envelope.read(f"records/{rid}.yaml", lambda path: (clone / path).read_bytes(), entries=False)
    key = env.current_key("general")
    payload = json.dumps(
        {"confide": "entry/1", "record": rid, "block": "e-0000000000zzzz", "level": "general", "category": "observation",
         "text": ENTRY_TEXT, "at": "2026-11-24T09:30:00+00:00", "recorded_at": "2026-11-24T09:30:00+00:00", "author": "amira",
         "parent_view": "not-asked", "parents_informed": None, "parents_not_informed": None, "third_parties": [],
         "corrects": None},
        separators=(",", ":"))
    e = synth.git_env()
    e.update({"VAULT": str(clone), "PAYLOAD": payload, "RECIPIENT": key.recipient, "KEYID": key.id,
              "RECORD": rid, "TMPBLOCK": str(ctx.work / "shell-block.age"),
              # signed as confide signs (one ssh-keygen -Y sign) in a vault that requires it
              "SIGN": " ".join(synth._sign_args(ctx.sv.signing_keys.get("amira") if ctx.sv.signing else None)),
              "SIGNFLAG": "-S" if ctx.sv.signing else "",
              "GIT_AUTHOR_NAME": "amira", "GIT_AUTHOR_EMAIL": "amira@holders.confide.invalid",
              "GIT_COMMITTER_NAME": "amira", "GIT_COMMITTER_EMAIL": "amira@holders.confide.invalid"})
    ctx.state["shell_env"] = e


@section("age + git commit (shell add)", group="baseline", setup=_setup_shell, compare=BASELINE, order=2,
         note="bash: age -a -r LEVELKEY | indent >> record; git add; git commit -S (ssh) in a signed vault "
              "(one process tree)")
def shell_add(ctx: Context) -> float:
    return ctx.time_argv(["bash", "-c", SHELL_ADD], env=ctx.state["shell_env"])


# ---------------------------------------------------------------------------
# issue 2: the daily commands


@section("confide add", group="daily", target=1.5, order=10,
         note="one entry to a 50-entry record, as the manager; whole process, one commit; expiry cache warm")
def confide_add(ctx: Context) -> float:
    ctx.warm_expiry_cache()  # untimed; other sections reset the vault, as a pull would
    return ctx.confide("add", ctx.state["add_record"], "--level", "confidential", "--category", "injury",
                       "--text", ENTRY_TEXT, "--parents-informed", told_today(), who="amira")


@section("confide add (key person)", group="daily", target=1.5, order=11,
         note="an add to a 50-entry record by the practitioner who is that child's key person")
def confide_add_kp(ctx: Context) -> float:
    ctx.warm_expiry_cache()
    return ctx.confide("add", ctx.state["kp_record"], "--level", "general", "--category", "observation",
                       "--text", ENTRY_TEXT, who=synth.KEY_PERSON)


@section("confide add (300-entry record)", group="daily", order=13,
         note="an add to the 300-entry record (~370 KB file): the cost that grows with the record; informational")
def confide_add_big(ctx: Context) -> float:
    ctx.warm_expiry_cache()
    return ctx.confide("add", ctx.state["big_record"], "--level", "general", "--category", "observation",
                       "--text", ENTRY_TEXT, who=synth.KEY_PERSON)


@section("confide add (fresh clone, no expiry cache)", group="daily", order=12,
         note="no expiry cache, so this add first scans every record's grant end dates (one git grep); after a pull "
              "with a cache only the changed records are looked at; informational")
def confide_add_cold(ctx: Context) -> float:
    (ctx.root / ".git" / "confide-expiry.json").unlink(missing_ok=True)
    return ctx.confide("add", ctx.state["add_record"], "--level", "general", "--category", "observation",
                       "--text", ENTRY_TEXT, who="amira")


@section("confide show (300 entries)", group="daily", target=2.0, order=20,
         note="manager reads every entry; rich table to a pipe")
def confide_show(ctx: Context) -> float:
    return ctx.confide("show", ctx.state["big_record"], who="amira")


@section("confide show --json (300 entries)", group="daily", target=2.0, order=21,
         note="manager reads every entry; JSON")
def confide_show_json(ctx: Context) -> float:
    return ctx.confide("show", ctx.state["big_record"], "--json", who="amira")


@section("confide show (300 entries, terminal)", group="daily", order=22,
         note="the same through a pseudo-terminal (script -qc): rich styling; informational, no target")
def confide_show_tty(ctx: Context) -> float:
    import shlex

    cmd = " ".join(shlex.quote(a) for a in [ctx.confide_bin, "show", ctx.state["big_record"]])
    # CONFIDE_PAGER empty: printed to the terminal as it is (a pager would wait for a key), as before paging
    env = ctx.env("amira", COLUMNS="120", LINES="50", TERM="xterm-256color", CONFIDE_PAGER="")
    env.pop("NO_COLOR", None)
    return ctx.time_argv(["script", "-qec", cmd, "/dev/null"], env=env)


@section("confide child list", group="daily", per="records", target_per_ms=3.0, order=30, compare=None,
         note="every profile, as the manager, --json; net = (median - typer start-up) / records")
def confide_child_list(ctx: Context) -> float:
    return ctx.confide("child", "list", "--json", who="amira")


# ---------------------------------------------------------------------------
# the runner


def _load_plugins() -> list:
    names = []
    for path in sorted(HERE.glob("bench_*.py")):
        mod = f"benchmarks.{path.stem}"
        importlib.import_module(mod)
        names.append(mod)
    return names


def _select(sections: list, only: list, skip: list) -> list:
    def hit(s, keys):
        return any(k == s.name or k == s.group or k.lower() in s.name.lower() for k in keys)

    out = [s for s in sections if (not only or hit(s, only) or s.group == "baseline") and not hit(s, skip)]
    return out


def prepare_vault(records: int, entries: int, big: int, *, rebuild: bool, identities: str = "ssh",
                  log=print) -> synth.SynthVault:
    root = WORK / (f"vault-{records}x{entries}" + ("" if identities == "ssh" else f"-{identities}"))
    sv = None if rebuild else synth.load(root)
    if sv is not None and ((big and not sv.big_records) or not sv.signing or sv.identities != identities):
        sv = None
    if sv is None:
        synth.remove(root)
        log(f"building a synthetic vault: {records} records x {entries} entries (+1 of {big}) at {root}")
        # entries name the manager who commits them: the manager's keyed verify (a reader's checkpoint
        # moves only for what their key checked) then finds no author/signer mismatch to refuse
        sv = synth.build_vault(root, records, entries, identities=identities, entry_authors="committer")
        if big:
            synth.add_big_record(sv, big)
        t = time.perf_counter()
        synth.pin_trust(sv, verify=True)  # a vault the trust model accepts: its whole history verifies
        log(f"  built in {sv.build_seconds:.1f}s (+ {time.perf_counter() - t:.1f}s to verify its history from "
            f"its anchor); median record (head + entries) {sv.bytes_per_record / 1024:.1f} KB")
    else:
        log(f"reusing the synthetic vault at {root} (--rebuild to make a new one)")
    return sv


def start_context(ctx: Context) -> None:
    """Untimed: the vault back at its built state, and its clone's checkpoint there, as a real clone's."""
    sv = ctx.sv
    ctx.state["start_head"] = sv.head or ctx.git("rev-parse", "HEAD").strip()
    ctx.reset_vault()
    if sv.signing:
        synth.pin_trust(sv)  # anchor and derived signers made afresh (a run stopped midway may have left others)
    ctx.mark()


def choose_records(ctx: Context) -> None:
    """The records the daily sections act on: the middle record, the big one, one of ben's (key person)."""
    sv = ctx.sv
    mid = sv.records[len(sv.records) // 2]
    ctx.state["add_record"] = mid if mid not in sv.big_records else sv.records[0]
    ctx.state["big_record"] = sv.big_records[0] if sv.big_records else sv.records[0]
    ctx.state["kp_record"] = next((r for r in sv.records if sv.key_person.get(r) == synth.KEY_PERSON
                                   and r not in sv.big_records and r != ctx.state["add_record"]), sv.records[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="confide benchmarks (medians of interleaved runs)")
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--big", type=int, default=300, help="entries in the one big record (confide show)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", action="append", default=[], help="section name, part of one, or group (repeatable)")
    ap.add_argument("--skip", action="append", default=[])
    ap.add_argument("--rebuild", action="store_true", help="build a fresh synthetic vault even if one exists")
    ap.add_argument("--identities", choices=("ssh", "age"), default="ssh",
                    help="holders' keys: one SSH key reads and signs (confide keygen's), or age to read + SSH to sign")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--list", action="store_true", help="list the sections and exit")
    a = ap.parse_args(argv)

    plugins = _load_plugins()
    sections = _select(harness.REGISTRY, a.only, a.skip)
    if a.list:
        for s in sorted(harness.REGISTRY, key=lambda s: s.order):
            print(f"{s.group:10} {s.name}")
        return 0
    WORK.mkdir(exist_ok=True)
    # Byte-code as an installed package has it: this environment may say PYTHONDONTWRITEBYTECODE=1,
    # which makes every run of an editable install recompile vault_cli (~35 ms) and would measure
    # that instead of confide. A private cache prefix keeps the repository clean; the warm-up run
    # fills it, for confide and the typer baseline alike.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")
    before = harness.machine_info()
    # One bench run at a time per vault: sections change the vault and reset it, and two runs
    # interleaving on one vault would measure each other.
    import fcntl

    suffix = "" if a.identities == "ssh" else f"-{a.identities}"
    lock = open(WORK / f"vault-{a.records}x{a.entries}{suffix}.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("another bench run is using this vault; waiting for it to finish")
        fcntl.flock(lock, fcntl.LOCK_EX)
    sv = prepare_vault(a.records, a.entries, a.big, rebuild=a.rebuild, identities=a.identities)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
    ctx = Context(sv=sv, work=scratch, runs=a.runs)
    start_context(ctx)
    choose_records(ctx)
    print(f"{len(sections)} sections, {a.runs} runs each, interleaved; plugins: {', '.join(plugins) or 'none'}")
    t0 = time.perf_counter()
    try:
        measures = harness.run_sections(ctx, sections)
    finally:
        ctx.reset_vault()
        shutil.rmtree(scratch, ignore_errors=True)
    after = harness.machine_info()
    print()
    print(harness.table(measures))
    extra = harness.derived_table(harness.derive(measures))
    if extra:
        print()
        print(extra)
    print()
    print(f"{time.perf_counter() - t0:.0f}s; load average before {before.get('loadavg')} after {after.get('loadavg')} "
          f"on {before.get('affinity')} cores; spread = (max - min) / median per measure in {a.results.name}")
    harness.write_results(
        a.results, measures,
        params={"records": a.records, "entries": a.entries, "big": a.big, "runs": a.runs, "only": a.only,
                "skip": a.skip, "identities": a.identities},
        vault={"root": str(sv.root), "records": len(sv.records), "entries_per_record": sv.entries_per_record,
               "big_records": sv.big_records, "median_record_bytes": sv.bytes_per_record,
               "signing": sv.signing, "identities": sv.identities, "anchor": sv.anchor,
               "build_seconds": round(sv.build_seconds, 2)},
        machine_before=before, machine_after=after,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
