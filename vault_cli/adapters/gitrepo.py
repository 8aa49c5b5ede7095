"""Repository-level git work through GitPython: create, clone, configure, remotes, fetch and push,
bundles, and the questions ``confide sync`` asks of history (ancestry, merge bases, counts).

These run once per ``confide init``, ``clone``, ``sync``, ``backup`` or ``restore``, commands that
spend their time on the network, on whole-history verification or on writing a bundle: there the
70-90 ms of importing GitPython (``benchmarks/bench_gitpython.py``) is lost in the noise
(``benchmarks/bench_repo.py`` times each command before and after). The one-commit path of a daily
command (``gitstore.Git``) and the walks over history (``gitlog``: ``verify``, ``audit``) run the
git binary directly.

Domain-free: paths, names and object ids in; strings, bytes and booleans out. A failed git command
raises ``GitFailed`` with git's own first error line; callers say what it means to the user.

GitPython 3.x reads only SHA-1 repositories: its object model (``Commit``, ``repo.merge_base``,
``repo.rev_parse``, ``repo.git.get_object_data``) cannot parse a SHA-256 object id. What GitPython
does without parsing an object (``Repo.init``, ``Repo.clone_from``, the config reader and writer,
remotes, ``Remote.fetch``, ``Remote.push``, branches by name) works in both. Everything here that
answers with an object id takes it from git's own output through GitPython's command runner
(``repo.git``), so the same code serves SHA-1 and SHA-256 vaults (tests run both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from vault_cli.adapters.gitstore import git_binary, git_env


class GitFailed(Exception):
    """A git command failed: ``detail`` is git's first error line (``fatal:``, ``error:``, ...);
    ``rejected``: a push refused as not a fast-forward (someone pushed first)."""

    def __init__(self, detail: str, stderr: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.stderr = stderr
        self.rejected = "rejected" in stderr or "fetch first" in detail


def _detail(stderr: str, fallback: str = "git failed") -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("fatal:", "error:", "remote:", "!")):
            return ln[:240]
    return lines[0][:240] if lines else fallback


def _command_error(exc) -> GitFailed:
    """``GitFailed`` from GitPython's ``GitCommandError`` (whose ``stderr`` it wraps in ``stderr: '...'``)."""
    text = str(exc.stderr or "").strip()
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '"):-1]
    return GitFailed(_detail(text, f"git exited {exc.status}"), text)


def _git_module():
    """GitPython, imported on first use (never by the daily commands)."""
    import logging

    git_binary()  # a clear error when git is missing, before GitPython's own at import
    import git

    # GitPython logs some of git's error lines as warnings; confide reports failures itself
    logging.getLogger("git").addHandler(logging.NullHandler())
    return git


