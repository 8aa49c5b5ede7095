"""Long output on a terminal goes through a pager, as git does it.

``with paged(enabled):`` around a command's output: when stdout is a terminal, paging is
enabled (no ``--no-pager``) and a pager is configured (``CONFIDE_PAGER``, else ``PAGER``,
else ``less`` if installed; an empty value means none, read by ``cli.environment``), what
the block prints is kept and, if it is longer than the terminal, handed to the pager
(through ``sh -c``, with ``LESS=FRX`` unless ``LESS`` is set, so colours pass and a short
page does not clear the screen). Otherwise it is printed as it is. Never when stdout is not
a terminal: pipes, files and scripts get the output itself.

The output is kept in memory and reaches the pager through a pipe, never a file.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import signal
import subprocess
import sys

from vault_cli.cli import environment


class _Kept(io.StringIO):
    """stdout while a paged block runs: kept, and still a terminal to those who ask (rich, ``on_terminal``)."""

    def isatty(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


@contextlib.contextmanager
def paged(enabled: bool = True):
    real = sys.stdout
    command = environment.pager() if enabled else None
    if command is None or not real.isatty():
        yield
        return
    kept = _Kept()
    sys.stdout = kept
    try:
        yield
    finally:
        sys.stdout = real
        text = kept.getvalue()
        if text.count("\n") < shutil.get_terminal_size().lines:
            real.write(text)
            real.flush()
        else:
            _page(command, text, real)


def _page(command: str, text: str, real) -> None:
    real.flush()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pager's, as in git
    try:
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=real.fileno(),
                                env=environment.pager_environment())
        try:
            assert proc.stdin is not None
            proc.stdin.write(text.encode("utf-8", "replace"))
            proc.stdin.close()
        except (BrokenPipeError, OSError):  # the reader quit before the end
            pass
        proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


__all__ = ["paged"]
