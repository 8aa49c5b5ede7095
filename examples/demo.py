#!/usr/bin/env python3
"""confide's demo: a fictional nursery's vault, built and read with the real CLI.

Run it with ``make demo`` (or ``.venv/bin/python examples/demo.py``). It builds
``./demo-vault`` from nothing (removing the previous one), with every key made by
``confide keygen`` into ``./demo-keys`` (a private 0700 folder next to the
vault, never committed), then shows what each key holder sees and the audit
trail in git.

Every step runs the real ``confide`` command (``python -m vault_cli``) in a
separate process, exactly as a manager would type it; nothing is simulated.
Children's names, entry text, third parties and reasons are given the safe way
(a YAML document on stdin, ``--from -``, shown as a here-document), never as
arguments, which would stay in shell history and in ``/proc/PID/cmdline``.
Everyone and everything in it is fictional.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

HERE = Path(__file__).resolve().parent.parent  # the repository: ./demo-vault and ./demo-keys live here
VAULT = HERE / "demo-vault"
KEYS = HERE / "demo-keys"
SETTING = "Sunny Days Nursery"

console = Console(highlight=False)
if not console.is_terminal:  # piped or saved to a file: one fixed width for the demo and for confide
    console = Console(highlight=False, width=int(os.environ.get("COLUMNS") or 120))
WIDTH = console.width

TODAY = dt.date.today()


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def at(n: int, hhmm: str) -> str:
    return f"{days_ago(n)}T{hhmm}"


# ---------------------------------------------------------------------------
# Running confide


class Failed(Exception):
    pass


def _env(who: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env["CONFIDE_VAULT"] = str(VAULT)
    env["COLUMNS"] = str(WIDTH)
    if who:
        env["CONFIDE_IDENTITY"] = str(KEYS / f"{who}.txt")
        signing = KEYS / f"{who}.ssh"
        if signing.exists():
            env["CONFIDE_SIGNING_KEY"] = str(signing)
    return env


def _shown(args: list[str]) -> str:
    """The command line as a person would type it, long keys shortened for reading."""
    text = shlex.join(["confide", *args])
    text = re.sub(r"(age1[0-9a-z]{6})[0-9a-z]{40,}", r"\1…", text)
    text = re.sub(r"(ssh-ed25519 AAAA[0-9A-Za-z+/]{6})[0-9A-Za-z+/=]{20,}", r"\1…", text)
    return text


# Options whose values are a child's or another person's details, or free text. Given as arguments they would
# stay in shell history and be readable by any local user in /proc/PID/cmdline while confide runs, so the demo
# gives them the safe way, as the README does: a YAML document on stdin (--from -), shown as a here-document.
PERSONAL = {"--name": "name", "--dob": "dob", "--text": "text", "--third-party": "third_parties",
            "--parents-not-informed": "parents_not_informed", "--reason": "reason", "--requester": "requester",
            "--relationship": "relationship", "--with": "with", "--what": "what", "--purpose": "purpose",
            "--how": "how", "--advice": "advice", "--notes": "notes", "--reasons": "reasons", "--no-meeting": "no_meeting",
            "--display-name": "display_name"}
SAFE_COMMANDS = (("child", "add"), ("add",), ("mark",), ("share",), ("request", "open"), ("request", "consent"),
                 ("request", "extend"), ("request", "close"), ("holder", "add"), ("holder", "remove"))


def _safely(args: tuple[str, ...]) -> tuple[list[str], dict]:
    """``args`` without their personal options, and those options' values as a --from document."""
    if not any(tuple(args[: len(c)]) == c for c in SAFE_COMMANDS):
        return list(args), {}
    kept: list[str] = []
    fields: dict = {}
    it = iter(args)
    for a in it:
        key = PERSONAL.get(a)
        if key is None:
            kept.append(a)
        elif key == "third_parties":
            fields.setdefault(key, []).append(next(it))
        else:
            fields[key] = next(it)
    return (kept + ["--from", "-"], fields) if fields else (kept, {})


def _document(fields: dict) -> str:
    return "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields.items())


