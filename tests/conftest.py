"""Shared fixtures: real age keys, real git repositories, the real CLI.

Fixed test identities live in tests/keys/ (git does not keep mode 0600, so each
test copies them into its own folder and restricts them). Every test runs with
HOME, XDG_CONFIG_HOME and git's global config isolated, and with no CONFIDE_*
variable inherited from the caller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
from typer.testing import CliRunner

from vault_cli.cli.main import app
from vault_cli.formats import envelope, yamlio

KEYS_DIR = Path(__file__).parent / "keys"
HOLDERS = {"amira": "manager", "ben": "practitioner", "cara": "practitioner", "dara": "dsl"}


def recipient_of(key_file: Path) -> str:
    for line in key_file.read_text().splitlines():
        if line.startswith("# public key: "):
            return line.split(": ", 1)[1].strip()
    raise AssertionError(f"no public key comment in {key_file}")


def new_key_public(path: Path) -> str:
    """The public line of an SSH key file, from ssh-keygen itself."""
    out = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], check=True, capture_output=True, text=True).stdout
    return " ".join(out.split()[:2])


def signing_pub(keys: dict, name: str) -> str:
    """The public line of a test holder's fixed SSH signing key (tests/keys/NAME.sign.pub)."""
    return " ".join(Path(str(keys[name + ".sign"]) + ".pub").read_text().split()[:2])


def head_file(root: Path, record_id: str) -> Path:
    """``records/<id>.yaml``: the record's head (keys, grants, profile; never entries)."""
    return envelope.record_path(root, record_id)


def entries_file(root: Path, record_id: str) -> Path:
    """``records/<id>.entries.yaml``: the record's entries, beside its head."""
    return envelope.entries_path(root, record_id)


def record_doc_of(head: bytes | str, entries: bytes | str, label: str = "record") -> dict:
    """A record's two files as one dict (the head's fields, then ``entries``), checking each file's shape."""
    h = yamlio.load(head, f"{label} head")
    assert isinstance(h, dict) and h.get("format") == envelope.FORMAT, f"{label}: not a head file"
    assert "entries" not in h, f"{label}: a head file holds entries"
    t = yamlio.load(entries, f"{label} entries")
    assert isinstance(t, dict) and list(t) == ["entries"], f"{label}: an entries file holds more than 'entries'"
    return dict(h, entries=t["entries"] or [])


def record_doc(root: Path, record_id: str) -> dict:
    """The record in the working tree: ``records/<id>.yaml`` and ``records/<id>.entries.yaml`` read into one dict."""
    return record_doc_of(head_file(root, record_id).read_bytes(), entries_file(root, record_id).read_bytes(), record_id)


SUITE_NOW = "2026-11-24T10:00:00+00:00"
REQUIRE_AGE = os.environ.get("CONFIDE_REQUIRE_AGE") == "1"  # read at import: isolated_env clears CONFIDE_*


def age_binary() -> str:
    """The real 'age' command for interop checks: the tests skip without it, or fail under CONFIDE_REQUIRE_AGE=1 (CI)."""
    age = shutil.which("age")
    if age is None:
        if REQUIRE_AGE:
            pytest.fail("the 'age' command is required (CONFIDE_REQUIRE_AGE=1) but is not on PATH")
        pytest.skip("the 'age' command is not installed (set CONFIDE_REQUIRE_AGE=1 to fail instead)")
    return age


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for var in list(os.environ):
        if var.startswith("CONFIDE_") or var.startswith("GIT_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    # The suite's calendar: the dates tests give (--until, --parents-informed, deadlines) are
    # set against this day, so the suite gives the same result on any day it runs. Tests that
    # let time pass set CONFIDE_NOW themselves.
    monkeypatch.setenv("CONFIDE_NOW", SUITE_NOW)
    # commits a test makes with plain git carry the suite's date too (verify refuses one from the future)
    monkeypatch.setenv("GIT_AUTHOR_DATE", SUITE_NOW)
    monkeypatch.setenv("GIT_COMMITTER_DATE", SUITE_NOW)
    (home / ".gitconfig").write_text("[user]\n\tname = Test Runner\n\temail = runner@example.invalid\n[init]\n\tdefaultBranch = main\n")
    yield home


@pytest.fixture
def keys(tmp_path) -> dict[str, Path]:
    """Private copies (mode 0600) of the fixed test identities: amira, ben, cara, dara, eve, rec; and of
    their SSH signing keys, as ``keys["amira.sign"]`` (with the .pub beside it)."""
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    out = {}
    for src in sorted(KEYS_DIR.glob("*.txt")):
        dst = folder / src.name
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o600)
        out[src.stem] = dst
    for src in sorted(KEYS_DIR.glob("*.sign")):
        dst = folder / src.name
        shutil.copyfile(src, dst)
        shutil.copyfile(str(src) + ".pub", str(dst) + ".pub")
        os.chmod(dst, 0o600)
        out[src.name] = dst
    return out


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run_cli(args: list[str], *, identity: Optional[Path] = None, input: Optional[str] = None, env: Optional[dict] = None) -> Result:
    runner = CliRunner()
    full_env = dict(env or {})
    if identity is not None:
        full_env["CONFIDE_IDENTITY"] = str(identity)
    r = runner.invoke(app, args, input=input, env=full_env, catch_exceptions=False)
    return Result(r.exit_code, r.stdout, r.stderr)


