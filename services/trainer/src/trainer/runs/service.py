"""Run use cases: create, read, cancel, take progress events, finish. Plain functions, keyword-only."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid

from common.clients import DatasetClient, InferenceClient
from common.contracts import ModelCard, ModelRegister, RunCreate, RunOut, run_prefix
from common.errors import BadRequest, Conflict, NotFound, Unprocessable
from common.events import StateEvent
from common.imagenet_config import ImageNetRunConfig
from common.store import ObjectStore
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.admin import maintenance
from trainer.executors.base import Executor
from trainer.runs import event_log, live
from trainer.runs import repository as repo
from trainer.runs.models import Run
from trainer.settings import Settings
from trainer.training import WeightsMissing, check_available

log = logging.getLogger(__name__)

CARD_NAME = "model_card.json"
ONNX_NAME = "model.onnx"


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


_OUT_FIELDS = tuple(name for name in RunOut.model_fields if name not in live.VIEW_FIELDS)


def to_out(run: Run, *, queue_position: int | None = None) -> RunOut:
    fields = {name: getattr(run, name) for name in _OUT_FIELDS if hasattr(run, name)}
    return RunOut.model_validate(
        {
            **fields,
            **live.view(run, repo.now()),
            "queue_position": queue_position,
            "last_event_id": run.event_seq or 0,
        }
    )


async def out_with_position(session: AsyncSession, run: Run) -> RunOut:
    return to_out(run, queue_position=await repo.queue_position(session, run))


def _same_request(run: Run, body: RunCreate) -> bool:
    return (run.dataset_id, run.task, run.config) == (
        body.dataset_id,
        body.task,
        body.config.model_dump(mode="json"),
    )


async def _replay(session: AsyncSession, *, owner: str, key: str, body: RunCreate) -> Run | None:
    """The run an earlier request with this Idempotency-Key created, if any."""
    existing = await repo.get_by_idempotency_key(session, owner=owner, key=key)
    if existing is not None and not _same_request(existing, body):
        raise Conflict(
            f"Idempotency-Key {key!r} was used for a different run ({existing.id}); "
            "use a new key for a new run",
            code="idempotency_key_reused",
        )
    return existing


async def create_run(
    session: AsyncSession,
    *,
    owner: str,
    body: RunCreate,
    datasets: DatasetClient,
    store: ObjectStore,
    settings: Settings,
    idempotency_key: str | None = None,
) -> tuple[Run, bool]:
    """(run, created). With an ``Idempotency-Key``, a repeat of the same request (even concurrent)
    answers with the run the first one created; the (owner, key) unique index decides the race.
    During maintenance only such a repeat is answered: a new run is refused (503, Retry-After)."""
    key = idempotency_key
    if key is not None:
        if not IDEMPOTENCY_KEY.match(key):
            raise BadRequest("Idempotency-Key must be 1 to 128 printable ASCII characters without spaces")
        if (existing := await _replay(session, owner=owner, key=key, body=body)) is not None:
            return existing, False
    await maintenance.refuse_new_runs(session, settings=settings)
    config = body.config
    if isinstance(config, ImageNetRunConfig):
        # Data named by the run, not uploaded: the training process checks the prepare Job verified it.
        dataset_id, manifest_key = config.data, ""
    else:
        dataset = await datasets.get_dataset(owner=owner, dataset_id=body.dataset_id)
        if dataset.verdict == "rejected" or not dataset.manifest_key:
            raise Unprocessable(f"data set {dataset.id} was rejected at upload; fix it and upload it again")
        if dataset.kind != body.task:
            raise Unprocessable(
                f"data set {dataset.id} holds {dataset.kind} data; create a {dataset.kind} run for it"
            )
        try:
            await asyncio.to_thread(check_available, config, store=store)
        except WeightsMissing as e:
            raise Unprocessable(e.message, code="weights_missing") from e
        dataset_id, manifest_key = dataset.id, dataset.manifest_key
    run_id = uuid.uuid4().hex
    run = Run(
        id=run_id,
        owner=owner,
        dataset_id=dataset_id,
        task=body.task,
        status="queued",
        config=config.model_dump(mode="json"),
        attempts=0,
        progress={"type": "phase", "phase": "queued"},
        phase="queued",
        phase_started_at=repo.now(),
        event_seq=1,
        metrics={},
        manifest_key=manifest_key,
        artifacts_prefix=run_prefix(run_id),
        created_at=repo.now(),
        idempotency_key=key,
    )
    try:
        async with session.begin_nested():
            await repo.add_run(session, run)
            await event_log.append(
                session, run_id=run_id, last_seq=1, events=[StateEvent(status="queued")], at=run.created_at
            )
    except IntegrityError:
        if key is None or (existing := await _replay(session, owner=owner, key=key, body=body)) is None:
            raise
        return existing, False
    return run, True


async def get_owned(session: AsyncSession, *, owner: str, run_id: str) -> Run:
    run = await repo.get_owned_run(session, owner=owner, run_id=run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}; list your runs with GET /api/runs")
    return run


async def cancel_run(session: AsyncSession, *, owner: str, run_id: str) -> Run:
    """A queued run ends here; a running one ends here too (compare-and-set on its attempt), and the
    dispatcher that runs it stops its process on its next tick."""
    run = await get_owned(session, owner=owner, run_id=run_id)
    if run.status in repo.TERMINAL:
        raise Conflict(f"run {run_id} already {run.status}; nothing to cancel")
    if run.status == "queued":
        done = await repo.cancel_queued(session, run_id=run_id)
    else:
        done = await repo.transition(
            session, run_id=run_id, attempt=run.attempts, status="cancelled", error="cancelled by the user"
        )
    run = await get_owned(session, owner=owner, run_id=run_id)
    await session.refresh(run)
    if not done and run.status != "cancelled":
        raise Conflict(f"run {run_id} changed state to {run.status} meanwhile; look at it again")
    return run


async def purge_run(
    session: AsyncSession, run: Run, *, store: ObjectStore, inference: InferenceClient, executor: Executor
) -> None:
    """Remove everything derived from a run that is no longer running: its model's registration with the
    inference service (its tokens stop working), every object under its prefix (checkpoints, artifacts,
    the model files), what its executor kept (a local work dir, Kubernetes Jobs), then its row and
    attempts (at the caller's commit). Idempotent: if anything fails midway the row is still there and a
    second call finishes the job."""
    if run.artifacts_prefix != run_prefix(run.id):  # never a wider prefix than the run's own
        raise RuntimeError(f"run {run.id} has an unexpected artifacts prefix {run.artifacts_prefix!r}")
    if run.model_id:
        await inference.delete_model(owner=run.owner, model_id=run.model_id)
    await asyncio.to_thread(store.delete_prefix, run.artifacts_prefix)
    await executor.forget(run.id)
    await repo.delete_run(session, run)


async def settle_succeeded(
    session: AsyncSession, run: Run, *, attempt: int, store: ObjectStore, inference: InferenceClient
) -> bool:
    """Read the model card the attempt wrote, register the model (idempotent per run), close the run.

    Works from the stored artifacts alone, so a run whose final event was lost is finished the same way.
    """
    card_key = run.artifacts_prefix + CARD_NAME
    raw = await asyncio.to_thread(store.get_bytes, card_key)
    card = ModelCard.model_validate_json(raw)
    model = await inference.register_model(
        owner=run.owner,
        body=ModelRegister(
            run_id=run.id,
            name=f"run-{run.id[:8]}",
            onnx_key=run.artifacts_prefix + ONNX_NAME,
            card_key=card_key,
        ),
    )
    settled = await repo.transition(
        session,
        run_id=run.id,
        attempt=attempt,
        status="succeeded",
        model_id=model.id,
        val_accuracy=card.val_accuracy,
        metrics={**run.metrics, **card.metrics},
        progress={**run.progress, "type": "succeeded"},
        error=None,
    )
    if not settled:
        # Another instance settled it (registration is idempotent per run: the same model), or it was
        # cancelled or deleted meanwhile: then no run points at the model, and nobody may keep serving it.
        current = await repo.get_run(session, run_id=run.id)
        if current is None or current.model_id != model.id:
            await inference.delete_model(owner=run.owner, model_id=model.id)
    return settled


async def model_card_exists(run: Run, *, store: ObjectStore) -> bool:
    return await asyncio.to_thread(store.exists, run.artifacts_prefix + CARD_NAME)