def confide(*args: str, who: str | None = "amira", show: bool = True, display: bool = False, stdin: str | None = None,
            full: bool = False, ok: tuple[int, ...] = (0,)) -> str:
    """Run the real CLI as holder ``who``. Returns stdout's last line (an id, for commands that make one).

    show:    print the command line (dimmed) before running it
    display: let the command print straight to the screen, exactly as it would for you
    Personal values (``PERSONAL``) go on stdin as a --from document, never on the command line.
    """
    cmdline, fields = _safely(args)
    if fields:
        stdin = _document(fields)
    args = tuple(cmdline)
    if show or display:
        prompt = f"{who} $ " if who else "$ "
        heredoc = " <<'END'" if fields else ""
        console.print(Text(prompt, style="bold cyan") + Text(_shown(list(args)) + heredoc, style="dim" if not display else "bold"))
        if fields:
            console.print(Text(stdin + "END", style="dim"))
    cmd = [sys.executable, "-m", "vault_cli", *args]
    sys.stdout.flush()
    if display:
        r = subprocess.run(cmd, env=_env(who), stdout=None, stderr=subprocess.PIPE, text=True,
                           input=stdin if stdin is not None else "")
        out = ""
    else:
        r = subprocess.run(cmd, env=_env(who), capture_output=True, text=True, input=stdin if stdin is not None else "")
        out = r.stdout
    if r.returncode not in ok:
        console.print(f"[red]confide exited {r.returncode}:[/red]\n{escape(r.stderr)}")
        raise Failed("confide " + " ".join(args))
    if full:
        return out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(VAULT), *args], check=True, capture_output=True, text=True).stdout


# ---------------------------------------------------------------------------
# Presentation


STEP = 0


def chapter(title: str, explanation: str) -> None:
    global STEP
    STEP += 1
    console.print()
    console.rule(f"[bold]{STEP}. {title}[/bold]", style="cyan")
    console.print(Panel(_reflow(explanation), border_style="cyan", padding=(0, 1)))


def _reflow(text: str) -> str:
    """Join each paragraph's lines so rich wraps them to the screen; indented lines stay as they are."""
    out = []
    for para in text.strip().split("\n\n"):
        lines = para.splitlines()
        out.append("\n".join(lines) if any(ln.startswith("  ") for ln in lines) else " ".join(ln.strip() for ln in lines))
    return "\n\n".join(out)


def aside(text: str) -> None:
    console.print(Text("  ↳ ", style="yellow") + Text.from_markup(text.strip()))


def say(text: str) -> None:
    console.print(Text.from_markup(text.strip()))


# ---------------------------------------------------------------------------
# The story


PEOPLE = [
    # name, role, who they are
    ("amira", "manager", "Amira, setting manager"),
    ("dara", "dsl", "Dara, safeguarding lead"),
    ("ben", "practitioner", "Ben, Rainbow room"),
    ("cara", "practitioner", "Cara, Sunflower room"),
    ("vault-recovery", "recovery", "break-glass key in the safe"),
]

CHILDREN = [
    # key, name, dob, room, key person
    ("poppy", "Poppy Fairweather", "2022-05-14", "rainbow", "ben"),
    ("otis", "Otis Bramblewood", "2021-11-02", "sunflower", "cara"),
    ("zara", "Zara Quillfeather", "2022-08-30", "rainbow", "ben"),
    ("milo", "Milo Thistledown", "2021-09-19", "sunflower", "cara"),
    ("ivy", "Ivy Marchbank", "2023-01-07", "rainbow", "ben"),
]


def setup_keys() -> bool:
    chapter("Everyone makes their own key", """
Each person who may read records has a private key file that never leaves
their computer. 'confide keygen' makes one and prints its public half (the
"recipient", starting age1...), which is safe to share with the manager.
Here every key goes into ./demo-keys, a private folder next to the vault.
In real life each person keeps their own, and the recovery key is printed
and locked in the office safe.

Each person also has an SSH key that signs every change they make, so an
inspector can check who really made each change.""")
    for f, mark in ((VAULT, "confide.yaml"), (KEYS, "amira.txt")):
        if f.exists():
            if any(f.iterdir()) and not (f / mark).exists():  # never remove a folder this demo did not make
                console.print(f"[red]{f} exists and is not this demo's; move it away and run the demo again[/red]")
                raise Failed("setup")
            shutil.rmtree(f)
    KEYS.mkdir(mode=0o700)
    os.chmod(KEYS, 0o700)
    signing = shutil.which("ssh-keygen") is not None
    table = Table(title="Key holders' public keys", title_justify="left")
    for col in ("holder", "role", "who", "recipient (public)", "signs with"):
        table.add_column(col, no_wrap=(col in ("holder", "role")))
    for name, role, who in PEOPLE:
        recipient = confide("keygen", "--out", str(KEYS / f"{name}.txt"), who=None, show=(name == "amira"))
        sig = ""
        if signing and role != "recovery":
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@demo",
                            "-f", str(KEYS / f"{name}.ssh")], check=True, stdin=subprocess.DEVNULL)
            sig = "ssh-ed25519 key"
        PUBLIC[name] = recipient
        table.add_row(name, role, who, recipient[:16] + "…", sig)
    aside("(the same 'confide keygen' was run for the other four)")
    console.print(table)
    if not signing:
        aside("[yellow]ssh-keygen is not installed, so this demo's commits are not signed[/yellow]")
    return signing


PUBLIC: dict[str, str] = {}
RECORDS: dict[str, str] = {}


def ssh_pub(name: str) -> str:
    return (KEYS / f"{name}.ssh.pub").read_text().strip()


def setup_vault(signing: bool) -> None:
    chapter("Amira creates the vault and adds her team", f"""
A vault is an ordinary folder under git version control. Amira creates it
and becomes its first manager; then she adds each member of staff as a key
holder with a role. The role decides what they can read by default:

  manager, dsl     every level of every child's record
  practitioner     the general level of every child, plus everything about
                   the children they are key person for
  recovery         everything, but it is never used day to day

Folder: {VAULT}""")
    extra = ["--signing-key", ssh_pub("amira")] if signing else []
    confide("init", str(VAULT), "--name", SETTING, "--holder", "amira", *extra)
    for name, role, _ in PEOPLE[1:]:
        extra = ["--signing-key", ssh_pub(name)] if signing and role != "recovery" else []
        confide("holder", "add", name, "--role", role, "--recipient", PUBLIC[name], *extra)
    say("\nAnyone can list the key holders; it needs no key, because holders.yaml is not secret:")
    confide("holder", "list", display=True)


def setup_children() -> None:
    chapter("Five children join", """
Each child gets one record file. Its name is a random id such as c-7f3k9m2q:
nothing outside the encrypted parts names the child. The profile (name,
date of birth, room, parents, allergies...) is encrypted at the general level.""")
    for key, name, dob, room, kp in CHILDREN:
        RECORDS[key] = confide("child", "add", "--name", name, "--dob", dob, "--room", room, "--key-person", kp)
    name, dob, room, kp = next(c[1:] for c in CHILDREN if c[0] == "poppy")
    profile = {"name": name, "dob": dob, "room": room, "key_person": kp,
               "parents": [{"name": "Hazel Fairweather", "relationship": "mother", "parental_responsibility": True,
                            "phone": "01632 960001"}],
               "allergies": ["peanuts"], "dietary_needs": "no nuts of any kind"}
    say("\nThe rest of Poppy's profile, as a script gives it (on a terminal: 'confide child edit' opens an editor):")
    confide("child", "edit", RECORDS["poppy"], "--from", "-", stdin=json.dumps(profile, ensure_ascii=False, indent=1))
    table = Table(title="The children (all fictional)", title_justify="left")
    for col in ("record id", "child", "room", "key person"):
        table.add_column(col)
    for key, name, _, room, kp in CHILDREN:
        table.add_row(RECORDS[key], name, room, kp)
    console.print(table)


