"""Opening a vault and acting in it as a holder.

``Vault`` is the repository with its settings and holders. ``Session`` is a
vault plus the identity of whoever runs the command; the acting holder is the
one whose recipient matches that identity (there is no ``--as``). A session
unwraps each level key at most once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vault_cli.adapters import config as config_vars
from vault_cli.adapters import crypto, gitlog
from vault_cli.adapters.config import Config
from vault_cli.adapters.gitstore import Git, ensure_repository
from vault_cli.adapters.store import Transaction
from vault_cli.adapters.timeutil import Clock
from vault_cli.errors import IdentityProblem, IntegrityError, NotFound, VaultStateError
from vault_cli.formats import envelope, signers, yamlio
from vault_cli.formats.policyfiles import holders_from_bytes, settings_from_bytes
from vault_cli.model import ids, policy
from vault_cli.model.holders import HOLDERS_FILE, Holder, Holders
from vault_cli.model.settings import SETTINGS_FILE, Settings
from vault_cli.services import signatures, trust

RECORDS_DIR = "records"


def find_root(config: Config) -> Path:
    """The vault: the one the configuration names (``--vault``, else ``CONFIDE_VAULT``), else walk up from the
    working directory."""
    if config.vault is not None:
        root = Path(config.vault.value).expanduser()
        if not (root / SETTINGS_FILE).is_file():
            raise NotFound(
                f"{root} is not a confide vault (no {SETTINGS_FILE}); it was given by {config.vault.source}",
                "check the path, or make a vault there with: confide init DIR --name NAME --holder YOU",
            )
        return root.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    raise NotFound(
        "no vault here: neither this folder nor any above it holds confide.yaml",
        f"pass {{0}} PATH or set {config_vars.VAULT}, or make one with: confide init DIR --name NAME --holder YOU",
        fields=("vault folder",),
    )


class Vault:
    """A vault as its verified commit holds it (``services.trust``): settings, holders, records.

    Opening one verifies the commits since this clone's checkpoint first; every
    read is from that commit's objects (``gitlog.CommitTree``), never from the
    working tree, which writes must leave equal to it.
    """

    def __init__(self, root: Path, *, identities: Optional[list] = None, config: Config = Config(),
                 objects: Optional[gitlog.CatFile] = None) -> None:
        """``objects``: a ``gitlog.CatFile`` of ``root`` the caller started (this vault closes it)."""
        self.root = root
        self.config = config  # the command's flags and environment (adapters.config)
        self.git: Git = ensure_repository(root)
        from vault_cli.adapters.store import recover_if_interrupted

        recover_if_interrupted(root, self.git)  # a killed command's half-written files are never read
        self.signing_identity: Optional[Path] = None  # the identity file, when it is also the signing key
        self.identities = identities  # the caller's, when known: what they can open is checked too
        # one 'git cat-file --batch' for the trust check and every tree this command reads (one process per
        # read tree cost ~3 ms of CPU each: services.trust._walk)
        self.objects = objects if objects is not None else gitlog.CatFile(root)
        # confide.yaml's parse, kept beside the trust checkpoint: no ruamel.yaml import when it has not changed
        yamlio.keep_parses_in(trust.state_dir(trust.git_dir_of(root)) / "parsed")
        try:
            self.load(trust.ensure_verified(root, self.git, clock=config.clock, identities=identities, cat=self.objects))
        except BaseException:
            self.close()  # a vault that fails to open leaves no reader behind
            raise
        self.reader = trust.reader_name(root, identities, self.objects)  # whose key checked it (None: nobody's)

    def close(self) -> None:
        """End the verified commit's reader (its 'git cat-file' process and pipes) and wait for any blobs
        still being stored in the background. Safe to call twice; reading again afterwards starts a new
        reader. ``with Vault(...) as v:`` closes it on leaving."""
        tree: Optional[gitlog.CommitTree] = getattr(self, "tree", None)
        if tree is not None:
            tree.close()
        objects: Optional[gitlog.CatFile] = getattr(self, "objects", None)
        if objects is not None:
            objects.close()  # the reader the trees share (it starts again if asked again)
        self.git.wait_background()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def load(self, commit: str) -> None:
        previous: Optional[gitlog.CommitTree] = getattr(self, "tree", None)
        self.commit = commit
        self.tree = gitlog.CommitTree(self.root, commit, cat=self.objects)
        if previous is not None:
            previous.close()  # else its 'git cat-file' lives as long as this process (refresh, a sync's fast-forward)
        self._heads: dict = {}
        self._ids: Optional[list] = None
        try:
            self.settings = settings_from_bytes(self.read(SETTINGS_FILE))
            self.holders = holders_from_bytes(self.read(HOLDERS_FILE))
        except FileNotFoundError as exc:
            raise IntegrityError(f"the vault's verified commit {commit[:12]} has no {exc.args[0]}",
                                 "run 'confide verify' and restore the vault from a backup") from None

    def refresh(self) -> None:
        """Under the vault's lock: if another command committed while we waited, act on its commit."""
        if self.git.head() != self.commit:
            self.load(trust.ensure_verified(self.root, self.git, clock=self.config.clock, identities=self.identities,
                                            cat=self.objects))

    @classmethod
    def open(cls, config: Config) -> Vault:
        return cls(find_root(config), config=config)

    def read(self, path: str) -> bytes:
        """A vault file as the verified commit holds it (FileNotFoundError when it has none)."""
        if path in self._heads:
            return self._heads[path]
        data = self.tree.read(path)
        if data is None:
            raise FileNotFoundError(path)
        return data

    # -- records ---------------------------------------------------------------
    def record_ids(self) -> list[str]:
        if self._ids is None:
            out = []
            for name in self.tree.list(RECORDS_DIR):
                if name.endswith(envelope.HEAD_SUFFIX) and not name.endswith(envelope.ENTRIES_SUFFIX) \
                        and ids.RECORD_RE.fullmatch(name[:-5]):
                    out.append(name[:-5])
            self._ids = sorted(out)
        return self._ids

    def head_blobs(self) -> dict[str, str]:
        """{record: blob id of its head file} at the verified commit, in record order: what changes whenever
        anything in the head does (``services.names_cache`` is keyed by it)."""
        ids_ = self.record_ids()
        out = {}
        for rid in ids_:
            blob = self.tree.blob_id(self.record_source(rid))
            if blob is None:  # the listing was read by an earlier reader of this commit: list it again
                self.tree.list(RECORDS_DIR)
                blob = self.tree.blob_id(self.record_source(rid))
            if blob is not None:
                out[rid] = blob
        return out

    def record_source(self, record_id: str) -> str:
        return envelope.head_source(record_id)

    def record_changed_since(self, record_id: str, commit: str) -> bool:
        """Whether the record's files differ between ``commit`` and the verified commit (someone wrote to it in
        between, e.g. while a command waited for the lock). One 'git diff-tree', only when the commits differ."""
        if commit == self.commit:
            return False
        head = self.record_source(record_id)
        return bool(gitlog.run(self.root, "diff-tree", "-r", "--name-only", commit, self.commit, "--", head,
                               envelope.entries_source(head)).strip())

    def record_path(self, record_id: str) -> Path:
        """The record's head file in the working tree (its entries are beside it: ``envelope.entries_path``)."""
        return envelope.record_path(self.root, record_id)

    def has_record(self, record_id: str) -> bool:
        if self._ids is not None:
            return record_id in self._ids
        source = self.record_source(record_id)
        if source not in self._heads:
            data = self.tree.read(source)
            if data is None:
                return False
            if len(self._heads) > 64:
                self._heads.clear()
            self._heads[source] = data
        return True

    def check_record_id(self, record_id: str) -> str:
        if not ids.RECORD_RE.fullmatch(record_id or ""):
            raise NotFound(  # not repeated: what was typed there may be a child's name
                "that is not a record id",
                "record ids look like c-7f3k9m2q; find one by name with: confide child find (the name on stdin), "
                "or list them with: confide child list",
            )
        if not self.has_record(record_id):
            raise NotFound(f"no record {record_id} in this vault", "list the records with: confide child list")
        return record_id

    def envelope(self, record_id: str, *, entries: bool = True) -> envelope.Envelope:
        self.check_record_id(record_id)
        return envelope.Envelope.read(self.record_source(record_id), self.read, entries=entries)

    def find_entry_record(self, entry_id: str) -> str:
        """Which record holds an entry: ``git grep`` (C, fast) in the verified commit's entries files."""
        if not ids.ENTRY_RE.fullmatch(entry_id or ""):
            raise NotFound(f"'{entry_id}' is not an entry id", "entry ids look like e-01jd3x8k2m5q9w; see them with: confide show RECORD")
        needle = f"- id: {entry_id}"
        # The working tree (which writes keep equal to the verified commit) is only a hint, ~10x faster
        # to search than the commit's objects; a hit is confirmed in the verified commit itself.
        hits = [p[0] for p in map(envelope.record_of, self.git.grep_files(needle, RECORDS_DIR)) if p and p[1] == "entries"]
        confirmed = [rid for rid in hits if needle.encode() + b"\n" in (self.tree.read(envelope.entries_source(self.record_source(rid))) or b"")]
        if len(hits) == 1 and confirmed == hits:
            return hits[0]
        hits = self.git.grep_files(needle, RECORDS_DIR, commit=self.commit)
        hits = [parsed[0] for parsed in map(envelope.record_of, hits) if parsed and parsed[1] == "entries"]
        if len(hits) != 1:
            if not hits:
                raise NotFound(f"no entry {entry_id} in this vault", "see a record's entries with: confide show RECORD")
            raise IntegrityError(f"entry {entry_id} appears in {len(hits)} records", "run 'confide verify'")
        return hits[0]

    def transaction(self) -> Transaction:
        """A write built on this verified state: under the lock the vault is brought up to HEAD (verifying
        what another process committed meanwhile), each commit is signed by the rules of the state it builds
        on, and moves this clone's verified checkpoint."""
        return Transaction(self.root, self.git, self.config, base=lambda: self.commit, refresh=self.refresh,
                           prepare=self._sign_plan, committed=self._committed)

    def _sign_plan(self, holder: str, tx: Transaction):
        # Signing follows the verified state this commit builds on, not the command's changed copies of it.
        settings = settings_from_bytes(self.read(SETTINGS_FILE))
        holders = holders_from_bytes(self.read(HOLDERS_FILE))
        if HOLDERS_FILE in tx.files and self.tree.read(signers.ALLOWED_SIGNERS_FILE) is not None:
            # a vault made before allowed_signers moved into .git keeps its tracked copy in step
            tx.files[signers.ALLOWED_SIGNERS_FILE] = signers.allowed_signers_for(tx.files[HOLDERS_FILE])
        if SETTINGS_FILE in tx.files:
            after = settings_from_bytes(tx.files[SETTINGS_FILE])
            if policy.signatures_required(after, holders):
                settings = after  # a commit that makes signatures required is itself signed
        return signatures.prepare(settings, holders, holder, self.config, identity_path=self.signing_identity)

    def _committed(self, before: Optional[str], after: str, tx: Transaction) -> None:
        trust.advance(self.root, before, after, holders_changed=HOLDERS_FILE in tx.files, reader=self.reader)
        self.load(after)


