"""Several machines and backups: sync, clone, the record merge driver, backup, restore.

The merge driver is what lets two clones add entries to the same child and
sync: git hands it the three versions of a record file (base, ours, theirs),
a head (``records/<id>.yaml``) or an entries file (``records/<id>.entries.yaml``),
and it merges them *without any key*, on the plaintext structure alone:

- entries: the union by id; an entry changed on one side only (a ``mark`` that
  moved it to another level) takes that side; markings: the union by id;
- level keys: the union by id (new generations from either side), and for each
  key the union of wrapped copies, minus those one side removed (revocation);
- grants: the union, minus those one side removed;
- profile and key person: the side that changed them.

A true conflict (the profile changed on both sides, the same entry id with
different blocks, two different new generations of one level, a wrapped copy
re-wrapped differently on both sides) is never settled by choosing a side: the
driver writes git's usual conflict markers into the file, says what clashed,
and exits non-zero, so git leaves the repository in its normal conflicted state.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .errors import ExternalError, NotFound, UsageError, VaultStateError
from .gitstore import Git, git_binary, git_env, holder_email

DRIVER_NAME = "confide"


# ---------------------------------------------------------------------------
# Repository configuration


def register_repo_config(root: Path) -> None:
    """Register the merge driver and the allowed signers file in the repository's .git/config."""
    git = Git(root)
    driver = f"{shlex.quote(sys.executable)} -m vault_cli merge-driver %O %A %B %P"
    git.run("config", f"merge.{DRIVER_NAME}.name", "confide: union of record entries, needs no key")
    git.run("config", f"merge.{DRIVER_NAME}.driver", driver)
    git.run("config", "gpg.ssh.allowedSignersFile", str((root / "allowed_signers").resolve()))


# ---------------------------------------------------------------------------
# The merge driver


class Conflict(Exception):
    pass


def _canon(x) -> str:
    return json.dumps(x, sort_keys=True, ensure_ascii=False)


def _pick(o, a, b, what: str):
    if _canon(a) == _canon(b):
        return a
    if _canon(a) == _canon(o):
        return b
    if _canon(b) == _canon(o):
        return a
    raise Conflict(what)


def _merge_list(o: list, a: list, b: list) -> list:
    """Three-way merge of a list treated as a set: keep what either side added, drop what either removed.

    When only one side changed the list, that side's list is taken as it is (order included).
    """
    if _canon(a) == _canon(o) or _canon(a) == _canon(b):
        return b
    if _canon(b) == _canon(o):
        return a
    co, cb = {_canon(x) for x in o}, {_canon(x) for x in b}
    ca = {_canon(x) for x in a}
    out = [x for x in a if _canon(x) in cb or _canon(x) not in co]
    out += [x for x in b if _canon(x) not in ca and _canon(x) not in co]
    return out


def _merge_map(o: dict, a: dict, b: dict, what: str) -> dict:
    out = {}
    for k in list(a) + [k for k in b if k not in a]:
        va, vb, vo = a.get(k), b.get(k), o.get(k)
        v = _pick(vo, va, vb, f"{what} '{k}' was changed differently on both sides")
        if v is not None:
            out[k] = v
    return out


def _merge_keys(o: list, a: list, b: list) -> list:
    ko, ka, kb = ({k["id"]: k for k in xs} for xs in (o, a, b))
    out = []
    for kid in list(ka) + [k for k in kb if k not in ka]:
        x, y, base = ka.get(kid), kb.get(kid), ko.get(kid)
        if x is not None and y is not None:
            meta = lambda k: (k["level"], k["generation"], k["recipient"])  # noqa: E731
            if meta(x) != meta(y):
                raise Conflict(f"level key {kid} differs between the two sides (its public recipient was changed)")
            merged = dict(x)
            merged["wrapped"] = dict(sorted(_merge_map((base or {}).get("wrapped", {}), x["wrapped"], y["wrapped"],
                                                       f"the wrapped copy of level key {kid} for").items()))
            if not merged["wrapped"]:
                raise Conflict(f"level key {kid} would be left with no reader")
            out.append(merged)
        else:
            present = x if x is not None else y
            if base is None:
                out.append(present)
            elif _canon(base) != _canon(present):
                raise Conflict(f"level key {kid} was changed on one side and removed on the other")
    seen: dict = {}
    for k in out:
        slot = (k["level"], k["generation"])
        if slot in seen:
            raise Conflict(
                f"both sides made a new generation {k['generation']} of the {k['level']} key "
                f"({seen[slot]} and {k['id']}), e.g. two revocations at once"
            )
        seen[slot] = k["id"]
    return out