def setup_entries() -> dict[str, str]:
    chapter("Staff record what happens", """
Every entry has a level, a category and the answers the policy asks for:
does the parent regard it as confidential (--parent-view), and were the
parents told it was recorded (--parents-informed DATE), or, where telling
them could put the child at risk, why not (--parents-not-informed REASON).
Information that comes from someone outside the family home, such as a
health visitor, names them with --third-party, so that it can be left out
of a copy for parents if that person refuses consent.

Anyone may write at any level, even one they cannot read afterwards.""")
    p, o, z, m, i = (RECORDS[k] for k in ("poppy", "otis", "zara", "milo", "ivy"))
    E = {}
    say("[bold]general[/bold]: everyday observations, which every practitioner may read")
    E["sand"] = confide("add", p, "--level", "general", "--category", "observation",
                        "--text", "Built a sand castle “for the dragon” and told the story of it to two friends.",
                        "--parent-view", "not-confidential", "--at", at(7, "10:15"), who="ben")
    E["tearful"] = confide("add", p, "--level", "general", "--category", "observation",
                           "--text", "Quiet and tearful at drop-off; settled after a story with Ben.",
                           "--at", at(4, "08:40"), who="ben")
    E["water"] = confide("add", o, "--level", "general", "--category", "observation",
                         "--text", "Poured and measured at the water tray; counted cups to eight.", "--at", at(6, "11:00"),
                         who="cara")
    E["nap"] = confide("add", i, "--level", "general", "--category", "observation",
                       "--text", "Settling well; naps for about an hour after lunch.", "--at", at(5, "14:00"), who="ben")
    E["milo-paint"] = confide("add", m, "--level", "general", "--category", "observation",
                              "--text", "Painted with both hands and named every colour.", "--at", at(5, "11:00"), who="cara")
    E["diet"] = confide("add", z, "--level", "general", "--category", "dietary",
                        "--text", "Mother says Zara is now vegetarian; kitchen informed.", "--parent-view", "not-confidential",
                        who="amira")
    say("\n[bold]confidential[/bold]: injuries, family changes, sensitive discussions")
    E["bruise"] = confide("add", o, "--level", "confidential", "--category", "injury",
                          "--text", "Bruise on left shin, about 3 cm. Father says Otis fell off his scooter at the weekend.",
                          "--parents-informed", days_ago(4), "--at", at(4, "08:50"), who="cara")
    E["separation"] = confide("add", p, "--level", "confidential", "--category", "family-change",
                              "--text", "Mother shared that the parents have separated; Poppy is with her Monday to Thursday.",
                              "--parent-view", "confidential", "--parents-informed", days_ago(3), "--at", at(3, "17:30"),
                              who="ben")
    E["speech"] = confide("add", i, "--level", "confidential", "--category", "discussion",
                          "--text", "Health visitor advises a speech and language referral; parents agree.",
                          "--third-party", "Health visitor (community team)", "--parent-view", "not-confidential",
                          "--parents-informed", days_ago(2), "--at", at(2, "15:00"), who="amira")
    say("\n[bold]safeguarding[/bold]: child protection records. Cara records a concern about Poppy, who is not her key child")
    E["concern"] = confide("add", p, "--level", "safeguarding", "--category", "concern",
                           "--text", "Poppy said she was “scared of the shouting at Daddy’s”. Exact words noted; no questions asked.",
                           "--parents-not-informed", "informing parents may place the child at risk; DSL to decide",
                           "--at", at(2, "11:20"), who="cara")
    E["referral"] = confide("add", p, "--level", "safeguarding", "--category", "agency-contact",
                            "--text", "Discussed with the children’s social care duty team; advised to monitor and record.",
                            "--third-party", "Children’s social care duty team",
                            "--parents-not-informed", "advised by social care not to inform at this stage", who="dara")
    aside("Cara wrote that concern, but as a practitioner who is not Poppy's key person "
          "she cannot read it back: it is sealed to her. That is the policy working.")
    return E


def later_changes(E: dict[str, str]) -> None:
    chapter("Things learnt later: markings and corrections", """
Entries are never edited or deleted. What is learnt afterwards is added as a
marking, kept with the entry and shown with it: who, when, what changed, why.
An entry can also be moved to another level, with a reason; it is then
re-encrypted so that only the new level's readers can open it.
A mistake is put right with a new entry that points at the old one (--corrects).""")
    say("Poppy’s mother asks that notes about Poppy being upset stay with her key person and the managers. "
        "Ben moves his note from general to confidential:")
    confide("mark", E["tearful"], "--level", "confidential", "--parent-view", "confidential",
            "--parents-informed", days_ago(3), "--reason", "mother asked that this be kept confidential", who="ben")
    say("\nCara asks Otis’s father the next day whether he regards the injury note as confidential; he does not:")
    confide("mark", E["bruise"], "--parent-view", "not-confidential", who="cara")
    say("\nCara realises she got a detail wrong, and corrects it with a new entry:")
    confide("add", RECORDS["otis"], "--level", "confidential", "--category", "note", "--corrects", E["bruise"],
            "--text", "Correction: the bruise was on the RIGHT shin, not the left.",
            "--parents-informed", days_ago(1), "--at", at(1, "09:00"), who="cara")


