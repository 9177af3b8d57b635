"""Removes what a failed upload or delete left behind.

- Object prefixes ``datasets/<id>/`` and ``features/<id>/`` (the trainer's feature cache of the data
  set) with no row: an upload that crashed between writing its objects and committing its row, a delete
  whose object removal failed, or features a run wrote while its data set was being deleted. Ids carry
  their creation time, so prefixes younger than the grace period (an upload may be about to commit) are
  left alone.
- Scratch directories of uploads that died mid-request.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

from common.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dataset.datasets import repository
from dataset.datasets.service import dataset_id_age_s

log = logging.getLogger(__name__)

ROOT = "datasets/"
ROOTS = (ROOT, "features/")


def _orphan_candidates(store: ObjectStore, *, grace_s: float, now: float) -> set[str]:
    candidates: set[str] = set()
    for root in ROOTS:
        for key in store.list(root):
            dataset_id = key[len(root) :].split("/", 1)[0]
            age = dataset_id_age_s(dataset_id, now=now)
            if age is not None and age > grace_s:
                candidates.add(dataset_id)
    return candidates


async def sweep_orphans(
    *,
    store: ObjectStore,
    sessionmaker: async_sessionmaker[AsyncSession],
    grace_s: float,
    now: float | None = None,
) -> list[str]:
    """Delete object prefixes older than ``grace_s`` that no row refers to; returns their ids."""
    now = time.time() if now is None else now
    candidates = await asyncio.to_thread(_orphan_candidates, store, grace_s=grace_s, now=now)
    if not candidates:
        return []
    async with sessionmaker() as session:
        alive = await repository.existing_ids(session, ids=candidates)
    orphans = sorted(candidates - alive)
    for dataset_id in orphans:
        removed = 0
        for root in ROOTS:
            removed += await asyncio.to_thread(store.delete_prefix, f"{root}{dataset_id}/")
        log.info("swept %d orphan objects of data set %s", removed, dataset_id)
    return orphans


def sweep_scratch(work_dir: Path, *, grace_s: float, now: float | None = None) -> int:
    """Remove scratch directories older than ``grace_s``; blocking."""
    now = time.time() if now is None else now
    removed = 0
    if not work_dir.is_dir():
        return 0
    for entry in work_dir.iterdir():
        if entry.is_dir() and now - entry.stat().st_mtime > grace_s:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


async def sweep_forever(
    *,
    store: ObjectStore,
    sessionmaker: async_sessionmaker[AsyncSession],
    work_dir: Path,
    interval_s: float,
    grace_s: float,
) -> None:
    while True:
        try:
            await sweep_orphans(store=store, sessionmaker=sessionmaker, grace_s=grace_s)
            await asyncio.to_thread(sweep_scratch, work_dir, grace_s=grace_s)
        except Exception:  # noqa: BLE001 - a failed sweep is logged and retried on the next tick
            log.exception("sweeping orphan data set objects failed; retrying in %.0fs", interval_s)
        await asyncio.sleep(interval_s)