def _merge_entry(eo: Optional[dict], ea: dict, eb: dict) -> dict:
    if _canon(ea) == _canon(eb):
        return ea
    if eo is not None and _canon(ea) == _canon(eo):
        return eb
    if eo is not None and _canon(eb) == _canon(eo):
        return ea
    if (ea["key"], ea["data"]) != (eb["key"], eb["data"]):
        raise Conflict(f"entry {ea['id']} has different blocks on the two sides")
    mo = {m["id"]: m for m in ((eo or {}).get("marks") or [])}
    ma = {m["id"]: m for m in (ea.get("marks") or [])}
    mb = {m["id"]: m for m in (eb.get("marks") or [])}
    marks = _merge_map(mo, ma, mb, f"marking of entry {ea['id']}")
    out = dict(ea)
    out["marks"] = [marks[k] for k in sorted(marks)]
    if not out["marks"]:
        out.pop("marks")
    return out


def _merge_entries(o: list, a: list, b: list) -> list:
    eo, ea, eb = ({e["id"]: e for e in xs} for xs in (o, a, b))
    out = []
    for eid in sorted(set(ea) | set(eb)):
        x, y, base = ea.get(eid), eb.get(eid), eo.get(eid)
        if x is not None and y is not None:
            out.append(_merge_entry(base, x, y))
            continue
        present = x if x is not None else y
        if base is None:
            out.append(present)  # added on one side
        elif _canon(base) != _canon(present):
            raise Conflict(f"entry {eid} was changed on one side and erased on the other")
        # else: erased on the other side (a recorded erasure): leave it out
    return out


def merge_records(base: Optional[bytes], ours: bytes, theirs: bytes, path: str) -> bytes:
    """Merge one record file: a head (keys, grants, profile) or an entries file (a union of entries)."""
    from . import envelope

    part = envelope.record_of(path)
    if part is not None and part[1] == "entries":
        return _merge_entries_file(base, ours, theirs, path)
    return _merge_head_file(base, ours, theirs, path)


def _merge_entries_file(base: Optional[bytes], ours: bytes, theirs: bytes, path: str) -> bytes:
    from . import envelope

    def load(raw: Optional[bytes]) -> Optional[list]:
        if raw is None or not raw.strip():
            return None
        return envelope.load_entries(raw, path)

    o, a, b = load(base), load(ours), load(theirs)
    if a is None or b is None:
        raise Conflict("the record's entries were removed on one side")
    entries = _merge_entries(o or [], a, b)
    return envelope.dump_entries(entries)