def _shortened(lines: list) -> list:
    """A record file's lines with each armored block cut to its first and last line."""
    shown, skipping = [], False
    for ln in lines:
        if "BEGIN AGE ENCRYPTED FILE" in ln:
            shown.append(ln)
            skipping = True
            continue
        if skipping:
            if "END AGE ENCRYPTED FILE" in ln:
                shown.append(ln.replace("-----END AGE ENCRYPTED FILE-----", "  … encrypted …  -----END AGE ENCRYPTED FILE-----"))
                skipping = False
            continue
        shown.append(ln)
    return shown


def on_disk() -> None:
    chapter("What is actually stored", """
A child's record is two files: its head (who may read it, the level keys and
the profile) and its entries. Open them and you see their structure in plain
text, but every piece of content is an encrypted block (standard age
encryption). Each level of each record has its own key; that key is stored
once per person allowed to read the level, locked with that person's own key
("wrapped"). Reading an entry means unlocking your copy of the level key, then
the entry. Changing who may read a record rewrites only its head.""")
    for name, keep in ((f"{RECORDS['poppy']}.yaml", 30), (f"{RECORDS['poppy']}.entries.yaml", 12)):
        path = VAULT / "records" / name
        shown = _shortened(path.read_text().splitlines())
        excerpt = "\n".join(shown[:keep] + (["  … (more of the same)"] if len(shown) > keep else []))
        console.print(Panel(excerpt, title=f"records/{name} (excerpt, blocks shortened)", border_style="dim"))
    names = [n for _, n, *_ in CHILDREN] + ["Hazel", "scooter", "shouting"]
    history = git("log", "-p", "--all", "--format=%B")
    tree = "".join(p.read_text(errors="replace") for p in VAULT.rglob("*") if p.is_file() and ".git" not in p.parts)
    found = [n for n in names if n.lower() in history.lower() or n.lower() in tree.lower()]
    if found:
        say(f"[red]plaintext found: {found}[/red]")
        raise Failed("plaintext in the vault")
    say(f"Searched every file and the whole git history for the children's names and words from the entries "
        f"({', '.join(names)}): [green]not found anywhere[/green].")


def views() -> None:
    p = RECORDS["poppy"]
    chapter("What the manager sees", f"""
Amira is a manager: she reads every level of every record. This is exactly
what 'confide show' prints for her: the profile, then the chronology, each
entry with its level, the parents' view and whether they were informed, and
its markings. Record {p} is Poppy's.""")
    confide("show", p, display=True)

    chapter("What a practitioner sees", """
Cara is a practitioner, but not Poppy's key person. She sees Poppy's
profile and the general entries; everything else is listed as 'sealed',
with its id and level but no content. That includes the safeguarding concern
Cara wrote herself, and Ben's note that was moved to 'confidential'.
Cara's computer holds no key that opens those entries: this is
cryptography, not a setting that hides them.""")
    confide("show", p, who="cara", display=True)

    chapter("What the key person sees", """
Ben is Poppy's key person, so he reads every level of Poppy's record
(safeguarding included), but only the general level of other children,
such as Otis, whose key person is Cara.""")
    confide("show", RECORDS["otis"], who="ben", display=True)

    chapter("An inspector, and the list of children as each holder", """
'confide child list' shows every record with what the caller can read of its
profile. Profiles are at the general level, which all staff read, so Amira's
list and Cara's agree (Ben's and Dara's too); the difference between staff is
in the entries, shown above.

An inspector, Olu, is added with the auditor role, which reads nothing until
a manager grants it, and every auditor's grant must end (--until). Amira lets
Olu read the general level of Zara's record for two weeks. For every other
child Olu sees only 'sealed'.""")
    olu = confide("keygen", "--out", str(KEYS / "olu.txt"), who=None, show=False)
    confide("holder", "add", "olu", "--role", "auditor", "--recipient", olu)
    confide("grant", "olu", "--child", RECORDS["zara"], "--level", "general", "--until", (TODAY + dt.timedelta(days=14)).isoformat())
    say("")
    for who in ("amira", "cara", "olu"):
        confide("child", "list", who=who, display=True)

    chapter("Who can read what, and why", """
'confide access' answers that for one record from the plain structure of the
file, so it needs no key: each level, who holds a copy of its key, and why
(their role, being the key person, or a grant and until when). Here is
Zara's record, with Olu's grant. A new key generation starts whenever someone
loses access, so that they cannot read anything written afterwards.""")
    confide("access", RECORDS["zara"], display=True)

    chapter("What is still owed", """
'confide due' is the manager's list of what the policy says is still to do:
parents' requests to see their child's file and their deadlines, sensitive
entries for which nobody has recorded whether the parents were informed (or
why not), parents' views not yet asked, and grants about to end.""")
    confide("due", display=True)


