"""A run's live view on Postgres, with the trainer API on real uvicorn and real worker processes: the
event stream (live, resumable with Last-Event-ID, closed after the terminal state, owner-checked), the
logs tail, and the phase / counter / ETA of ``GET /runs/{id}`` from the first second of a run."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.settings import LOCAL_INTERNAL_TOKEN

from tests.queue.test_worker_tokens import bearer, claim, post
from tests.queue.test_workers import ticking
from tests.queue.world import open_world

pytestmark = pytest.mark.timeout(120)
ALICE = {INTERNAL_TOKEN_HEADER: LOCAL_INTERNAL_TOKEN, OWNER_HEADER: "alice"}


@pytest.fixture
async def world(postgres_url, tmp_path):
    async with open_world(postgres_url, tmp_path) as world:
        yield world


async def read_stream(http: httpx.AsyncClient, run_id: str, *, headers=ALICE, limit: int | None = None):
    """(id, event, data, arrived at) of each message, until the server ends the stream or ``limit``."""
    messages: list[tuple[int, str, dict, float]] = []
    async with http.stream("GET", f"/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" in fields:
                data = json.loads(fields["data"])
                messages.append((int(fields["id"]), fields["event"], data, time.monotonic()))
                if limit is not None and len(messages) == limit:
                    break
            fields = {}
    return messages


async def test_a_run_streams_its_events_live_and_the_stream_ends_after_its_terminal_state(world):
    (run_id,) = await world.add_runs(1, epochs=4, epoch_s=0.4)
    async with httpx.AsyncClient(base_url=world.trainer_url, timeout=30) as http:
        reader = asyncio.create_task(read_stream(http, run_id))
        async with ticking(world.dispatcher()):
            messages = await asyncio.wait_for(reader, 60)
            finished = time.monotonic()
    ids = [m[0] for m in messages]
    assert ids == list(range(1, len(ids) + 1))  # every event, in order, once
    kinds = [
        (kind, data["event"].get("phase") or data["event"].get("status")) for _, kind, data, _ in messages
    ]
    assert kinds[:3] == [("state", "running"), ("phase", "starting"), ("phase", "loading")]
    assert kinds[-2:] == [("succeeded", None), ("state", "succeeded")]
    epochs = [data["event"]["epoch"] for _, kind, data, _ in messages if kind == "epoch"]
    assert epochs == [1, 2, 3, 4]
    # Live: the first epoch arrived while the run still had epochs to go, not replayed at the end.
    first_epoch_at = next(at for _, kind, _, at in messages if kind == "epoch")
    assert finished - first_epoch_at > 0.8


async def test_a_change_this_trainer_commits_reaches_its_streams_at_once_not_at_the_next_poll(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    async with open_world(database, tmp_path, events_poll_s=5.0) as world:
        await world.add_runs(1)
        run_id, token = await claim(world)  # its log: state running, phase starting
        async with httpx.AsyncClient(base_url=world.trainer_url, timeout=30) as http:
            reader = asyncio.create_task(read_stream(http, run_id, limit=3))
            await asyncio.sleep(0.5)  # the stream has read the log and waits for more
            sent = time.monotonic()
            assert (await post(world, run_id, bearer(token))).status_code == 204
            messages = await asyncio.wait_for(reader, 10)
    assert messages[-1][1] == "epoch"
    assert messages[-1][3] - sent < 1.0  # woken by the write; the poll would take another 4.5 s


async def test_a_stream_resumes_after_last_event_id_without_gaps_or_duplicates(world):
    (run_id,) = await world.add_runs(1, epochs=5, epoch_s=0.3)
    async with httpx.AsyncClient(base_url=world.trainer_url, timeout=30) as http:
        async with ticking(world.dispatcher()):
            first = await read_stream(http, run_id, limit=4)  # then the client goes away mid-run
            resumed = await read_stream(http, run_id, headers={**ALICE, "Last-Event-ID": str(first[-1][0])})
        replay = await read_stream(http, run_id)  # the run is over: the whole log, then the end
    ids = [m[0] for m in first + resumed]
    assert ids == list(range(1, len(ids) + 1))
    assert [(m[0], m[1], m[2]) for m in first + resumed] == [(m[0], m[1], m[2]) for m in replay]
    assert resumed[-1][1] == "state" and resumed[-1][2]["event"]["status"] == "succeeded"


async def test_another_owners_run_is_not_found_on_its_stream_and_logs(world):
    (run_id,) = await world.add_runs(1)
    bob = {**ALICE, OWNER_HEADER: "bob"}
    async with httpx.AsyncClient(base_url=world.trainer_url, timeout=30) as http:
        for path in (f"/runs/{run_id}/events", f"/runs/{run_id}/logs"):
            answer = await http.get(path, headers=bob)
            assert answer.status_code == 404, (path, answer.text)
        bad = await http.get(f"/runs/{run_id}/events", headers={**ALICE, "Last-Event-ID": "seven"})
        assert bad.status_code == 400 and "Last-Event-ID" in bad.text


async def test_the_logs_tail_is_the_last_lines_in_order(world):
    (run_id,) = await world.add_runs(1)
    _, token = await claim(world)
    for i in range(6):
        event = {"type": "log", "level": "warning" if i == 5 else "info", "message": f"line {i}"}
        assert (await post(world, run_id, bearer(token), event)).status_code == 204
    async with httpx.AsyncClient(base_url=world.trainer_url, timeout=30) as http:
        tail = await http.get(f"/runs/{run_id}/logs", params={"tail": 3}, headers=ALICE)
        assert tail.status_code == 200, tail.text
        assert [(x["message"], x["level"]) for x in tail.json()["items"]] == [
            ("line 3", "info"),
            ("line 4", "info"),
            ("line 5", "warning"),
        ]
        for bad in (0, 1001):
            assert (
                await http.get(f"/runs/{run_id}/logs", params={"tail": bad}, headers=ALICE)
            ).status_code == 422


async def test_get_run_has_a_phase_and_a_counter_from_the_first_second_and_an_eta_once_it_moves(world):
    (run_id,) = await world.add_runs(1)
    async with httpx.AsyncClient(base_url=world.trainer_url, timeout=30) as http:

        async def view() -> dict:
            answer = await http.get(f"/runs/{run_id}", headers=ALICE)
            assert answer.status_code == 200, answer.text
            return answer.json()

        queued = await view()
        assert (queued["phase"], queued["progress"], queued["eta_s"]) == (
            "queued",
            {"done": 0, "total": 1, "unit": "steps"},
            None,
        )
        _, token = await claim(world)
        starting = await view()
        assert (starting["phase"], starting["progress"]) == (
            "starting",
            {"done": 0, "total": 1, "unit": "steps"},
        )

        def progress(done: int) -> dict:
            return {"type": "progress", "phase": "features", "done": done, "total": 40, "unit": "images"}

        assert (await post(world, run_id, bearer(token), progress(0))).status_code == 204
        assert (await view())["eta_s"] is None  # nothing done yet: no rate
        await asyncio.sleep(0.5)
        assert (await post(world, run_id, bearer(token), progress(10))).status_code == 204
        features = await view()
        assert (features["phase"], features["progress"]) == (
            "features",
            {"done": 10, "total": 40, "unit": "images"},
        )
        # 10 images took ~0.5 s: 30 more take ~1.5 s.
        assert 0.9 < features["eta_s"] < 3.0, features["eta_s"]

        epoch = {"type": "epoch", "epoch": 1, "epochs": 3, "val_acc": 0.5, "train_loss": 1.0}
        assert (
            await post(world, run_id, bearer(token), {"type": "phase", "phase": "training"})
        ).status_code == 204
        assert (await post(world, run_id, bearer(token), epoch)).status_code == 204
        training = await view()
        assert training["phase"] == "training"
        assert training["progress"] == {"done": 1, "total": 3, "unit": "epochs"}
        latest = {k: v for k, v in training["latest_metrics"].items() if v is not None}
        assert latest == {**epoch, "type": "epoch"}
