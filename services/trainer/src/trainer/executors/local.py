"""Runs each attempt in its own local process (``python -m trainer.training --spec FILE``), N at a time.

A worker exits when its trainer does (it watches its parent), so a restarted trainer never finds a live
orphan writing to a run: it requeues the run, and the entrypoint resumes from the epoch checkpoint.

While no attempt runs, one *warm* worker waits (``local_warm_worker``): started with ``--await-spec``,
its interpreter up and the quick run's imports done, it is handed the next attempt on stdin
(``trainer.training.warm_start``), so that attempt starts without them (about 1.5 s on 2 cores). It is
started only when the executor is idle, never beside a running attempt, and an attempt that finds none
starts a fresh process as before. Each attempt still has a process of its own: one run per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trainer.executors.base import Finished, Launch
from trainer.settings import Settings
from trainer.training.settings import RUN_TOKEN_ENV
from trainer.training.warm_start import AWAIT_SPEC

log = logging.getLogger(__name__)

EXIT_WITH_PARENT_ENV = "TRAINYARD_EXIT_WITH_PARENT"


@dataclass
class _Launched:
    run_id: str
    attempt: int
    process: asyncio.subprocess.Process
    log_path: Path


# Whatever built the trainer's environment, none of these reach a worker: it holds its attempt's token
# and reaches objects through the trainer with it (``trainer.runs.worker_objects``).
def _withheld(name: str) -> bool:
    return name.endswith(("INTERNAL_TOKEN", "STORE_ROOT", "STORE_BACKEND")) or "_S3_" in name


def training_env(settings: Settings) -> dict[str, str]:
    """The training process's environment: never the internal token nor any store setting or credential."""
    env = {k: v for k, v in os.environ.items() if not _withheld(k)}
    env.update(
        {
            "TRAINYARD_DATA_DIR": str(settings.data_dir.resolve()),
            "TRAINYARD_LOG_JSON": str(settings.log_json).lower(),
            "TRAINYARD_ENVIRONMENT": settings.environment,
            EXIT_WITH_PARENT_ENV: "1",
        }
    )
    if settings.weights_dir:
        env["TRAINYARD_TRAINER_WEIGHTS_DIR"] = str(settings.weights_dir.resolve())
    if settings.worker_threads:
        env["OMP_NUM_THREADS"] = str(settings.worker_threads)
        env["TRAINYARD_TRAINER_WORKER_THREADS"] = str(settings.worker_threads)
    return env


