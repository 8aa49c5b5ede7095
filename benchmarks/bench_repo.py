"""Repository-level commands (issue 10): what running them through GitPython costs.

Run by hand (never by the tests), side by side with the code before the change::

    .venv/bin/python benchmarks/compare.py --tree before=/work/main@ssh --tree after=.@ssh --only repo --runs 5

(or alone: ``benchmarks/bench.py --only repo``). Times whole ``confide`` processes as the manager on
the synthetic vault (``benchmarks/synth.py``, 1,000 records x 50 entries):

- ``confide sync`` with nothing new on the remote: fetch, nothing to verify, nothing to push; the
  command whose own work is smallest, so the one where importing GitPython shows most;
- ``confide sync`` with one new signed commit on the remote: fetch, verify it (keyed), fast-forward;
- ``confide backup``: a bundle of every ref, verified, fsynced;
- ``confide restore`` and ``confide clone --trust``: a new clone whose whole history is verified;
- ``confide init``: a new vault, its first signed commit.

The remote is a bare repository beside the run's scratch folder, named ``bench`` in the vault's
config (the vault's own remotes are not touched).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import synth  # noqa: E402
from benchmarks.harness import Context, section  # noqa: E402

GROUP = "repo"
RUNS = 5
REMOTE = "bench"


def _setup(ctx: Context) -> None:
    """A bare remote holding the vault's built state, then one more signed commit on it (made with confide
    in the vault, pushed, and the vault put back): ``sync`` finds one commit to fetch, verify and take."""
    if "repo" in ctx.state:
        return
    st: dict = {}
    ctx.reset_vault()
    start = ctx.state["start_head"]
    branch = ctx.git("symbolic-ref", "--short", "HEAD").strip()
    bare = ctx.work / "remote.git"
    shutil.rmtree(bare, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True, env=synth.git_env())
    subprocess.run(["git", "-C", str(ctx.root), "remote", "remove", REMOTE], capture_output=True, env=synth.git_env())
    ctx.git("remote", "add", REMOTE, str(bare))
    ctx.git("push", "-q", REMOTE, f"{start}:refs/heads/{branch}")
    ctx.confide("add", ctx.state["add_record"], "--level", "general", "--category", "note", "--text", "pulled")
    st["pulled"] = ctx.git("rev-parse", "HEAD").strip()
    ctx.git("push", "-q", REMOTE, f"HEAD:refs/heads/{branch}")
    ctx.reset_vault()
    ctx.git("update-ref", f"refs/remotes/{REMOTE}/{branch}", start)
    bundle = ctx.work / "setup.bundle"
    ctx.git("bundle", "create", "-q", str(bundle), "--all")
    st.update(branch=branch, bare=bare, bundle=bundle, start=start)
    ctx.state["repo"] = st


def _remote_at(ctx: Context, commit: str) -> None:
    st = ctx.state["repo"]
    subprocess.run(["git", "-C", str(st["bare"]), "update-ref", f"refs/heads/{st['branch']}", commit], check=True)
    ctx.git("update-ref", f"refs/remotes/{REMOTE}/{st['branch']}", ctx.state["start_head"])


def _fresh(ctx: Context, name: str) -> Path:
    target = ctx.work / name
    shutil.rmtree(target, ignore_errors=True)
    return target


@section("confide sync (nothing new)", group=GROUP, setup=_setup, compare=None, runs=RUNS, order=70,
         note="fetch from a bare remote at HEAD: nothing to verify, merge or push")
def sync_nothing(ctx: Context) -> float:
    _remote_at(ctx, ctx.state["start_head"])
    t = ctx.confide("sync", REMOTE)
    ctx.reset_vault()
    return t


@section("confide sync (1 commit to take)", group=GROUP, setup=_setup, compare=None, runs=RUNS, order=71,
         note="fetch one signed entry.add commit, verify it with the manager's key, fast-forward")
def sync_one(ctx: Context) -> float:
    st = ctx.state["repo"]
    _remote_at(ctx, st["pulled"])
    t = ctx.confide("sync", REMOTE)
    if ctx.git("rev-parse", "HEAD").strip() != st["pulled"]:
        raise RuntimeError("sync did not take the remote's commit")
    ctx.reset_vault()
    return t


@section("confide backup", group=GROUP, setup=_setup, compare=None, runs=RUNS, order=72,
         note="git bundle of every ref, verified and fsynced")
def backup(ctx: Context) -> float:
    out = _fresh(ctx, "backup.bundle")
    t = ctx.confide("backup", str(out), "--quiet")
    out.unlink()
    return t


@section("confide restore --trust", group=GROUP, setup=_setup, compare=None, runs=RUNS, order=73,
         note="clone of a bundle, whole history verified from the vault's identity (the manager's key)")
def restore(ctx: Context) -> float:
    target = _fresh(ctx, "restored")
    t = ctx.confide("restore", str(ctx.state["repo"]["bundle"]), str(target), "--trust", ctx.sv.anchor, "--quiet")
    shutil.rmtree(target)
    return t


@section("confide clone --trust", group=GROUP, setup=_setup, compare=None, runs=RUNS, order=74,
         note="clone of the bare remote, whole history verified from the vault's identity (the manager's key)")
def clone(ctx: Context) -> float:
    _remote_at(ctx, ctx.state["start_head"])
    target = _fresh(ctx, "cloned")
    t = ctx.confide("clone", str(ctx.state["repo"]["bare"]), str(target), "--trust", ctx.sv.anchor)
    shutil.rmtree(target)
    return t


@section("confide init", group=GROUP, compare=None, runs=RUNS, order=75, note="a new vault and its first signed commit")
def init(ctx: Context) -> float:
    target = _fresh(ctx, "new-vault")
    t = ctx.confide("init", str(target), "--name", "Bench Nursery", "--holder", synth.MANAGER)
    shutil.rmtree(target)
    return t


def main(argv=None) -> int:
    from benchmarks import bench

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--runs" not in argv:
        argv += ["--runs", str(RUNS)]
    return bench.main(["--only", GROUP, *argv])


if __name__ == "__main__":
    raise SystemExit(main())