def _merge_head_file(base: Optional[bytes], ours: bytes, theirs: bytes, path: str) -> bytes:
    from . import envelope, yamlio

    def load(raw: Optional[bytes]) -> Optional[dict]:
        if raw is None or not raw.strip():
            return None
        data = yamlio.load(raw, path)
        if not isinstance(data, dict) or data.get("format") != envelope.FORMAT or "entries" in data:
            raise Conflict("a side is not a confide record head")
        return data

    o, a, b = load(base), load(ours), load(theirs)
    if a is None or b is None:
        raise Conflict("the record was removed on one side")
    if a.get("record") != b.get("record"):
        raise Conflict("the two sides hold different record ids")
    o = o or {"keys": [], "grants": []}
    head = {"format": a["format"], "record": a["record"]}
    head["key_person"] = _pick(o.get("key_person"), a.get("key_person"), b.get("key_person"),
                               "the key person was changed differently on both sides")
    og, ag, bg = o.get("grants") or [], a.get("grants") or [], b.get("grants") or []
    grants = _merge_list(og, ag, bg)
    if grants is not ag and grants is not bg:
        grants = sorted(grants, key=lambda g: (g["holder"], g["level"], g.get("granted", "")))
    head["grants"] = grants
    if "revoked" in a or "revoked" in b or "revoked" in o:  # revocations of role / key-person access (issue 3)
        orv, arv, brv = o.get("revoked") or [], a.get("revoked") or [], b.get("revoked") or []
        revoked = _merge_list(orv, arv, brv)
        if revoked is not arv and revoked is not brv:
            revoked = sorted(revoked, key=lambda r: (r["holder"], r["level"], r.get("revoked", "")))
        head["revoked"] = revoked
    for extra in sorted((set(a) | set(b)) - {"format", "record", "key_person", "grants", "revoked", "keys", "profile"}):
        head[extra] = _pick(o.get(extra), a.get(extra), b.get(extra), f"'{extra}' was changed differently on both sides")
    head["keys"] = _merge_keys(o.get("keys") or [], a["keys"], b["keys"])
    head["profile"] = _pick(o.get("profile"), a.get("profile"), b.get("profile"),
                            "the profile was changed on both sides")
    if head["key_person"] is None and "key_person" not in a and "key_person" not in b:
        head.pop("key_person")
    return envelope.Envelope(path, head).head_bytes()


def merge_driver(base_file: str, ours_file: str, theirs_file: str, path: str) -> int:
    """git's merge driver entry point: writes the result into ``ours_file``; 0 merged, 1 conflict."""
    from .errors import ConfideError

    def read(p: str) -> Optional[bytes]:
        try:
            return Path(p).read_bytes()
        except FileNotFoundError:
            return None

    base, ours, theirs = read(base_file), read(ours_file), read(theirs_file)
    try:
        merged = merge_records(base, ours or b"", theirs or b"", path)
    except (Conflict, ConfideError) as exc:
        reason = exc.message if isinstance(exc, ConfideError) else str(exc)
        subprocess.run(["git", "merge-file", "-L", "ours", "-L", "base", "-L", "theirs", ours_file, base_file, theirs_file],
                       capture_output=True)
        sys.stderr.write(
            f"confide: error: cannot merge {path} without choosing a side: {reason}\n"
            f"confide: hint: {path} is left with git's conflict markers; decide with the people involved, then "
            f"'git checkout --ours -- {path}' or '--theirs', 'git add {path}' and 'git commit'; "
            "or go back with 'git merge --abort'\n"
        )
        return 1
    Path(ours_file).write_bytes(merged)
    return 0


# ---------------------------------------------------------------------------
# sync


@dataclass
class SyncResult:
    remote: str
    branch: str
    fetched: bool = True
    merged: Optional[str] = None  # "fast-forward", "merge" or None
    pushed: bool = False
    commit: Optional[str] = None
    notes: list = field(default_factory=list)


def _first_error(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("fatal:", "error:", "remote:", "!")):
            return ln[:240]
    return lines[0][:240] if lines else f"exit {proc.returncode}"


def _current_branch(git: Git) -> str:
    proc = git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    branch = proc.stdout.decode().strip()
    if not branch:
        raise VaultStateError("the vault is not on a branch (detached HEAD)", "check out the vault's branch: git checkout main")
    return branch


def _default_remote(git: Git, branch: str) -> str:
    proc = git.run("config", f"branch.{branch}.remote", check=False)
    name = proc.stdout.decode().strip()
    if name:
        return name
    remotes = git.run("remote").stdout.decode().split()
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    if not remotes:
        raise UsageError("this vault has no remote to sync with", "add one: git remote add origin URL, or clone with 'confide clone URL DIR'")
    raise UsageError(f"this vault has several remotes ({', '.join(remotes)}); say which", "confide sync REMOTE")


