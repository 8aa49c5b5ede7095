"""Reading history through GitPython against the git binary (``adapters.gitlog``), as ``audit`` and
``verify`` read it (issue 10: GitPython where its cost does not matter, the binary where it would cost a
user time, with the figure in a comment).

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_gitpython.py [--commits 10000] [--runs 5]

Builds (under ``benchmarks/work/``) a repository of ``--commits`` commits, each changing one 2 KB file
of 1,000 (``git fast-import``), then times, as medians of interleaved runs, in this process:

- every commit's raw bytes, newest first (what ``audit`` parses: trailers, signature):
  ``gitlog.rev_list`` + ``gitlog.StreamCat`` against GitPython's ``Repo.iter_commits`` + ``Repo.odb.stream``
  (one persistent ``git cat-file --batch``, one round trip per commit);
- the files each commit changed (what ``verify`` checks per commit): one ``git diff-tree --stdin``
  (``gitlog.diff_tree``) against GitPython's ``Commit.diff(parent)``, over the newest 500 commits only
  (it starts a ``git diff`` per commit; the figure per commit is what scales);
- ``import git`` itself (a fresh interpreter, ``-X importtime``'s cumulative figure).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WORK = HERE / "work"


def build(root: Path, commits: int, files: int = 1000) -> None:
    if (root / ".git").is_dir() and (root / ".git" / f"built-{commits}").exists():
        return
    subprocess.run(["rm", "-rf", str(root)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    rng = random.Random(1)
    parts = []
    when = 1_700_000_000
    for i in range(commits):
        blob = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(2048)).encode()
        msg = (f"add entry {i}\n\nConfide-Action: entry.add\nConfide-Holder: ben\n"
               f"Confide-Record: c-{i % files:08d}\n").encode()
        parts.append(b"commit refs/heads/main\n")
        parts.append(b"committer ben <ben@holders.confide.invalid> %d +0000\n" % (when + i))
        parts.append(b"data %d\n%s\n" % (len(msg), msg))
        parts.append(b"M 100644 inline records/c-%08d.yaml\ndata %d\n%s\n" % (i % files, len(blob), blob))
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(parts), check=True)
    (root / ".git" / f"built-{commits}").touch()


def raw_gitlog(root: Path) -> int:
    from vault_cli.adapters import gitlog

    commits = gitlog.rev_list(root, "refs/heads/main", reverse=False)
    stream = gitlog.StreamCat(root, [sha for sha, _ in commits])
    n = 0
    try:
        for _ in commits:
            n += len(stream.next() or b"")
    finally:
        stream.close()
    return n


def raw_gitpython(root: Path) -> int:
    import git

    repo = git.Repo(str(root))
    n = 0
    for c in repo.iter_commits("refs/heads/main"):
        n += len(repo.odb.stream(c.binsha).read())
    repo.close()
    return n


def diffs_gitlog(root: Path, last: int) -> int:
    from vault_cli.adapters import gitlog

    commits = gitlog.rev_list(root, "refs/heads/main", reverse=False)[:last]
    return sum(len(v) for v in gitlog.diff_tree(root, commits).values())


def diffs_gitpython(root: Path, last: int) -> int:
    import git

    repo = git.Repo(str(root))
    n = 0
    for c in repo.iter_commits("refs/heads/main", max_count=last):
        n += len(c.parents[0].diff(c) if c.parents else [])
    repo.close()
    return n


def import_ms() -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import git"], capture_output=True, text=True).stderr
    line = [ln for ln in out.splitlines() if ln.rstrip().endswith("| git")][-1]
    return int(line.split("|")[1]) / 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=10000)
    ap.add_argument("--diffs", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    root = WORK / f"gitpython-{a.commits}"
    build(root, a.commits)
    os.environ["GIT_PYTHON_GIT_EXECUTABLE"] = "git"
    cases = {
        f"raw commits x{a.commits}: gitlog (rev-list + StreamCat)": lambda: raw_gitlog(root),
        f"raw commits x{a.commits}: GitPython (iter_commits + odb.stream)": lambda: raw_gitpython(root),
        f"changed files x{a.diffs}: gitlog (one diff-tree --stdin)": lambda: diffs_gitlog(root, a.diffs),
        f"changed files x{a.diffs}: GitPython (Commit.diff per commit)": lambda: diffs_gitpython(root, a.diffs),
        "import git (fresh interpreter, cumulative)": None,
    }
    times: dict = {k: [] for k in cases}
    results: dict = {}
    for _ in range(a.runs):
        for name, fn in cases.items():
            if fn is None:
                times[name].append(import_ms() / 1000)
                continue
            t = time.perf_counter()
            results.setdefault(name, fn())
            times[name].append(time.perf_counter() - t)
    names = list(cases)
    assert results[names[0]] == results[names[1]], "the two readings disagree"
    assert results[names[2]] == results[names[3]], "the two diffs disagree"
    for name in names:
        med = statistics.median(times[name])
        print(f"{name:70s} {1000 * med:9.1f} ms  (min {1000 * min(times[name]):.1f})")
    print(f"ratios: raw {statistics.median(times[names[1]]) / statistics.median(times[names[0]]):.1f}x, "
          f"diffs {statistics.median(times[names[3]]) / statistics.median(times[names[2]]):.1f}x; "
          f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
