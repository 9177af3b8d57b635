"""The moto S3 server on a free loopback port: a real S3 API over HTTP for the S3Store."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from common.testing.ports import free_port, wait_for_port

ACCESS_KEY = "testing"
SECRET_KEY = "testing-secret"


@dataclass
class S3Server:
    port: int
    process: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, bucket: str) -> dict[str, str]:
        """Settings that point a service at this server."""
        return {
            "TRAINYARD_STORE_BACKEND": "s3",
            "TRAINYARD_S3_ENDPOINT": self.endpoint,
            "TRAINYARD_S3_ACCESS_KEY": ACCESS_KEY,
            "TRAINYARD_S3_SECRET_KEY": SECRET_KEY,
            "TRAINYARD_S3_BUCKET": bucket,
            "TRAINYARD_S3_REGION": "us-east-1",
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_s3() -> S3Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=60)
    return S3Server(port=port, process=process)
