"""A fake Kubernetes API server on loopback, for tests of the Kubernetes executor with the real client.

No cluster runs here, so this stands in for one: real HTTP, the real API paths and JSON shapes for
what the executor uses (batch/v1 Jobs: create, get, list, watch, delete; v1 Secrets: create; v1 Pods:
list, log), resource versions, label selectors, watch streams that resume from a resourceVersion,
404/409 ``Status`` bodies. Created Jobs and Secrets are validated by ``kubernetes-validate`` in strict
mode, as an API server would refuse a malformed object. No controller runs: the test moves a Job
through its life with ``start``, ``succeed`` and ``fail``, as the Job controller and kubelet would.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import kubernetes_validate

K8S_VERSION = "1.33"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


class FakeCluster:
    """The API server's state: objects by (kind, namespace, name), and the event log of Jobs."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.version = 0
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.events: list[tuple[int, str, dict]] = []  # Jobs only: (resourceVersion, type, object)
        self.logs: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []

    def _bump(self, obj: dict) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)

    def _emit(self, kind: str, event_type: str, obj: dict) -> None:
        if kind == "jobs":
            self.events.append((self.version, event_type, copy.deepcopy(obj)))
            self.lock.notify_all()

    def create(self, kind: str, namespace: str, body: dict) -> tuple[int, dict]:
        name = body.get("metadata", {}).get("name")
        with self.lock:
            if (kind, namespace, name) in self.objects:
                return 409, _status(409, "AlreadyExists", f'{kind} "{name}" already exists')
            obj = copy.deepcopy(body)
            meta = obj.setdefault("metadata", {})
            meta.update({"namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": _now()})
            if kind == "secrets" and "stringData" in obj:
                data = obj.setdefault("data", {})
                for key, value in obj.pop("stringData").items():
                    data[key] = base64.b64encode(value.encode()).decode()
            if kind == "jobs":
                obj["status"] = {}
            self._bump(obj)
            self.objects[(kind, namespace, name)] = obj
            self._emit(kind, "ADDED", obj)
            return 201, copy.deepcopy(obj)

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self.objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def list(self, kind: str, namespace: str, selector: str | None) -> tuple[list[dict], int]:
        with self.lock:
            items = [
                copy.deepcopy(o)
                for (k, ns, _), o in self.objects.items()
                if k == kind and ns == namespace and _matches(o["metadata"].get("labels", {}), selector)
            ]
            return items, self.version

    def delete(self, kind: str, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self.objects.pop((kind, namespace, name), None)
            if obj is None:
                return None
            self._bump(obj)
            self._emit(kind, "DELETED", obj)
            if kind == "jobs":  # background propagation: its pods and owned secrets go too
                uid = obj["metadata"]["uid"]
                for key, other in list(self.objects.items()):
                    owners = other["metadata"].get("ownerReferences", [])
                    if any(o.get("uid") == uid for o in owners) or (
                        key[0] == "pods" and other["metadata"]["labels"].get("job-name") == name
                    ):
                        del self.objects[key]
            return obj

    def _update_job(self, namespace: str, name: str, status: dict) -> None:
        obj = self.objects[("jobs", namespace, name)]
        obj["status"] = status
        self._bump(obj)
        self._emit("jobs", "MODIFIED", obj)

    def _pod(self, namespace: str, job: str) -> dict:
        return next(
            o
            for (k, ns, _), o in self.objects.items()
            if k == "pods" and ns == namespace and o["metadata"]["labels"].get("job-name") == job
        )

    # -- what the Job controller and the kubelet would do ----------------------------------------

    def start(self, name: str, *, namespace: str) -> None:
        """The Job's pod is scheduled and its container runs."""
        with self.lock:
            job = self.objects[("jobs", namespace, name)]
            pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
            template = job["spec"]["template"]
            labels = {**template["metadata"].get("labels", {}), "job-name": name}
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_name,
                    "namespace": namespace,
                    "labels": labels,
                    "uid": str(uuid.uuid4()),
                },
                "spec": copy.deepcopy(template["spec"]),
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": "trainer",
                            "ready": True,
                            "restartCount": 0,
                            "image": template["spec"]["containers"][0]["image"],
                            "imageID": "",
                            "state": {"running": {"startedAt": _now()}},
                        }
                    ],
                },
            }
            self._bump(pod)
            self.objects[("pods", namespace, pod_name)] = pod
            self._update_job(namespace, name, {"active": 1, "startTime": _now()})

    def _terminate(self, namespace: str, name: str, *, exit_code: int, log: str) -> None:
        pod = self._pod(namespace, name)
        pod["status"]["phase"] = "Succeeded" if exit_code == 0 else "Failed"
        state = {"terminated": {"exitCode": exit_code, "finishedAt": _now(), "reason": "Completed"}}
        pod["status"]["containerStatuses"][0]["state"] = state
        self.logs[pod["metadata"]["name"]] = log

    def succeed(self, name: str, *, namespace: str, log: str = "") -> None:
        with self.lock:
            self._terminate(namespace, name, exit_code=0, log=log)
            now = _now()
            conditions = [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "lastTransitionTime": now},
            ]
            status = {"succeeded": 1, "active": 0, "completionTime": now, "conditions": conditions}
            self._update_job(namespace, name, status)

    def fail(
        self,
        name: str,
        *,
        namespace: str,
        exit_code: int | None = 1,
        reason: str = "PodFailurePolicy",
        log: str = "",
    ) -> None:
        """The pod failed with ``exit_code`` (None: it never ran to an exit, e.g. DeadlineExceeded)."""
        with self.lock:
            if exit_code is not None:
                self._terminate(namespace, name, exit_code=exit_code, log=log)
            now = _now()
            message = f"Container trainer for pod failed with exit code {exit_code}" if exit_code else reason
            conditions = [
                {"type": "FailureTarget", "status": "True", "reason": reason, "lastTransitionTime": now},
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": now,
                },
            ]
            self._update_job(namespace, name, {"failed": 1, "active": 0, "conditions": conditions})

    def watch(
        self, since: int, *, timeout_s: float, selector: str | None, stop: threading.Event
    ) -> Iterator[tuple]:
        """Job events after resourceVersion ``since`` until ``timeout_s`` passes."""
        deadline = datetime.now(UTC).timestamp() + timeout_s
        sent = since
        while not stop.is_set():
            with self.lock:
                fresh = [e for e in self.events if e[0] > sent]
                if not fresh:
                    left = deadline - datetime.now(UTC).timestamp()
                    if left <= 0:
                        return
                    self.lock.wait(min(left, 0.5))
                    continue
            for version, event_type, obj in fresh:
                sent = version
                if _matches(obj["metadata"].get("labels", {}), selector):
                    yield event_type, obj