def sync(root: Path, remote: Optional[str], actor: Callable[[], str], *, attempts: int = 3) -> SyncResult:
    """Fetch, merge (signed, with the record merge driver), push; retry when the push races another."""
    from . import signing, trail
    from .store import Transaction

    git = Git(root)
    if (root / ".git" / "MERGE_HEAD").exists():
        raise VaultStateError(
            "a merge is in progress (an earlier sync stopped at a conflict)",
            "finish it (resolve the files, 'git add' them, 'git commit') or abandon it with 'git merge --abort', then sync again",
        )
    branch = _current_branch(git)
    remote = remote or _default_remote(git, branch)
    if remote not in git.run("remote").stdout.decode().split():
        raise NotFound(f"no remote named '{remote}'", "see them with 'git remote -v'; add one with 'git remote add NAME URL'")
    register_repo_config(root)
    result = SyncResult(remote, branch)
    with Transaction(root, git) as tx:  # the vault lock, crash recovery, and no uncommitted changes
        tx.require_clean()  # before git merges anything into the working tree
        for attempt in range(attempts):
            proc = git.run("fetch", "--quiet", remote, check=False)
            if proc.returncode != 0:
                raise ExternalError(
                    f"could not fetch from '{remote}': {_first_error(proc)}; your local commits are kept",
                    "check the network and the remote's address ('git remote -v'), then run 'confide sync' again",
                )
            tracking = f"refs/remotes/{remote}/{branch}"
            has_remote = git.run("rev-parse", "--verify", "-q", tracking, check=False).returncode == 0
            if has_remote:
                counts = git.run("rev-list", "--left-right", "--count", f"HEAD...{tracking}").stdout.decode().split()
                ahead, behind = int(counts[0]), int(counts[1])
                if behind and not ahead:
                    git.run("merge", "--ff-only", "-q", tracking)
                    result.merged = "fast-forward"
                elif behind and ahead:
                    holder = actor()
                    plan = signing.prepare(root, holder, {})
                    env = {"GIT_AUTHOR_NAME": holder, "GIT_AUTHOR_EMAIL": holder_email(holder),
                           "GIT_COMMITTER_NAME": holder, "GIT_COMMITTER_EMAIL": holder_email(holder)}
                    msg = trail.message(f"merge {remote}/{branch}", "vault.merge", holder)
                    sign_args = [*plan.args] if plan else ["-c", "commit.gpgsign=false"]
                    mproc = git.run(*sign_args, "merge", "--no-ff", "--no-edit", "-q", *(["-S"] if plan else []),
                                    "-m", msg, tracking, env=env, check=False)
                    if mproc.returncode != 0:
                        conflicted = git.run("diff", "--name-only", "--diff-filter=U").stdout.decode().split()
                        said = [ln for ln in mproc.stderr.decode("utf-8", "replace").splitlines() if ln.startswith("confide: error:")]
                        if conflicted:
                            raise VaultStateError(
                                f"the merge with '{remote}' stopped at a conflict in {len(conflicted)} file(s): "
                                + ", ".join(conflicted[:5])
                                + ("" if not said else "; " + "; ".join(s[len("confide: error: "):] for s in said[:3])),
                                "nothing was pushed and your commits are kept; the files hold git's conflict markers",
                                "resolve them ('git checkout --ours/--theirs -- FILE', 'git add FILE', 'git commit'), "
                                "or go back with 'git merge --abort'; then run 'confide sync' again",
                            )
                        if (root / ".git" / "MERGE_HEAD").exists():
                            git.run("merge", "--abort", check=False)
                        raise ExternalError(
                            f"could not merge '{remote}/{branch}': {_first_error(mproc)}; your local commits are kept",
                            "check the signing key (see 'confide verify'), then run 'confide sync' again",
                        )
                    result.merged = "merge"
                if not ahead and not behind:
                    result.commit = git.head()
                    return result
                if result.merged == "fast-forward" and not ahead:
                    result.commit = git.head()
                    return result
            pproc = git.run("push", "--quiet", "--set-upstream", remote, f"HEAD:refs/heads/{branch}", check=False)
            if pproc.returncode == 0:
                result.pushed = True
                result.commit = git.head()
                return result
            err = _first_error(pproc)
            rejected = "rejected" in pproc.stderr.decode("utf-8", "replace") or "fetch first" in err
            if not rejected or attempt == attempts - 1:
                raise ExternalError(
                    f"could not push to '{remote}': {err}; your local commits are kept",
                    "run 'confide sync' again later; if the remote refuses pushes, ask whoever runs it",
                )
    result.commit = git.head()
    return result


# ---------------------------------------------------------------------------
# clone


def clone(url: str, directory: str) -> tuple[Path, str]:
    target = Path(directory).expanduser()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise VaultStateError(f"{target} already exists", "clone into a new folder")
    created = not target.exists()
    proc = subprocess.run([git_binary(), "clone", "-q", url, str(target)], capture_output=True, env=git_env())
    if proc.returncode != 0:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise ExternalError(f"could not clone {url}: {_first_error(proc)}", "check the address and the network, then try again")
    if not (target / "confide.yaml").is_file():
        shutil.rmtree(target, ignore_errors=True) if created else None
        raise VaultStateError(f"{url} is not a confide vault (no confide.yaml)", "check the address")
    register_repo_config(target.resolve())
    return target.resolve(), Git(target).head() or ""


# ---------------------------------------------------------------------------
# backup and restore


@dataclass
class BackupResult:
    path: str
    size: int
    commit: str
    refs: int


def backup(root: Path, file: str) -> BackupResult:
    """A git bundle of every ref, verified before it replaces ``file``. Needs no identity."""
    git = Git(root)
    head = git.head()
    if head is None:
        raise VaultStateError("the vault has no commits to back up", "make one first: confide init")
    out = Path(file).expanduser().resolve()
    if out.is_dir():
        raise UsageError(f"{out} is a folder", "give a file name, e.g. /mnt/backup/vault-2026-11-24.bundle")
    if not out.parent.is_dir():
        raise NotFound(f"the folder {out.parent} does not exist", "create it, or choose another place")
    tmp = out.parent / f".{out.name}.confide-tmp-{os.getpid()}"
    try:
        proc = git.run("bundle", "create", "-q", str(tmp), "--all", check=False)
        if proc.returncode != 0:
            raise ExternalError(f"git bundle could not write {out}: {_first_error(proc)}", "check the free space and permissions there")
        proc = git.run("bundle", "verify", "-q", str(tmp), check=False)
        if proc.returncode != 0:
            raise ExternalError(f"the bundle written to {out} does not verify: {_first_error(proc)}", "check the disk, then try again")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    refs = len([ln for ln in git.run("for-each-ref", "--format=%(refname)").stdout.decode().splitlines() if ln])
    return BackupResult(str(out), out.stat().st_size, head, refs)


def restore(file: str, directory: str) -> tuple[Path, str]:
    """Clone a bundle into a new folder. The caller runs verify on the result."""
    src = Path(file).expanduser()
    target = Path(directory).expanduser()
    if target.exists() or target.is_symlink():
        raise VaultStateError(f"{target} already exists; restore never writes into an existing folder",
                              "choose a new folder, e.g. ./restored")
    if not src.is_file():
        raise NotFound(f"no bundle at {src}", "give the path of a file written by 'confide backup'")
    with open(src, "rb") as fh:
        first = fh.readline(64)
    if first not in (b"# v2 git bundle\n", b"# v3 git bundle\n"):
        raise ExternalError(f"{src} is not a git bundle", "give a file written by 'confide backup'")
    proc = subprocess.run([git_binary(), "clone", "-q", str(src.resolve()), str(target)], capture_output=True,
                          env=git_env())
    if proc.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise ExternalError(f"the bundle {src} is truncated or damaged: {_first_error(proc)}",
                            "nothing was restored; use another backup (and check the disk it was on)")
    git = Git(target)
    proc = git.run("bundle", "verify", "-q", str(src.resolve()), check=False)
    if proc.returncode != 0 or not (target / "confide.yaml").is_file():
        shutil.rmtree(target, ignore_errors=True)
        why = _first_error(proc) if proc.returncode != 0 else "it holds no confide vault"
        raise ExternalError(f"the bundle {src} cannot be restored: {why}", "nothing was restored; use another backup")
    git.run("remote", "remove", "origin", check=False)  # a bundle is not a remote to sync with
    register_repo_config(target.resolve())
    return target.resolve(), git.head() or ""
