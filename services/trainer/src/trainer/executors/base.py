"""The seam between the run queue and where training runs: launch, poll, cancel, adopt.

An executor runs ``python -m trainer.training`` for one attempt of one run (a local subprocess, a
Kubernetes Job) and tells the dispatcher when it ended. It never writes a run's state: the dispatcher
settles every attempt, so the local and Kubernetes paths end runs the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from common.contracts import TrainingSpec


@dataclass(frozen=True)
class Launch:
    """One attempt to start. ``token`` is the attempt's own credential (plaintext, never stored)."""

    spec: TrainingSpec
    attempt: int
    token: str


@dataclass(frozen=True)
class Finished:
    """An attempt that ended. ``returncode`` is None when the executor cannot know it (the process or Job
    is gone); ``reason`` says how it ended in words, ``log_tail`` is the end of its output."""

    run_id: str
    attempt: int
    returncode: int | None
    reason: str
    log_tail: str = ""


class Executor(Protocol):
    name: str
    # Whether any trainer instance can stop an attempt another one launched (a Job: yes; a local
    # process: only on the host, and by the instance, that started it).
    cancels_across_instances: bool

    def free_slots(self) -> int:
        """How many more attempts this executor takes now."""
        ...

    def on_attempt_end(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (on the event loop) as soon as an attempt is seen to end, so the dispatcher
        settles it at once instead of on its next tick. Registered once, by the dispatcher."""
        ...

    def tracked(self) -> dict[str, int]:
        """run id -> attempt of everything launched or adopted and not yet reported by ``poll``."""
        ...

    async def launch(self, launch: Launch) -> str:
        """Start the attempt; returns the executor's reference for it (a pid, a Job name)."""
        ...

    async def poll(self) -> list[Finished]:
        """Attempts that ended since the last call; each is reported once."""
        ...

    async def cancel(self, run_id: str, attempt: int, ref: str | None) -> None:
        """Stop an attempt, tracked or not (``ref`` finds one launched by an earlier instance)."""
        ...

    async def adopt(self, run_id: str, attempt: int, ref: str | None) -> bool:
        """Track an attempt launched by an earlier instance of this trainer; False when it is gone."""
        ...

    async def forget(self, run_id: str) -> None:
        """Remove whatever this executor keeps of a deleted run, on any instance: the local work dir (specs,
        logs), the Kubernetes Jobs of every attempt (with their pods and token Secrets). Idempotent."""
        ...

    async def shutdown(self) -> None: ...
