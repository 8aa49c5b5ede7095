"""Trust-model benchmarks (issue 9): what verifying new commits costs a command, and ``confide verify``.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_trust.py [--runs 5] [--records 1000] [--entries 50]

(the same as ``benchmarks/bench.py --only trust``; ``bench.py`` imports this
module and runs these sections with the others).

Every command first verifies the commits since its clone's checkpoint
(``vault_cli/services/trust.py``, ``ensure_verified``); a clone whose checkpoint is HEAD
verifies nothing. Sections:

- ``confide add after pulling 100 commits``: the synthetic vault's clone has
  its checkpoint at the built state and HEAD 100 commits further on, as after a
  ``git pull``: 100 real signed ``entry.add`` commits by another holder (ben,
  a practitioner), made once per vault (``synth.history_commits``, kept as
  ``refs/bench/pulled-100``). Each run, untimed: the vault back at the built
  state with its checkpoint there, the expiry cache warm for it (as the clone
  had it before the pull), then ``git reset --hard`` to the pulled tip, and the
  index refreshed in a later second than the files (``_settle``). Timed:
  the manager's ``confide add`` (verifies the 100 commits, keyless, then adds
  and signs). Checked after each run: the checkpoint moved to the new commit;
- ``confide add after pulling none``: the same add from a clone whose checkpoint
  is HEAD (expiry cache warm), in the same interleaved runs; the first section's
  ratio is to it and to the typer start-up, and its net cost per pulled commit
  is (median - this median) / 100;
- ``confide verify`` at each history size (default 1,000 and 10,000 commits,
  ``CONFIDE_BENCH_TRUST_SIZES``): a vault of ``--records`` records x 5 entries
  grown with signed one-entry commits by ben (``synth.grow_history``), kept
  under ``benchmarks/work/`` and reused; one clone per size (``git clone
  --local``, checkpoint pinned at its HEAD). ``confide verify --json`` as the
  manager (signatures, rules and every block the manager can open) and with no
  key (the keyless checks, which are what a command's check runs), and the
  marginal cost per commit between the sizes (``derived``, under the table):
  flat if the walk stays in proportion to the commits;
- the peer: ``git log --show-signature`` over the same commits (git runs
  ``ssh-keygen -Y verify`` once per commit, with the clone's derived
  ``allowed_signers``; signatures only, none of confide's rules): the whole
  history at the smallest size, and at the largest the newest 1,000 commits,
  against ``confide verify --since HEAD~1000`` over the same commits. The
  peer at 10,000 commits whole would take minutes a run on 2 cores (set
  ``CONFIDE_BENCH_TRUST_PEER_FULL=1`` to time it anyway).

These sections act on vaults in this tree's format only (they call
``benchmarks.synth`` in-process), so ``compare.py`` does not run them.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import synth  # noqa: E402
from benchmarks.harness import BASELINE, Context, derived, section, told_today  # noqa: E402

GROUP = "trust"
RUNS = 5
PULLED = 100
PULL_REF = f"refs/bench/pulled-{PULLED}"
ENTRY_TEXT = "Played in the sand area with two friends and shared the spades without prompting."
ADD_NONE = "confide add after pulling none"
ADD_PULLED = f"confide add after pulling {PULLED} commits"
HISTORY_ENTRIES = 5


def _sizes() -> list:
    return sorted(int(s) for s in os.environ.get("CONFIDE_BENCH_TRUST_SIZES", "1000,10000").split(","))


# ---------------------------------------------------------------------------
# add after a pull


def _setup_pull(ctx: Context) -> None:
    if "trust_pull" in ctx.state:
        return
    sv, start = ctx.sv, ctx.state["start_head"]
    if not sv.signing:
        raise SystemExit("the trust sections need a signed vault (benchmarks/synth.py in this tree)")
    ctx.reset_vault()
    got = subprocess.run(["git", "-C", str(sv.root), "rev-parse", "-q", "--verify", f"{PULL_REF}~{PULLED}"],
                         capture_output=True, text=True, env=synth.git_env()).stdout.strip()
    if got != start:  # made once per vault: 100 signed commits by ben on the built state, on a ref of their own
        tip, _ = synth.history_commits(sv, PULLED, seed=23, author=synth.KEY_PERSON, ref=PULL_REF, parent=start)
    tip = ctx.git("rev-parse", PULL_REF).strip()
    ctx.mark()  # keep the pack that holds them when runs drop the packs of reset commits
    ctx.state["trust_pull"] = {"tip": tip}


def _settle(ctx: Context) -> None:
    """Untimed: let the clock pass the second the files were written in and refresh the index, as the
    seconds between a pull and the next command do; otherwise git would re-read every file the reset
    wrote as 'racily clean' during the add, a cost of this benchmark's reset, not of verifying."""
    time.sleep(1.02 - time.time() % 1)
    ctx.git("update-index", "-q", "--really-refresh")


