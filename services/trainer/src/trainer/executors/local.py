"""Runs each training in its own local process (``python -m trainer.training --spec FILE``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from common.contracts import TrainingSpec

from trainer.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Finished:
    run_id: str
    attempt: int
    returncode: int
    log_path: Path


@dataclass
class _Launched:
    run_id: str
    attempt: int
    process: asyncio.subprocess.Process
    log_path: Path


def training_env(settings: Settings) -> dict[str, str]:
    """The training process gets the store and reporting settings explicitly, whatever built ours."""
    env = dict(os.environ)
    env.update(
        {
            "TRAINYARD_STORE_BACKEND": settings.store_backend,
            "TRAINYARD_STORE_ROOT": str(settings.resolved_store_root.resolve()),
            "TRAINYARD_DATA_DIR": str(settings.data_dir.resolve()),
            "TRAINYARD_S3_ENDPOINT": settings.s3_endpoint,
            "TRAINYARD_S3_ACCESS_KEY": settings.s3_access_key,
            "TRAINYARD_S3_SECRET_KEY": settings.s3_secret_key,
            "TRAINYARD_S3_BUCKET": settings.s3_bucket,
            "TRAINYARD_S3_SECURE": str(settings.s3_secure).lower(),
            "TRAINYARD_INTERNAL_TOKEN": settings.internal_token,
            "TRAINYARD_ENVIRONMENT": settings.environment,
            "TRAINYARD_LOG_JSON": str(settings.log_json).lower(),
        }
    )
    if settings.s3_region:
        env["TRAINYARD_S3_REGION"] = settings.s3_region
    if settings.weights_dir:
        env["TRAINYARD_TRAINER_WEIGHTS_DIR"] = str(settings.weights_dir.resolve())
    if settings.worker_threads:
        env["OMP_NUM_THREADS"] = str(settings.worker_threads)
        env["TRAINYARD_TRAINER_WORKER_THREADS"] = str(settings.worker_threads)
    return env


def process_is_training(pid: int, run_id: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"trainer.training" in cmdline and run_id.encode() in cmdline


class LocalExecutor:
    name = "local"

    def __init__(self, *, settings: Settings) -> None:
        self.settings = settings
        self.capacity = settings.local_workers
        self.work_dir = settings.data_dir.resolve() / "work"
        self._launched: dict[str, _Launched] = {}

    def free_slots(self) -> int:
        return self.capacity - len(self._launched)

    def running_ids(self) -> list[str]:
        return list(self._launched)

    async def launch(self, spec: TrainingSpec, *, attempt: int) -> str:
        spec_path, log_path = await asyncio.to_thread(self._write_spec, spec, attempt)
        out = await asyncio.to_thread(log_path.open, "ab")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "trainer.training",
                "--spec",
                str(spec_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=training_env(self.settings),
            )
        finally:
            out.close()
        self._launched[spec.run_id] = _Launched(spec.run_id, attempt, process, log_path)
        log.info("run %s attempt %d started as pid %d", spec.run_id, attempt, process.pid)
        return str(process.pid)

    def _write_spec(self, spec: TrainingSpec, attempt: int) -> tuple[Path, Path]:
        run_dir = self.work_dir / spec.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        spec_path = run_dir / f"spec-{attempt}.json"
        spec_path.write_text(spec.model_dump_json(indent=2))
        return spec_path, run_dir / f"attempt-{attempt}.log"

    def collect_finished(self) -> list[Finished]:
        done = [launched for launched in self._launched.values() if launched.process.returncode is not None]
        for launched in done:
            del self._launched[launched.run_id]
        return [Finished(d.run_id, d.attempt, d.process.returncode, d.log_path) for d in done]

    async def stop(self, run_id: str) -> None:
        launched = self._launched.get(run_id)
        if launched and launched.process.returncode is None:
            launched.process.terminate()

    def kill_orphan(self, run_id: str, ref: str | None) -> None:
        """A process left by an earlier trainer instance: stop it before the run is requeued."""
        if not ref or not ref.isdigit() or not process_is_training(int(ref), run_id):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(ref), signal.SIGKILL)
        log.warning("killed orphan training process %s of run %s", ref, run_id)

    async def shutdown(self) -> None:
        for launched in self._launched.values():
            if launched.process.returncode is None:
                launched.process.terminate()
        for launched in self._launched.values():
            try:
                await asyncio.wait_for(launched.process.wait(), timeout=10)
            except TimeoutError:
                launched.process.kill()
        self._launched.clear()

    @staticmethod
    def log_tail(path: Path, lines: int = 20) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
