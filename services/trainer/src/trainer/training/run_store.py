"""``RunObjectStore``: the object store of a training process, reached through the trainer with its
attempt's own token (``trainer.runs.worker_objects`` serves it). The process holds no store credentials:
the trainer decides what its run may read and write (``trainer.runs.object_scope``).

It implements ``common.store.ObjectStore``, so the training code does not know which store it has.
Transient failures (connection errors, 5xx) are retried with backoff; 404 is ``ObjectNotFound``, 403
``PermissionError`` (a key outside the run's scope: a bug, never retried), and 401/409 mean this attempt
is no longer the run's current one, so the process stops at once (``on_fenced``) before writing more.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import quote

import httpx
from common.contracts import TrainingSpec
from common.store import ObjectNotFound, ObjectStore, validate_key

from trainer.training.reporting import FENCED_STATUSES, exit_fenced

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class _Transient(Exception):
    """Worth another try: the trainer or the network hiccupped."""


class _ResponseReader(io.RawIOBase):
    """A streamed response as a readable file; closing it closes the response."""

    def __init__(self, response: httpx.Response, expected: int | None) -> None:
        self._response = response
        self._chunks = response.iter_raw(CHUNK)
        self._buffer = b""
        self._read = 0
        self._expected = expected

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if not self._buffer:
            self._buffer = next(self._chunks, b"")
            self._read += len(self._buffer)
            if not self._buffer and self._expected is not None and self._read != self._expected:
                raise OSError(f"object cut short: {self._read} of {self._expected} bytes")
        n = min(len(b), len(self._buffer))
        b[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


class RunObjectStore:
    def __init__(
        self,
        *,
        url: str,
        token: str,
        own_prefix: str,
        timeout_s: float = 60.0,
        attempts: int = 4,
        backoff_s: float = 0.5,
        on_fenced: Callable[[str], None] = exit_fenced,
    ) -> None:
        self.url = url.rstrip("/")
        self.own_prefix = own_prefix
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.on_fenced = on_fenced
        self.client = httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {token}"})

    def _object_url(self, key: str) -> str:
        return f"{self.url}/{quote(validate_key(key), safe='/')}"

    def _check(self, response: httpx.Response, key: str) -> None:
        status = response.status_code
        if status < 400:
            return
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        response.read()
        reason = response.text[:300]
        if status == 404:
            raise ObjectNotFound(key)
        if status in FENCED_STATUSES:
            self.on_fenced(f"the trainer refused this attempt's object access ({reason})")
            raise PermissionError(f"this attempt may no longer touch objects: {reason}")
        if status == 403:
            raise PermissionError(f"the trainer refused {key!r} to this run: {reason}")
        raise OSError(f"the trainer refused {key!r}: HTTP {status} {reason}")

    def _retrying(self, key: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        """``call`` with retries; returns an open (streamed) response that passed ``_check``."""
        reason = ""
        for attempt in range(1, self.attempts + 1):
            response = None
            try:
                response = call()
                self._check(response, key)
                return response
            except (httpx.TransportError, _Transient) as e:
                reason = repr(e)
                if response is not None:
                    response.close()
            except BaseException:
                if response is not None:
                    response.close()
                raise
            if attempt < self.attempts:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise OSError(
            f"the trainer's object endpoint failed for {key!r} after {self.attempts} tries: {reason}"
        )

    def _send(self, method: str, key: str, url: str, **kwargs) -> httpx.Response:
        def call() -> httpx.Response:
            return self.client.send(self.client.build_request(method, url, **kwargs), stream=True)

        return self._retrying(key, call)

    # --- reads ----------------------------------------------------------------------------------

    def open_stream(self, key: str) -> BinaryIO:
        response = self._send("GET", key, self._object_url(key))
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        return io.BufferedReader(_ResponseReader(response, expected), CHUNK)

    def get_bytes(self, key: str) -> bytes:
        with self.open_stream(key) as f:
            return f.read()

    def get_file(self, key: str, path: str) -> None:
        with self.open_stream(key) as src, open(path, "wb") as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)

    def size(self, key: str) -> int:
        response = self._send("HEAD", key, self._object_url(key))
        response.close()
        return int(response.headers["Content-Length"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str) -> Iterator[str]:
        response = self._send("GET", prefix, self.url, params={"prefix": prefix})
        try:
            response.read()
        finally:
            response.close()
        return iter(response.json()["keys"])

    # --- writes ---------------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        headers = {"Content-Type": content_type}
        self._send("PUT", key, self._object_url(key), content=data, headers=headers).close()

    def put_file(self, key: str, path: str, content_type: str = "application/octet-stream") -> None:
        def call() -> httpx.Response:
            with open(path, "rb") as f:  # reopened per try: a retry sends the whole file again
                headers = {"Content-Type": content_type, "Content-Length": str(os.fstat(f.fileno()).st_size)}
                request = self.client.build_request(
                    "PUT", self._object_url(key), content=_file_chunks(f), headers=headers
                )
                return self.client.send(request, stream=True)

        self._retrying(key, call).close()

    def delete(self, key: str) -> None:
        raise PermissionError("a training process does not delete objects; the trainer does")

    def delete_prefix(self, prefix: str) -> int:
        raise PermissionError("a training process does not delete objects; the trainer does")

    def ping(self) -> None:
        """Raise unless the trainer answers this attempt's token (lists the run's own prefix)."""
        self.list(self.own_prefix)

    def close(self) -> None:
        self.client.close()


def store_for_spec(spec: TrainingSpec, *, token: str, fallback: Callable[[], ObjectStore]) -> ObjectStore:
    """Through the trainer when the spec names its object endpoint (every launched attempt); otherwise
    (``python -m trainer.training`` by hand, with no trainer) the store its own settings name."""
    if spec.objects_url:
        return RunObjectStore(url=spec.objects_url, token=token, own_prefix=spec.output_prefix)
    return fallback()


def _file_chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk
