"""Run use cases: create, read, cancel, take progress events, finish. Plain functions, keyword-only."""

from __future__ import annotations

import asyncio
import logging
import uuid

from common.clients import DatasetClient, InferenceClient
from common.contracts import ModelCard, ModelRegister, RunCreate, RunOut, run_prefix
from common.errors import Conflict, NotFound, Unprocessable
from common.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.runs import repository as repo
from trainer.runs.models import Run
from trainer.training import WeightsMissing, check_available

log = logging.getLogger(__name__)

CARD_NAME = "model_card.json"
ONNX_NAME = "model.onnx"


def to_out(run: Run) -> RunOut:
    return RunOut.model_validate(run, from_attributes=True)


async def create_run(
    session: AsyncSession, *, owner: str, body: RunCreate, datasets: DatasetClient, store: ObjectStore
) -> Run:
    config = body.config
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
    run_id = uuid.uuid4().hex
    run = Run(
        id=run_id,
        owner=owner,
        dataset_id=dataset.id,
        task=body.task,
        status="queued",
        config=config.model_dump(mode="json"),
        attempts=0,
        progress={},
        metrics={},
        manifest_key=dataset.manifest_key,
        artifacts_prefix=run_prefix(run_id),
        created_at=repo.now(),
    )
    return await repo.add_run(session, run)


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
    return await repo.transition(
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


async def model_card_exists(run: Run, *, store: ObjectStore) -> bool:
    return await asyncio.to_thread(store.exists, run.artifacts_prefix + CARD_NAME)
