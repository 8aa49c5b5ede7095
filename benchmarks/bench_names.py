"""Names benchmark (issue 11 review): reading every child's name, date of birth and room at 1,000 children,
from the holder's encrypted names cache against decrypting every profile.

Run by hand (never by the tests)::

    .venv/bin/python benchmarks/bench_names.py [--runs 7] [--records 1000] [--vault DIR]

``child add`` (its duplicate check), ``child find``, the picker and shell
completion of record ids all start from ``services.children.names_and_births``.
This times it in process, as those commands run it, side by side in
interleaved runs, each with a fresh ``Session`` (no level key unwrapped yet,
as in a new process) on a synthetic vault (``benchmarks/synth.py``, 1,000
records of one entry each; the manager, who reads every profile, runs it):

- **full decrypt** (before): ``names_and_births(session, cached=False)``:
  every head read, every level key unwrapped, every profile decrypted (forked
  over the cores, as before the cache);
- **cache** (after): ``names_and_births(session)`` with the cache as the
  previous command left it: one age decryption of the cache, the records
  tree listed for the heads' blob ids, no profile opened;
- **cache, one changed**: as *cache*, after one record's head changed since
  the cache was written (a colleague's edit): that one profile is opened.

Medians in seconds and the ratios cache / full decrypt are printed (``--json``:
as JSON). With ``--vault DIR`` a vault built by an earlier run (kept there) is
used again; else one is built in a temporary folder (untimed) and removed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import synth  # noqa: E402
from vault_cli.services import children, names_cache, trust  # noqa: E402
from vault_cli.services.vault import Session, Vault  # noqa: E402


def _session(sv) -> Session:
    return Session.start(Vault.open(synth._config(sv.root, sv.keys[sv.manager])))


def _timed(sv, **kw) -> tuple[float, list]:
    t0 = time.perf_counter()
    with _session(sv) as s:
        rows = children.names_and_births(s, **kw)
    return time.perf_counter() - t0, rows


def _forget_one(sv) -> None:
    """The cache as it would be had one record's head changed since it was written (its entry points at
    another blob): the next read opens that one profile again."""
    with _session(sv) as s:
        path = names_cache.cache_path(trust.git_dir_of(sv.root), sv.manager)
        cache = names_cache.NamesCache(path, list(s.identities), sv.manager)
        rid = sorted(cache.records)[0]
        cache.put(rid, "0" * 40, cache.fields(rid))
        cache.save()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--records", type=int, default=1000)
    p.add_argument("--vault", type=Path, default=None, help="build the vault here (or reuse one built there)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    tmp = None
    if a.vault is not None and synth.load(a.vault) is not None:
        sv = synth.load(a.vault)
    else:
        if a.vault is None:
            tmp = Path(tempfile.mkdtemp(prefix="bench-names-"))
        root = a.vault or tmp / "vault"
        sv = synth.build_vault(root, records=a.records, entries=1, verify=True)
    try:
        times: dict[str, list] = {"full decrypt": [], "cache": [], "cache, one changed": []}
        _timed(sv)  # the cache as the last command left it
        for _ in range(a.runs):
            t, full = _timed(sv, cached=False)
            times["full decrypt"].append(t)
            t, cached = _timed(sv)
            times["cache"].append(t)
            assert cached == full, "the cache's answer differs from decrypting every profile"
            _forget_one(sv)
            t, changed = _timed(sv)
            times["cache, one changed"].append(t)
            assert changed == full
        med = {k: statistics.median(v) for k, v in times.items()}
        out = {"records": len(sv.records), "runs": a.runs, "median_seconds": med,
               "ratio_cache": med["cache"] / med["full decrypt"],
               "ratio_cache_one_changed": med["cache, one changed"] / med["full decrypt"]}
        if a.json:
            print(json.dumps(out, indent=2))
        else:
            print(f"names_and_births at {out['records']} records, {a.runs} interleaved runs, medians:")
            for k, v in med.items():
                print(f"  {k:<20} {v:8.3f} s")
            print(f"  ratio cache / full decrypt:             {out['ratio_cache']:.3f}")
            print(f"  ratio cache, one changed / full decrypt: {out['ratio_cache_one_changed']:.3f}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(str(tmp / "vault") + ".keys", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