def trail() -> None:
    fmt = "%h  %ad  %<(6,trunc)%an  %s%n         %(trailers:key=Confide-Action,key=Confide-Record,key=Confide-Entry,separator=%x20%x20)"
    signing = (KEYS / "amira.ssh").exists()
    signed = "and signed with their SSH key" if signing else "and would be signed with their SSH key (not here: ssh-keygen is missing)"
    chapter("The audit trail", f"""
Every change was one git commit, made by confide in the name of the person
who acted, {signed}. Commit messages name no
child: only record and entry ids. The structured lines at the end of each
message (trailers) let scripts and inspectors read the history with plain
git, with no confide and no key at all.""")
    console.print(Text("$ ", style="bold cyan") + Text(f"git log --date=format:'%d %b %H:%M' --format='{fmt}'", style="bold"))
    sys.stdout.flush()
    log = git("log", "--date=format:%d %b %H:%M", f"--format={fmt}")
    lines = log.rstrip("\n").splitlines()
    shown = lines[:24]
    console.print(Text("\n".join(shown)))
    if len(lines) > len(shown):
        console.print(Text(f"… {len(lines) - len(shown)} more lines, back to 'confide: create vault'", style="dim"))
    say("\n'confide audit' reads the same history for people, checks each signature, and fills in the level and "
        "category of entries the caller can decrypt. Here is its JSON for Poppy's record, shown as a table:")
    rows = json.loads(confide("audit", "--record", RECORDS["poppy"], "--json", full=True))
    table = Table(title=f"confide audit --record {RECORDS['poppy']} (as amira)", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    for col in ("when", "who", "action", "entry", "level", "category", "signed"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        when = dt.datetime.fromisoformat(r["date"]).strftime("%d %b %H:%M")
        sig = r["signature"]
        table.add_row(when, r["holder"], r["action"], r["entry"] or "", r["level"] or "", r["category"] or "",
                      f"[green]{sig}[/green]" if sig == "good" else f"[red]{sig}[/red]")
    console.print(table)
    say("\n'confide verify' checks the whole history: signatures, who was allowed to do what, "
        "that no entry was altered after it was written:")
    if signing:
        confide("verify", display=True)
    else:
        aside("Without ssh-keygen nothing was signed, so verify rightly reports every commit as unsigned (exit 9). "
              "Install OpenSSH's client tools and run the demo again to see a clean result.")
        confide("verify", display=True, ok=(0, 9))


def outro() -> None:
    signing_line = f"  export CONFIDE_SIGNING_KEY={KEYS}/cara.ssh\n" if (KEYS / "cara.ssh").exists() else ""
    chapter("Try it yourself", f"""
The vault is in {VAULT}, the keys in {KEYS}.
Act as any of the holders by pointing confide at their key, for example:

  export CONFIDE_VAULT={VAULT}
  export CONFIDE_IDENTITY={KEYS}/cara.txt
{signing_line}  .venv/bin/confide child list
  .venv/bin/confide show {RECORDS['otis']}
  .venv/bin/confide add {RECORDS['otis']} --level general --category observation   # asks for the text in $EDITOR

'make demo' again starts afresh. Everyone in this demo is fictional.""")


def main() -> int:
    console.print(Panel(
        "[bold]confide[/bold]: confidential records for an early-years setting, kept in an encrypted git vault\n\n"
        f"This demo builds a vault for a fictional nursery, {SETTING}, with the real confide "
        "commands, then shows what each member of staff can and cannot see, and the audit trail an "
        "inspector would look at. A line such as 'amira $ confide ...' is a command being run, and who runs it.",
        border_style="green"))
    try:
        signing = setup_keys()
        setup_vault(signing)
        setup_children()
        entries = setup_entries()
        later_changes(entries)
        on_disk()
        views()
        trail()
        outro()
    except Failed as exc:
        console.print(f"[red bold]the demo stopped at: {escape(str(exc))}[/red bold]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
