"""SIGTERM and SIGHUP end a command the way Ctrl-C does, so that what it started ends with it.

Python's default for SIGTERM is to die at once: no `finally`, no `atexit`, so the temporary Prefect server of
`hygiene run` and the server of `hygiene serve` kept running as orphans. Raised as an interrupt instead, the
signal unwinds the command: Prefect records the run as crashed (the next run finishes what it left open), stops
its temporary server at exit, and `hygiene serve` stops its server. The exit code is the shell's 128 + signal.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
#: the exit code of a command Ctrl-C ended, which the CLI framework gives every interrupt
INTERRUPTED = 128 + signal.SIGINT


class Terminated(KeyboardInterrupt):
    """The command was asked to end by a signal; unwinds like Ctrl-C."""


_received: list[int] = []


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    raise Terminated(signal.Signals(signum).name)


def end_like_ctrl_c() -> None:
    """Install the handlers (from the main thread only, where Python delivers signals)."""
    if threading.current_thread() is threading.main_thread():
        for signum in ENDING_SIGNALS:
            signal.signal(signum, _raise_terminated)


def exit_code(code: int) -> int:
    """The command's exit code, an interrupt's told apart by the signal that caused it."""
    return 128 + _received[-1] if code == INTERRUPTED and _received else code