def run_on_terminal(args: list[str], *, env: dict, cwd: Optional[Path] = None, input: Optional[str] = None) -> Result:
    """``confide ARGS`` as a real process (``python -m vault_cli``) whose stdin and stdout are a terminal (a pty),
    as when a person types it; stderr stays a pipe. ``input`` is typed on the terminal. Its stdout is what the
    terminal showed, with the terminal's CRLF line ends turned back into LF."""
    import pty
    import selectors
    import sys

    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "vault_cli", *args], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                         env={**os.environ, **env}, cwd=cwd, close_fds=True, start_new_session=True)
    os.close(slave)
    if input:
        os.write(master, input.encode())
    shown, err = b"", b""
    sel = selectors.DefaultSelector()  # not select(): a long test run may hold descriptors beyond its limit
    sel.register(master, selectors.EVENT_READ)
    sel.register(p.stderr.fileno(), selectors.EVENT_READ)
    while sel.get_map():
        for key, _ in sel.select():
            fd = key.fd
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: every holder of the terminal's other end has closed it
                chunk = b""
            if not chunk:
                sel.unregister(fd)
            elif fd == master:
                shown += chunk
            else:
                err += chunk
    sel.close()
    os.close(master)
    p.stderr.close()
    code = p.wait()
    return Result(code, shown.decode().replace("\r\n", "\n"), err.decode())