def _add(ctx: Context) -> float:
    return ctx.confide("add", ctx.state["add_record"], "--level", "confidential", "--category", "injury",
                       "--text", ENTRY_TEXT, "--parents-informed", told_today(), who=ctx.sv.manager)


@section(ADD_NONE, group=GROUP, setup=_setup_pull, runs=RUNS, order=60,
         note="the manager's add from a clone whose checkpoint is HEAD (nothing to verify); expiry cache warm")
def add_after_none(ctx: Context) -> float:
    ctx.reset_vault()
    ctx.warm_expiry_cache()
    _settle(ctx)
    t = _add(ctx)
    ctx.reset_vault()
    return t


@section(ADD_PULLED, group=GROUP, setup=_setup_pull, runs=RUNS, order=61, compare=ADD_NONE,
         also_compare=(BASELINE,), per=PULLED, per_label="pulled commits", net_of=ADD_NONE,
         note=f"checkpoint {PULLED} commits behind HEAD (signed entry.add commits by ben): the add verifies them "
              "first, keyless; expiry cache warm for the checkpoint, as before the pull")
def add_after_pull(ctx: Context) -> float:
    st = ctx.state["trust_pull"]
    ctx.reset_vault()
    ctx.warm_expiry_cache()
    ctx.git("reset", "-q", "--hard", st["tip"])  # the pull: HEAD moves outside confide, the checkpoint stays
    _settle(ctx)
    t = _add(ctx)
    head = ctx.git("rev-parse", "HEAD").strip()
    parent = ctx.git("rev-parse", "HEAD^").strip()
    if parent != st["tip"] or ctx.trust_verified() != head:
        raise RuntimeError("the add did not build on the pulled commits and move the checkpoint past them")
    ctx.reset_vault()
    return t


# ---------------------------------------------------------------------------
# verify as history grows


def _commits(root: Path) -> int:
    return int(subprocess.run(["git", "-C", str(root), "rev-list", "--count", "HEAD"], capture_output=True, text=True,
                              check=True, env=synth.git_env()).stdout)


def _history_vaults(records: int, sizes: list, log=print) -> dict:
    """{size: SynthVault}: one clone per history size, reused from benchmarks/work when still there."""
    work = HERE / "work"
    roots = {n: work / f"trust-history-{records}x{HISTORY_ENTRIES}-{n}" for n in sizes}
    found = {n: synth.load(r) for n, r in roots.items()}
    if all(sv is not None and sv.signing and _commits(sv.root) == n for n, sv in found.items()):
        return found
    for r in roots.values():
        synth.remove(r)
    big = roots[sizes[-1]]
    log(f"  building the history vault: {records} records x {HISTORY_ENTRIES} entries, grown to {sizes}")
    sv = synth.build_vault(big, records, HISTORY_ENTRIES, entry_authors="committer")
    out = {}
    for n in sizes:
        have = _commits(big)
        if n < have:
            raise SystemExit(f"a history of {n} commits is shorter than the built vault's {have}")
        synth.grow_history(sv, n - have)
        if n != sizes[-1]:  # a clone of the history as it is now
            clone = roots[n]
            subprocess.run(["git", "clone", "-q", "--local", str(big), str(clone)], check=True, env=synth.git_env())
            copy = synth.SynthVault(**{**sv.__dict__, "root": clone})
            subprocess.run(["git", "-C", str(clone), "config", "gpg.ssh.allowedSignersFile",
                            str(clone / ".git" / "confide" / "allowed_signers")], check=True, env=synth.git_env())
            _repack(clone)
            synth.pin_trust(copy, verify=True)
            synth._save_manifest(copy)
            out[n] = copy
    _repack(big)
    synth.pin_trust(sv, verify=True)
    synth._save_manifest(sv)
    out[sizes[-1]] = sv
    return out


def _repack(root: Path) -> None:
    """One pack of what is reachable, as a clone of a real vault has (fast-import and the bulk signing
    leave several packs, and the unsigned commits they replaced)."""
    subprocess.run(["git", "-C", str(root), "reflog", "expire", "--expire=now", "--all"], check=True,
                   env=synth.git_env())
    subprocess.run(["git", "-C", str(root), "repack", "-a", "-d", "-q"], check=True, env=synth.git_env())
    subprocess.run(["git", "-C", str(root), "prune", "--expire=now"], check=True, env=synth.git_env())


def _setup_history(ctx: Context) -> None:
    if "trust_history" in ctx.state:
        return
    sizes = _sizes()
    vaults = _history_vaults(ctx.records - len(ctx.sv.big_records), sizes)
    ctx.state["trust_history"] = vaults
    for n, sv in vaults.items():
        ctx.state[f"trust_commits_{n}"] = _commits(sv.root)