# ---------------------------------------------------------------------------
# Identities


def default_identity_path(config: Config) -> Path:
    return (config.config_home or Path.home() / ".config") / "confide" / "identity.txt"


def identity_location(config: Config) -> tuple[Path, str]:
    """The identity file, and how it was given (``--identity``, ``CONFIDE_IDENTITY``, "the default location")."""
    if config.identity is not None:
        return Path(config.identity.value).expanduser(), config.identity.source
    return default_identity_path(config), "the default location"


def load_identities(config: Config, passphrase: Optional[Callable] = None) -> tuple[list[crypto.Identity], Path]:
    """The identities in the configured identity file; a protected one asks ``passphrase`` (else the
    configuration's ``passphrase``) for its passphrase."""
    path, how = identity_location(config)
    if config.identity is not None and crypto.looks_like_secret(config.identity.value):
        # The key itself was pasted where its file name belongs: say so, never print it.
        raise IdentityProblem(
            f"{how} was given a secret key itself, not the name of a file holding one; it was not printed",
            "save the key in a file only you can read (chmod 600 FILE) and pass that: {0} FILE",
            "a secret key pasted on a command line may be in your shell history: consider it exposed and make a new one",
            fields=("identity file",),
        )
    if not path.exists() and how == "the default location":
        raise IdentityProblem(
            f"no identity given and none at {path}",
            f"pass {{0}} FILE or set {config_vars.IDENTITY}; or make one there with: confide keygen",
            fields=("identity file",),
        )
    return crypto.load_identity_file(str(path), passphrase or config.passphrase), path


