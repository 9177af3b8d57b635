"""The trainer prepares its default pretrained backbones in the object store once, in the background, at
start: a quick image run on CPU then starts without torch and exports nothing (``image/backbone_onnx.py``).

One mechanism for every deployment: ``make up``, a pod of the chart (local or Kubernetes executor) and a
trainer started by hand all do it on their first start against a store; every later start finds the
backbones prepared (one ``exists`` per backbone) and does nothing. Preparing needs torch, so it runs in
its own process (``python -m trainer.training.prepare``, which an operator may also run by hand), with
the trainer's own settings and store: never in the service process, whose event loop it would stall.

While it runs the dispatcher launches nothing (``ready``): a run queued meanwhile waits seconds for the
prepared backbone rather than importing torch and exporting the same graph beside it on the same cores.
Whatever happens (done, failed, timed out) ``ready`` is set: a run is never held longer than
``prepare_timeout_s``, and without a prepared backbone it takes the torch path as before, which also
prepares it. Writes are object first, metadata last, so a reader never sees a partial backbone; two
replicas starting together on a fresh store may both prepare it, and write the same objects.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Literal

from common.store import ObjectStore
from pydantic import BaseModel, Field

from trainer.settings import Settings

log = logging.getLogger(__name__)

PreparationState = Literal["checking", "preparing", "prepared", "failed", "no_weights"]


class BackboneStatus(BaseModel):
    backbone: str
    image_size: int
    state: PreparationState = "checking"
    detail: str = Field("", description="the prepared ONNX key, or why it failed")
    seconds: float | None = Field(None, description="how long preparing it took at this start")


class PreparationOut(BaseModel):
    ready: bool = Field(description="the preparation at this replica's start is over: runs are launched")
    backbones: list[BackboneStatus]


def prepared_key(store: ObjectStore, *, backbone: str, image_size: int) -> tuple[str | None, bool]:
    """(the backbone's prepared ONNX key or None without weights, whether it is prepared). Blocking."""
    from trainer.training.image.backbone_onnx import is_prepared, pretrained_onnx_key

    key = pretrained_onnx_key(backbone, input_size=image_size)
    return key, key is not None and is_prepared(store, key)


def prepare_env(settings: Settings) -> dict[str, str]:
    """The trainer's environment, plus its store and weights settings spelled out (they may have been
    given to the app rather than read from the environment): the command prepares into the same store."""
    own = "TRAINYARD_TRAINER_"
    env = dict(os.environ)
    fields = {
        "ENVIRONMENT": settings.environment,
        "DATA_DIR": str(settings.data_dir.resolve()),
        "STORE_BACKEND": settings.store_backend,
        "STORE_ROOT": str(settings.resolved_store_root.resolve()),
        "S3_ENDPOINT": settings.s3_endpoint,
        "S3_ACCESS_KEY": settings.s3_access_key,
        "S3_SECRET_KEY": settings.s3_secret_key,
        "S3_BUCKET": settings.s3_bucket,
        "S3_SECURE": str(settings.s3_secure).lower(),
        "S3_REGION": settings.s3_region or "",
        "WEIGHTS_DIR": str(settings.weights_dir.resolve()) if settings.weights_dir else "",
    }
    env.update({own + name: value for name, value in fields.items()})
    if not settings.s3_region:
        env.pop(own + "S3_REGION")
    return env


class BackbonePreparation:
    """``run`` once, as a background task of the trainer's lifespan; ``ready`` is set when it is over."""

    def __init__(
        self, *, settings: Settings, store: ObjectStore, on_ready: Callable[[], None] | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.on_ready = on_ready
        self.ready = asyncio.Event()
        self.statuses = [
            BackboneStatus(backbone=name, image_size=settings.prepare_image_size)
            for name in settings.prepare_backbones
        ]

    def out(self) -> PreparationOut:
        return PreparationOut(ready=self.ready.is_set(), backbones=self.statuses)

    async def run(self) -> None:
        try:
            for status in self.statuses:
                await self._prepare(status)
        finally:
            self.ready.set()
            if self.on_ready is not None:
                self.on_ready()

    async def _prepare(self, status: BackboneStatus) -> None:
        try:
            key, prepared = await asyncio.to_thread(
                prepared_key, self.store, backbone=status.backbone, image_size=status.image_size
            )
        except Exception as e:  # noqa: BLE001 - the store may be down: runs go on, the torch path prepares
            status.state, status.detail = "failed", f"could not read the store: {type(e).__name__}: {e}"
            log.exception("could not check backbone %s in the store", status.backbone)
            return
        if key is None:
            status.state, status.detail = (
                "no_weights",
                "a backbone without pretrained weights is never cached",
            )
            return
        status.detail = key
        if prepared:
            status.state = "prepared"
            return
        status.state = "preparing"
        log.info("preparing backbone %s (%d px) in the store: %s", status.backbone, status.image_size, key)
        started = time.monotonic()
        code, output = await self._run_prepare(status)
        status.seconds = round(time.monotonic() - started, 2)
        if code == 0:
            status.state = "prepared"
            log.info("prepared backbone %s in %.1f s", status.backbone, status.seconds)
        else:
            status.state, status.detail = "failed", output[-2000:]
            log.error("preparing backbone %s failed (%s):\n%s", status.backbone, code, output[-2000:])

    async def _run_prepare(self, status: BackboneStatus) -> tuple[int | None, str]:
        """The prepare command in its own process with the trainer's environment (its store settings)."""
        command = [sys.executable, "-m", "trainer.training.prepare", "--backbone", status.backbone]
        command += ["--image-size", str(status.image_size)]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=prepare_env(self.settings),
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout=self.settings.prepare_timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            return None, f"stopped after {self.settings.prepare_timeout_s:g} s (prepare_timeout_s)"
        except asyncio.CancelledError:  # the trainer stops: the half-done preparation goes with it
            process.kill()
            await process.wait()
            raise
        return process.returncode, out.decode(errors="replace")