def _verify(ctx: Context, n: int, key: bool, *extra: str) -> float:
    sv = ctx.state["trust_history"][n]
    env = synth.env_for(sv, sv.manager, PYTHONPATH=str(ctx.code))
    if not key:
        env.pop("CONFIDE_IDENTITY")
        env["HOME"] = env["XDG_CONFIG_HOME"] = str(ctx.work / "no-home")  # and no default identity either
    return ctx.time_argv([ctx.confide_bin, "verify", "--json", *extra], env=env)


def _peer(ctx: Context, n: int, *extra: str) -> float:
    sv = ctx.state["trust_history"][n]
    return ctx.time_argv(["git", "-C", str(sv.root), "log", "--show-signature", "--format=%H %G? %GS", *extra],
                         env=synth.git_env())


def _fmt(n: int) -> str:
    return f"{n:,}"


def _register_history_sections() -> None:
    sizes = _sizes()
    order = 70
    for n in sizes:
        key_name = f"confide verify @{_fmt(n)} commits (manager)"
        section(key_name, group=GROUP, setup=_setup_history, runs=RUNS, order=order, compare=None,
                per=f"trust_commits_{n}", per_label="commits",
                note="whole history from the anchor: signatures, rules, and every block the manager opens")(
            lambda ctx, _n=n: _verify(ctx, _n, True))
        section(f"confide verify @{_fmt(n)} commits (no key)", group=GROUP, setup=_setup_history, runs=RUNS,
                order=order + 1, compare=key_name, per=f"trust_commits_{n}", per_label="commits",
                note="the keyless checks only: what a command runs on the commits since its checkpoint")(
            lambda ctx, _n=n: _verify(ctx, _n, False))
        order += 2
    small, large = sizes[0], sizes[-1]
    section(f"git log --show-signature @{_fmt(small)} commits (peer)", group=GROUP, setup=_setup_history,
            runs=RUNS, order=order, compare=f"confide verify @{_fmt(small)} commits (manager)",
            per=f"trust_commits_{small}", per_label="commits",
            note="git: one ssh-keygen -Y verify per commit, allowed_signers from the clone; signatures only")(
        lambda ctx: _peer(ctx, small))
    if large != small:
        last = min(1000, large - small)
        since = f"confide verify --since HEAD~{last} @{_fmt(large)} commits (manager)"
        section(since, group=GROUP, setup=_setup_history, runs=RUNS, order=order + 1, compare=None, per=last,
                per_label="commits", note=f"the newest {_fmt(last)} commits of {_fmt(large)}, as after pulling them")(
            lambda ctx: _verify(ctx, large, True, "--since", f"HEAD~{last}"))
        section(f"git log --show-signature -{last} @{_fmt(large)} commits (peer)", group=GROUP,
                setup=_setup_history, runs=RUNS, order=order + 2, compare=since, per=last, per_label="commits",
                note=f"git over the same {_fmt(last)} commits")(
            lambda ctx: _peer(ctx, large, f"-{last}"))
        if os.environ.get("CONFIDE_BENCH_TRUST_PEER_FULL") == "1":
            section(f"git log --show-signature @{_fmt(large)} commits (peer)", group=GROUP, setup=_setup_history,
                    runs=RUNS, order=order + 3, compare=f"confide verify @{_fmt(large)} commits (manager)",
                    per=f"trust_commits_{large}", per_label="commits", note="git over the whole history")(
                lambda ctx: _peer(ctx, large))


_register_history_sections()


@derived
def _marginal(measures: dict) -> list:
    """verify's cost per commit added between two history sizes (wall and CPU): flat if it stays flat."""
    import statistics

    out = []
    sizes = _sizes()
    for kind in ("manager", "no key"):
        for a, b in itertools.pairwise(sizes):
            ma = measures[f"confide verify @{_fmt(a)} commits ({kind})"]
            mb = measures[f"confide verify @{_fmt(b)} commits ({kind})"]
            na, nb = ma.per, mb.per
            out.append((f"verify ({kind}) per commit added, {_fmt(na)} -> {_fmt(nb)}",
                        1000 * (mb.median - ma.median) / (nb - na), "ms/commit",
                        f"at {_fmt(na)}: {1000 * ma.median / na:.3f}, at {_fmt(nb)}: {1000 * mb.median / nb:.3f} ms/commit "
                        "(whole)"))
            if ma.cpu_s and mb.cpu_s:
                ca, cb = statistics.median(ma.cpu_s), statistics.median(mb.cpu_s)
                out.append((f"verify ({kind}) CPU per commit added, {_fmt(na)} -> {_fmt(nb)}",
                            1000 * (cb - ca) / (nb - na), "ms/commit",
                            f"at {_fmt(na)}: {1000 * ca / na:.3f}, at {_fmt(nb)}: {1000 * cb / nb:.3f} ms/commit (whole)"))
    return out


def main(argv=None) -> int:
    from benchmarks import bench

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--runs" not in argv:
        argv += ["--runs", str(RUNS)]
    return bench.main(["--only", GROUP, *argv])


if __name__ == "__main__":
    raise SystemExit(main())