@dataclass
class Session:
    vault: Vault
    identities: list[crypto.Identity]
    identity_path: Path
    actor: Optional[Holder]
    _level_keys: dict = field(default_factory=dict)
    # (commit, earliest grant end, records pending a re-key) as services.upkeep last worked it out in this session
    expiry_base: Optional[tuple] = None

    @classmethod
    def open(cls, config: Config, passphrase: Optional[Callable] = None) -> Session:
        """The vault (``--vault``, else found) and the caller: their identity is loaded first, so that the
        verification the vault makes before anything else also checks the blocks their key opens."""
        root = find_root(config)
        # git's reader starts now, in a repository (Vault says what is wrong with any other folder): its
        # start-up overlaps loading the identity; the Vault takes it over and closes it
        objects = gitlog.CatFile(root)
        if (root / ".git" / "HEAD").is_file():
            objects.start()
        try:
            idents, _path = load_identities(config, passphrase)
            vault = Vault(root, identities=idents, config=config, objects=objects)
        except BaseException:
            objects.close()
            raise
        return cls.start(vault, identities=idents)

    @classmethod
    def start(cls, vault: Vault, passphrase: Optional[Callable] = None, *,
              identities: Optional[list] = None) -> Session:
        """The caller of ``vault``, by the identity its configuration names (``identities``: already loaded)."""
        if identities is not None:
            idents, path = identities, identity_location(vault.config)[0]
        else:
            idents, path = load_identities(vault.config, passphrase)
        vault.signing_identity = path
        actor = None
        for ident in idents:
            actor = vault.holders.by_recipient(ident.recipient)
            if actor:
                break
        return cls(vault, idents, path, actor)

    def close(self) -> None:
        """``Vault.close``; ``with Session.open(...) as s:`` closes it on leaving."""
        self.vault.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def config(self) -> Config:
        return self.vault.config

    @property
    def clock(self) -> Clock:
        return self.vault.config.clock

    @property
    def settings(self) -> Settings:
        return self.vault.settings

    @property
    def holders(self) -> Holders:
        return self.vault.holders

    def require_actor(self) -> Holder:
        if self.actor is None:
            raise IdentityProblem(
                f"the identity in {self.identity_path} is not an active holder of this vault",
                "use your own identity ({0} FILE), or ask a manager to add you: confide holder add NAME --role ROLE --recipient age1...",
                fields=("identity file",),
            )
        policy.require_actor_may_act(self.settings, self.actor)
        return self.actor

    def require_reader(self) -> Holder:
        """Reading needs an active holder's identity (a recovery key reads too, though it never acts).

        A stranger's key opens nothing, so rather than show them a vault of 'sealed'
        rows, say plainly that the identity is the wrong one.
        """
        if self.actor is None:
            raise IdentityProblem(
                f"the identity in {self.identity_path} is not an active holder of this vault",
                "use your own identity ({0} FILE), or ask a manager to add you: confide holder add NAME --role ROLE --recipient age1...",
                fields=("identity file",),
            )
        return self.actor

    def require_writer(self) -> Holder:
        actor = self.require_actor()
        policy.require_writer(self.settings, actor)
        return actor

    @property
    def reader_name(self) -> Optional[str]:
        """Whose wrapped copies this identity opens (readers need not be able to act)."""
        return self.actor.name if self.actor else None

    def level_identity(self, env: envelope.Envelope, key_id: str) -> Optional[crypto.Identity]:
        """The level key, if this session's holder has a copy; unwrapped once per process."""
        cache_key = (env.record, key_id)
        if cache_key in self._level_keys:
            return self._level_keys[cache_key]
        key = env.key(key_id)
        result = None
        name = self.reader_name
        copy = key.copy_for(name) if name else None
        if copy is not None:
            for ident in self.identities:
                try:
                    result = envelope.unwrap_level_key(
                        copy, ident, record=env.record, key=key, source=env.source
                    )
                    break
                except crypto.NotForThisKey:
                    continue
        self._level_keys[cache_key] = result
        return result


__all__ = ["Vault", "Session", "find_root", "load_identities", "default_identity_path", "VaultStateError"]
