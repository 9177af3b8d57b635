"""Keeps the embedded platform's services running: a service that dies is restarted with backoff, and
why it died is logged. Only the launcher's own stop (Ctrl-C, SIGTERM) ends them.

When a service dies, whatever it had started (the trainer's training processes) is killed with it, and
the log says so: the restarted trainer finds those runs still marked running and requeues them from
their last checkpoint, so each run still ends exactly once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.embedded import Stack


def kill_group(pgid: int) -> bool:
    """SIGKILL whatever is left in a service's process group (after the service itself has ended);
    True when something was there."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for a child process (Linux): it gets SIGTERM when the process that started it dies,
    even by SIGKILL, so no service outlives its launcher unnoticed. Elsewhere a no-op. (Linux sends it
    when the *thread* that started the child ends: start services from a thread that lives as long.)"""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl(
            _PR_SET_PDEATHSIG, signal.SIGTERM
        )
    except (OSError, AttributeError):
        pass


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class _ServiceState:
    started_at: float
    failures: int = 0  # crashes in a row, each within ``stable_after_s`` of its start
    restart_at: float | None = None


@dataclass
class Supervisor:
    stack: Stack
    initial_backoff_s: float = 0.25
    max_backoff_s: float = 30.0
    stable_after_s: float = 60.0  # a service up this long is healthy again: the backoff starts over
    log: Callable[[str], None] = _stderr
    _states: dict[str, _ServiceState] = field(default_factory=dict)

    def poll(self, now: float | None = None) -> None:
        """One pass: note services that died, restart those whose backoff has passed."""
        now = time.monotonic() if now is None else now
        for name in list(self.stack.ports):
            state = self._states.setdefault(name, _ServiceState(started_at=now))
            if state.restart_at is not None:
                if now >= state.restart_at:
                    self.stack.start_service(name)
                    state.started_at, state.restart_at = now, None
                    self.log(f"{name}: restarted (pid {self.stack.processes[name].pid})")
                continue
            process = self.stack.processes.get(name)
            if process is None or process.poll() is None:
                continue
            uptime = now - state.started_at
            state.failures = state.failures + 1 if uptime < self.stable_after_s else 1
            delay = min(self.max_backoff_s, self.initial_backoff_s * 2 ** (state.failures - 1))
            state.restart_at = now + delay
            leftovers = kill_group(process.pid)
            tail = self.stack.log_tail(name)
            self.log(
                f"{name}: {describe_exit(process.returncode)} after {uptime:.0f} s; "
                + ("stopped the processes it had started (their runs are requeued); " if leftovers else "")
                + f"restarting in {delay:.1f} s (failure {state.failures} in a row)"
                + (f"; its last log lines:\n{tail}" if tail else "")
            )

    def run_forever(self, interval_s: float = 0.2) -> None:
        """Until KeyboardInterrupt (the launcher turns Ctrl-C and SIGTERM into one)."""
        while True:
            self.poll()
            time.sleep(interval_s)