class Repository:
    """A git repository, opened with GitPython."""

    def __init__(self, root: Path) -> None:
        git = _git_module()
        self.root = Path(root)
        try:
            self._repo = git.Repo(str(self.root))
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise GitFailed(f"{self.root} is not a git repository") from exc
        self._repo.git.update_environment(**{k: v for k, v in git_env().items()
                                             if k in ("GIT_TERMINAL_PROMPT", "GIT_PAGER", "LC_ALL")})

    def _run(self, *args: str) -> str:
        """``git ARGS`` through GitPython's command runner; its stdout (``GitFailed`` on failure)."""
        status, out, err = self._repo.git.execute([git_binary(), *args], with_extended_output=True,
                                                  with_exceptions=False)
        if status != 0:
            raise GitFailed(_detail(err, f"git {args[0]} exited {status}"), err)
        return out

    # -- creating --------------------------------------------------------------------------------

    @classmethod
    def init(cls, root: Path, object_format: str = "sha1") -> Repository:
        """A new repository at ``root`` whose branch is ``main``, of the given object format."""
        git = _git_module()
        fmt = {"object_format": object_format} if object_format != "sha1" else {}
        try:
            git.Repo.init(str(root), initial_branch="main", **fmt)
        except git.GitCommandError as exc:
            raise _command_error(exc) from None
        return cls(root)

    @classmethod
    def clone(cls, url: str, target: Path) -> Repository:
        git = _git_module()
        try:
            git.Repo.clone_from(url, str(target), env=git_env())
        except git.GitCommandError as exc:
            raise _command_error(exc) from None
        return cls(target)

    # -- configuration, branches and remotes ----------------------------------------------------

    def set_config(self, section: str, option: str, value: str) -> None:
        """``section`` as git's config file spells it: ``merge "confide"``, ``gpg "ssh"``, ``transfer``."""
        with self._repo.config_writer() as cw:
            cw.set_value(section, option, value)

    def get_config(self, section: str, option: str) -> Optional[str]:
        reader = self._repo.config_reader("repository")
        return str(reader.get_value(section, option)) if reader.has_option(section, option) else None

    def branch(self) -> Optional[str]:
        """The checked-out branch's name; None when HEAD is detached."""
        if self._repo.head.is_detached:
            return None
        return self._repo.active_branch.name

    def remotes(self) -> list[str]:
        return [r.name for r in self._repo.remotes]

    def remove_remote(self, name: str) -> None:
        if name in self.remotes():
            self._repo.delete_remote(self._repo.remote(name))

    # ``Remote.fetch`` turns what it fetched into GitPython commit objects, which fails in a SHA-256
    # repository (``BadName``), and ``Remote.push`` keeps only git's ``error:``/``fatal:`` lines, losing
    # the reason a refusing hook gives (``remote: ...``): both go through GitPython's command runner.

    def fetch(self, remote: str) -> None:
        self._run("fetch", "--quiet", remote)

    def push(self, remote: str, refspec: str, *, set_upstream: bool = False) -> None:
        """Push ``refspec``; ``GitFailed`` when the remote refuses it, with ``rejected`` True when it
        was not a fast-forward (someone pushed first: fetch and try again)."""
        self._run("push", "--quiet", *(["--set-upstream"] if set_upstream else []), remote, refspec)

    def merge_ff_only(self, commit: str) -> None:
        self._run("merge", "--ff-only", "-q", commit)

    # -- bundles -----------------------------------------------------------------------------------

    def bundle_create(self, path: Path) -> None:
        """Every ref, in one bundle file."""
        self._run("bundle", "create", "-q", str(path), "--all")

    def bundle_verify(self, path: Path) -> None:
        self._run("bundle", "verify", "-q", str(path))

    def refs(self) -> list[str]:
        return [ref.path for ref in self._repo.refs]

    # -- history (object ids come from git's output: SHA-1 and SHA-256 alike) ----------------------

    def resolve(self, name: str) -> Optional[str]:
        """The commit ``name`` (a ref, a revision) names, or None."""
        try:
            return self._run("rev-parse", "--verify", "-q", name + "^{commit}").strip() or None
        except GitFailed:
            return None

    def is_ancestor(self, older: str, newer: str) -> bool:
        git = _git_module()
        try:
            return self._repo.is_ancestor(older, newer)
        except git.GitCommandError:  # a commit this repository does not have
            return False

    def merge_bases(self, a: str, b: str) -> list[str]:
        """Every best common ancestor of ``a`` and ``b`` (several after a criss-cross merge)."""
        try:
            return self._run("merge-base", "--all", a, b).split()
        except GitFailed:
            return []  # git merge-base exits 1 when there is none

    def count(self, revisions: str) -> int:
        """How many commits ``revisions`` (e.g. ``A..B``) names."""
        return int(self._run("rev-list", "--count", revisions).strip() or 0)

    def roots(self, tip: str) -> list[str]:
        """The commits reachable from ``tip`` that have no parent."""
        return self._run("rev-list", "--max-parents=0", tip).split()


__all__ = ["Repository", "GitFailed"]
