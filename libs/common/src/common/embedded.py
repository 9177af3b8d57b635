"""Runs the four services as separate uvicorn processes on embedded defaults (``make up``).

SQLite files and the object store live under the data directory; a second start reuses them.
Also used by the end-to-end tests, which point it at Postgres and S3 through the environment.
It runs in local mode (``TRAINYARD_ENVIRONMENT=local``: development secrets accepted, migrations at start)
unless the environment names another mode; services started any other way default to production.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from common.supervisor import Supervisor, die_with_parent, kill_group

SERVICES = ("dataset", "trainer", "inference", "gateway")


@dataclass
class Stack:
    ports: dict[str, int]
    data_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_dir: Path | None = None
    # What the services were started with, so the supervisor restarts them the same way.
    extra_env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("TRAINYARD_ENVIRONMENT", "local")
        env.setdefault("TRAINYARD_DATA_DIR", str(self.data_dir))
        for name, port in self.ports.items():
            env[f"TRAINYARD_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
        env.update(extra or {})
        return env

    def start_service(
        self, name: str, *, extra_env: dict[str, str] | None = None, host: str | None = None
    ) -> None:
        host = host or self.host
        extra_env = self.extra_env if extra_env is None else extra_env
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            f"{name}.main:create_app",
            "--factory",
            "--host",
            host if name == "gateway" else "127.0.0.1",
            "--port",
            str(self.ports[name]),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "10",
        ]
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        # Its own process group: a Ctrl-C in the terminal reaches the launcher only (which stops the
        # services in order), and what a service starts (training processes) can be found and stopped
        # with it.
        self.processes[name] = subprocess.Popen(
            cmd,
            env=self.env(extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def wait_ready(self, name: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}{self._log_hint(name)}")
            try:
                response = httpx.get(f"{self.url(name)}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as e:
                last = str(e)
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready after {timeout}s: {last}{self._log_hint(name)}")

    def _log_hint(self, name: str) -> str:
        if self.log_dir is None:
            return ""
        path = self.log_dir / f"{name}.log"
        tail = path.read_text(errors="replace")[-3000:] if path.exists() else ""
        return f"; log {path}:\n{tail}"

    def log_tail(self, name: str, lines: int = 5) -> str:
        if self.log_dir is None or not (self.log_dir / f"{name}.log").exists():
            return ""
        text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def start(self, *, extra_env: dict[str, str] | None = None, host: str = "127.0.0.1") -> Stack:
        self.extra_env, self.host = dict(extra_env or {}), host
        # Each service migrates its own database at start, so they can start side by side; a failure
        # still names the service and shows its log.
        for name in SERVICES:
            self.start_service(name, extra_env=extra_env, host=host)
        for name in SERVICES:
            self.wait_ready(name)
        return self

    def stop_service(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        kill_group(process.pid)

    def stop(self) -> None:
        for name in reversed(SERVICES):
            self.stop_service(name)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Trainyard's four services locally.")
    parser.add_argument("--data-dir", default=os.environ.get("TRAINYARD_DATA_DIR", "var"))
    parser.add_argument("--host", default=os.environ.get("TRAINYARD_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TRAINYARD_PORT", "8000")))
    args = parser.parse_args()

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = {
        "gateway": args.port,
        "dataset": args.port + 1,
        "trainer": args.port + 2,
        "inference": args.port + 3,
    }
    stack = Stack(ports=ports, data_dir=data_dir, log_dir=data_dir / "logs")
    os.environ["TRAINYARD_DATA_DIR"] = str(data_dir)

    stopping = False

    def _stop(signum, _frame) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        print(f"Starting Trainyard (data in {data_dir}, logs in {data_dir / 'logs'}) ...", flush=True)
        stack.start(host=args.host)
        print(
            f"\nTrainyard is up: http://localhost:{args.port}  (API docs: http://localhost:{args.port}/docs)",
            flush=True,
        )
        print("Press Ctrl-C to stop.", flush=True)
        Supervisor(stack).run_forever()
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()