def process_is_training(pid: int, run_id: str) -> bool:
    """Its command line names the run's spec, or (a warm worker) its output is the run's attempt log."""
    try:
        if run_id.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            return True
        return run_id in os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        return False


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LocalExecutor:
    name = "local"
    cancels_across_instances = False

    def __init__(self, *, settings: Settings) -> None:
        self.settings = settings
        self.capacity = settings.local_workers
        self.command = list(settings.worker_command)
        self.work_dir = settings.data_dir.resolve() / "work"
        self._launched: dict[str, _Launched] = {}
        self._wake: Callable[[], None] | None = None
        self._exit_watches: set[asyncio.Task[None]] = set()
        self._warm: asyncio.subprocess.Process | None = None

    def on_attempt_end(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    async def _watch_exit(self, process: asyncio.subprocess.Process) -> None:
        await process.wait()
        if self._wake is not None:
            self._wake()

    def free_slots(self) -> int:
        return self.capacity - len(self._launched)

    def tracked(self) -> dict[str, int]:
        return {run_id: launched.attempt for run_id, launched in self._launched.items()}

    def pid_of(self, run_id: str) -> int | None:
        launched = self._launched.get(run_id)
        return launched.process.pid if launched else None

    async def launch(self, launch: Launch) -> str:
        spec_path, log_path = await asyncio.to_thread(self._write_spec, launch)
        process = await self._hand_to_warm(spec_path, log_path, launch.token)
        if process is None:
            out = await asyncio.to_thread(log_path.open, "ab")
            env = training_env(self.settings) | {RUN_TOKEN_ENV: launch.token}
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    *self.command,
                    "--spec",
                    str(spec_path),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                )
            finally:
                out.close()
        run_id = launch.spec.run_id
        self._launched[run_id] = _Launched(run_id, launch.attempt, process, log_path)
        watch = asyncio.create_task(self._watch_exit(process))
        self._exit_watches.add(watch)
        watch.add_done_callback(self._exit_watches.discard)
        log.info("run %s attempt %d started as pid %d", run_id, launch.attempt, process.pid)
        return str(process.pid)

    async def _hand_to_warm(
        self, spec_path: Path, log_path: Path, token: str
    ) -> asyncio.subprocess.Process | None:
        """The warm worker, now running this attempt; None when there is none alive to take it."""
        warm, self._warm = self._warm, None
        if warm is None or warm.returncode is not None or warm.stdin is None:
            return None
        handoff = {"spec": str(spec_path), "log": str(log_path), "token": token}
        try:
            warm.stdin.write(json.dumps(handoff).encode() + b"\n")
            await warm.stdin.drain()
            warm.stdin.close()
        except (BrokenPipeError, ConnectionResetError):  # it died meanwhile: a fresh process instead
            return None
        return warm

    async def _keep_warm(self) -> None:
        """One warm worker while nothing runs (never beside an attempt: it would take CPU from it)."""
        if not self.settings.local_warm_worker or self._launched:
            return
        if self._warm is not None and self._warm.returncode is None:
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        out = await asyncio.to_thread((self.work_dir / "warm-worker.log").open, "ab")
        try:
            self._warm = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.command,
                AWAIT_SPEC,
                stdin=asyncio.subprocess.PIPE,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=training_env(self.settings),
            )
        finally:
            out.close()

    def _write_spec(self, launch: Launch) -> tuple[Path, Path]:
        # The spec path names the run, so an orphan process is recognisable by its command line.
        run_dir = self.run_dir(launch.spec.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        spec_path = run_dir / f"spec-{launch.attempt}.json"
        spec_path.write_text(launch.spec.model_dump_json(indent=2))
        return spec_path, self.log_path(launch.spec.run_id, launch.attempt)

    def run_dir(self, run_id: str) -> Path:
        """``<data dir>/work/<run id>/``: the specs and logs of the run's attempts."""
        if not run_id or Path(run_id).name != run_id or run_id in (".", ".."):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.work_dir / run_id

    async def forget(self, run_id: str) -> None:
        # An attempt still running keeps writing to its unlinked log until the dispatcher stops it.
        await asyncio.to_thread(shutil.rmtree, self.run_dir(run_id), ignore_errors=True)

    def log_path(self, run_id: str, attempt: int) -> Path:
        return self.run_dir(run_id) / f"attempt-{attempt}.log"

    async def poll(self) -> list[Finished]:
        done = [x for x in self._launched.values() if x.process.returncode is not None]
        finished = []
        for launched in done:
            del self._launched[launched.run_id]
            code = launched.process.returncode
            reason = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
            tail = await asyncio.to_thread(log_tail, launched.log_path)
            finished.append(Finished(launched.run_id, launched.attempt, code, reason, tail))
        await self._keep_warm()
        return finished

    async def cancel(self, run_id: str, attempt: int, ref: str | None) -> None:
        launched = self._launched.get(run_id)
        if launched is not None and launched.attempt == attempt:
            if launched.process.returncode is None:
                # SIGKILL, not SIGTERM: it also stops a process that is itself stopped (SIGSTOP).
                launched.process.kill()
            return
        self._kill_orphan(run_id, ref)

    async def adopt(self, run_id: str, attempt: int, ref: str | None) -> bool:
        """A local process cannot be re-parented to a new trainer; an orphan still alive is stopped so the
        run can be requeued safely."""
        self._kill_orphan(run_id, ref)
        return False

    def _kill_orphan(self, run_id: str, ref: str | None) -> None:
        if not ref or not ref.isdigit() or not process_is_training(int(ref), run_id):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(ref), signal.SIGKILL)
        log.warning("killed orphan training process %s of run %s", ref, run_id)

    async def shutdown(self) -> None:
        for watch in list(self._exit_watches):
            watch.cancel()
        if self._warm is not None and self._warm.returncode is None:
            self._warm.kill()
            await self._warm.wait()
        self._warm = None
        for launched in self._launched.values():
            if launched.process.returncode is None:
                launched.process.terminate()
        for launched in self._launched.values():
            try:
                await asyncio.wait_for(launched.process.wait(), timeout=10)
            except TimeoutError:
                launched.process.kill()
        self._launched.clear()