@dataclass
class VaultFixture:
    root: Path
    keys: dict[str, Path]
    records: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, who: str = "amira", input: Optional[str] = None, env: Optional[dict] = None) -> Result:
        e = {"CONFIDE_VAULT": str(self.root)}
        if who + ".sign" in self.keys:
            e["CONFIDE_SIGNING_KEY"] = str(self.keys[who + ".sign"])
        e.update(env or {})
        return run_cli(list(args), identity=self.keys[who], input=input, env=e)

    def run_on_terminal(self, *args: str, who: str = "amira", env: Optional[dict] = None) -> Result:
        """As ``run``, but a real process on a terminal (``run_on_terminal``)."""
        e = {"CONFIDE_VAULT": str(self.root), "CONFIDE_IDENTITY": str(self.keys[who])}
        if who + ".sign" in self.keys:
            e["CONFIDE_SIGNING_KEY"] = str(self.keys[who + ".sign"])
        e.update(env or {})
        return run_on_terminal(list(args), env=e, cwd=self.root)

    def ok(self, *args: str, who: str = "amira", input: Optional[str] = None) -> Result:
        r = self.run(*args, who=who, input=input)
        assert r.exit_code == 0, f"confide {' '.join(args)} failed ({r.exit_code}): {r.stderr}"
        return r

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.root), *args], check=True, capture_output=True, text=True).stdout

    def commit_as(self, who: str, message: str = "tidy", *, action: Optional[str] = None, trailers: Optional[dict] = None,
                  key: Optional[Path] = None, sign: bool = True, paths: Optional[list] = None) -> str:
        """Commit the working tree's changes by hand, with plain git, as ``who`` (author and Confide-Holder),
        signed with their fixed signing key (or ``key``; unsigned with ``sign=False``): what a holder, or an
        attacker holding a holder's key, can do without confide. Returns the commit id."""
        env = dict(os.environ, GIT_AUTHOR_NAME=who, GIT_AUTHOR_EMAIL=f"{who}@holders.confide.invalid",
                   GIT_COMMITTER_NAME=who, GIT_COMMITTER_EMAIL=f"{who}@holders.confide.invalid")
        if os.environ.get("CONFIDE_NOW"):
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = os.environ["CONFIDE_NOW"]
        subprocess.run(["git", "-C", str(self.root), "add", "-A", *(["--", *paths] if paths else [])], check=True, env=env)
        lines = [message, ""]
        if action:
            lines.append(f"Confide-Action: {action}")
        for k, v in (trailers or {}).items():
            lines.append(f"{k}: {v}")
        lines.append(f"Confide-Holder: {who}")
        key = key or self.keys.get(who + ".sign")
        if sign and key is not None:
            cmd = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-S"]
        else:
            cmd = ["-c", "commit.gpgsign=false", "commit"]
        subprocess.run(["git", "-C", str(self.root), *cmd, "-q", "--allow-empty", "-F", "-"], input="\n".join(lines) + "\n",
                       check=True, env=env, capture_output=True, text=True)
        return self.head()

    def add_holder(self, name: str, role: str, *, who: str = "amira") -> Path:
        """Add a holder with a fresh key made as 'confide keygen' makes it (one SSH key that reads and signs);
        the key file is kept in ``self.keys[name]`` (and ``self.keys[name + '.sign']``)."""
        folder = Path(self.keys["amira"]).parent
        path = folder / f"{name}.key"
        if not path.exists():
            r = run_cli(["keygen", "--out", str(path)])
            assert r.exit_code == 0, r.stderr
        public = new_key_public(path)
        self.ok("holder", "add", name, "--role", role, "--recipient", public, who=who)
        self.keys[name] = path
        self.keys[name + ".sign"] = path
        return path

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def is_clean(self) -> bool:
        return self.git("status", "--porcelain", "--untracked-files=all") == ""

    def changed(self, rev: str = "HEAD") -> list[str]:
        """The files one commit changed, sorted."""
        return sorted(self.git("show", "--name-only", "--no-renames", "--format=", rev).split())

    def add_child(self, name: str, key_person: Optional[str] = None, **kw) -> str:
        args = ["child", "add", "--name", name]
        if key_person:
            args += ["--key-person", key_person]
        for k, v in kw.items():
            args += [f"--{k.replace('_', '-')}", v]
        rid = self.ok(*args).last_line
        self.records[name] = rid
        return rid

    def add_entry(self, record: str, text: str, level: str = "general", category: str = "observation", who: str = "amira", *extra: str) -> str:
        return self.ok("add", record, "--level", level, "--category", category, "--text", text, *extra, who=who).last_line


_TEMPLATES: dict[str, Path] = {}


def copy_vault(template: Path, root: Path, keys: dict[str, Path]) -> VaultFixture:
    """A vault is just a folder: copy one, then point its git config at the copy."""
    from vault_cli.services.sync import register_repo_config

    shutil.copytree(template, root, symlinks=True)
    register_repo_config(root)  # the allowed-signers path in .git/config is absolute
    v = VaultFixture(root, keys)
    assert v.is_clean()
    return v


@pytest.fixture
def vault(tmp_path, keys, tmp_path_factory) -> VaultFixture:
    """A vault made by the CLI: amira (manager), ben and cara (practitioners), dara (DSL); every commit
    signed with each holder's fixed SSH signing key, as a vault requires.

    Built through the CLI once per test session, then copied for each test.
    """
    if "base" not in _TEMPLATES:
        root = tmp_path_factory.mktemp("vault-template") / "vault"
        r = run_cli(["init", str(root), "--name", "Test Nursery", "--holder", "amira",
                     "--signing-key", signing_pub(keys, "amira")], identity=keys["amira"],
                    env={"CONFIDE_SIGNING_KEY": str(keys["amira.sign"])})
        assert r.exit_code == 0, r.stderr
        v = VaultFixture(root, keys)
        for name, role in HOLDERS.items():
            if name != "amira":
                v.ok("holder", "add", name, "--role", role, "--recipient", recipient_of(keys[name]),
                     "--signing-key", signing_pub(keys, name))
        _TEMPLATES["base"] = root
    return copy_vault(_TEMPLATES["base"], tmp_path / "vault", keys)