class _Handler(BaseHTTPRequestHandler):
    server: FakeKubernetes

    def log_message(self, *args) -> None:
        pass

    def _send(self, code: int, body: dict | str) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, str, str | None, str | None, dict]:
        """(kind, namespace, name, subresource, query) of .../namespaces/<ns>/<kind>[/<name>[/<sub>]]."""
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        start = parts.index("namespaces")
        rest = parts[start + 1 :]
        namespace, kind = rest[0], rest[1]
        name = rest[2] if len(rest) > 2 else None
        sub = rest[3] if len(rest) > 3 else None
        return kind, namespace, name, sub, query

    def do_POST(self) -> None:
        kind, namespace, _, _, _ = self._route()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.cluster.requests.append(("POST", kind))
        try:
            kubernetes_validate.validate(body, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            self._send(422, _status(422, "Invalid", f"{body.get('kind')} is invalid: {e}"))
            return
        code, obj = self.server.cluster.create(kind, namespace, body)
        self._send(code, obj)

    def do_GET(self) -> None:
        kind, namespace, name, sub, query = self._route()
        cluster = self.server.cluster
        cluster.requests.append(("GET", kind if not query.get("watch") else f"watch {kind}"))
        if name and sub == "log":
            self._send(200, cluster.logs.get(name, ""))
        elif name:
            obj = cluster.get(kind, namespace, name)
            self._send(200, obj) if obj else self._send(
                404, _status(404, "NotFound", f'{kind} "{name}" not found')
            )
        elif query.get("watch") in ("true", "1", "True"):
            self._watch(kind, query)
        else:
            items, version = cluster.list(kind, namespace, query.get("labelSelector"))
            list_kind = {"jobs": "JobList", "pods": "PodList", "secrets": "SecretList"}[kind]
            api = "batch/v1" if kind == "jobs" else "v1"
            self._send(
                200,
                {
                    "apiVersion": api,
                    "kind": list_kind,
                    "metadata": {"resourceVersion": str(version)},
                    "items": items,
                },
            )

    def _watch(self, kind: str, query: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        since = int(query.get("resourceVersion") or 0)
        timeout_s = float(query.get("timeoutSeconds") or 30)
        try:
            for event_type, obj in self.server.cluster.watch(
                since, timeout_s=timeout_s, selector=query.get("labelSelector"), stop=self.server.stopping
            ):
                line = json.dumps({"type": event_type, "object": obj}).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_DELETE(self) -> None:
        kind, namespace, name, _, _ = self._route()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # DeleteOptions, if any
        self.server.cluster.requests.append(("DELETE", kind))
        obj = self.server.cluster.delete(kind, namespace, name)
        if obj is None:
            self._send(404, _status(404, "NotFound", f'{kind} "{name}" not found'))
        else:
            self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})


class FakeKubernetes(ThreadingHTTPServer):
    daemon_threads = True
    protocol_version = "HTTP/1.1"

    def __init__(self) -> None:
        self.cluster = FakeCluster()
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)
        _Handler.protocol_version = "HTTP/1.1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def write_kubeconfig(self, path: Path, *, namespace: str = "trainyard") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}
            ],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))
        return path


@contextmanager
def fake_kubernetes() -> Iterator[FakeKubernetes]:
    server = FakeKubernetes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        with server.cluster.lock:
            server.cluster.lock.notify_all()
        server.shutdown()
        server.server_close()
