"""A run watched live through the gateway (real uvicorn processes, multi-user): its Server-Sent Events
arrive while it trains, a reconnect with Last-Event-ID resumes without a gap or a duplicate, the logs
tail has the training process's lines, and another user gets 404 for both."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from common.contracts import INTERNAL_TOKEN_HEADER
from common.settings import LOCAL_INTERNAL_TOKEN

from tests.e2e.images import image_zip
from tests.e2e.test_accounts import user_client

pytestmark = pytest.mark.e2e


def open_streams(stack) -> float:
    """The trainer's count of event streams it is serving now (its operator-only /metrics)."""
    metrics = httpx.get(
        f"{stack.url('trainer')}/metrics", headers={INTERNAL_TOKEN_HEADER: LOCAL_INTERNAL_TOKEN}
    )
    assert metrics.status_code == 200, metrics.text
    (line,) = [x for x in metrics.text.splitlines() if x.startswith("trainyard_run_event_streams ")]
    return float(line.split()[1])


@dataclass
class Message:
    id: int
    kind: str
    event: dict
    run_status: str | None = None  # the run's status when the message arrived, if asked


def read_events(
    client: httpx.Client,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    until: Callable[[Message], bool] = lambda m: False,
    status_of: str | None = None,
    on_stop: Callable[[], None] = lambda: None,
) -> list[Message]:
    """Messages until the server ends the stream, or through the first one ``until`` accepts (then the
    client goes away; with ``status_of``, a run id, that message records the run's status then)."""
    messages: list[Message] = []
    with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" in fields:
                data = json.loads(fields["data"])
                assert data["seq"] == int(fields["id"]) and data["event"]["type"] == fields["event"]
                message = Message(int(fields["id"]), fields["event"], data["event"])
                messages.append(message)
                if until(message):
                    if status_of:
                        message.run_status = client.get(f"/api/v1/runs/{status_of}").json()["status"]
                    on_stop()
                    break
            fields = {}
    return messages


def test_a_run_streams_live_through_the_gateway_and_resumes_after_last_event_id(multi_stack):
    with user_client(multi_stack, "cy@example.com") as cy, user_client(multi_stack, "dee@example.com") as dee:
        upload = cy.post(
            "/api/v1/datasets", files={"file": ("c.zip", image_zip(per_class=10))}, data={"name": "c"}
        )
        assert upload.status_code == 201, upload.text
        created = cy.post("/api/v1/runs", json={"dataset_id": upload.json()["id"], "config": {"epochs": 3}})
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        events = f"/api/v1/runs/{run_id}/events"
        assert dee.get(events).status_code == 404
        assert dee.get(f"/api/v1/runs/{run_id}/logs").status_code == 404

        streaming: list[float] = []
        first = read_events(
            cy,
            events,
            until=lambda m: m.kind == "phase" and m.event["phase"] == "features",
            status_of=run_id,
            on_stop=lambda: streaming.append(open_streams(multi_stack)),
        )
        # Live and not buffered: the run was still running when its features phase reached the client.
        assert first[-1].run_status == "running"
        # The client went away: the gateway closed its upstream stream and the trainer stopped serving it.
        assert streaming == [1.0]
        deadline = time.monotonic() + 10
        while open_streams(multi_stack) != 0.0:
            assert time.monotonic() < deadline, "the trainer still serves the stream of a client that left"
            time.sleep(0.1)
        rest = read_events(cy, events, headers={"Last-Event-ID": str(first[-1].id)})
        ids = [m.id for m in first + rest]
        assert ids == list(range(1, len(ids) + 1))
        assert (first[0].kind, first[0].event["status"]) == ("state", "queued")
        assert (rest[-1].kind, rest[-1].event["status"]) == ("state", "succeeded")
        phases = [m.event["phase"] for m in first + rest if m.kind == "phase"]
        assert phases[:3] == ["starting", "loading", "features"] and "export" in phases
        counted = {
            m.event["phase"]
            for m in first + rest
            if m.kind == "progress" and m.event["done"] == m.event["total"]
        }
        assert {"loading", "features", "export", "artifacts"} <= counted
        # The unversioned route and ?after= replay the same log.
        replay = read_events(cy, f"/api/runs/{run_id}/events?after={first[-1].id}")
        assert [(m.id, m.kind, m.event) for m in replay] == [(m.id, m.kind, m.event) for m in rest]

        logs = cy.get(f"/api/v1/runs/{run_id}/logs", params={"tail": 3})
        assert logs.status_code == 200, logs.text
        lines = logs.json()["items"]
        # At most the 3 asked for (a quick run on CPU logs fewer lines than a torch run), the last one last.
        assert 0 < len(lines) <= 3 and "validation accuracy" in lines[-1]["message"]
        assert [x["seq"] for x in lines] == sorted(x["seq"] for x in lines)
        finished = cy.get(f"/api/v1/runs/{run_id}").json()
        assert (finished["phase"], finished["eta_s"], finished["latest_metrics"]["type"]) == (
            "finished",
            None,
            "epoch",
        )
