from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from common.store.base import ObjectNotFound, validate_key

_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound"}


class _ResponseStream(io.RawIOBase):
    """Wraps a urllib3 response so closing it also releases the connection."""

    def __init__(self, response) -> None:
        self._r = response

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._r.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._r.close()
            self._r.release_conn()
        super().close()


class S3Store:
    """Objects in one bucket of an S3 API server (MinIO in a cluster, moto in tests)."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str | None = None,
        create_bucket: bool = True,
    ) -> None:
        self.bucket = bucket
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        if create_bucket and not self.client.bucket_exists(bucket):
            self.client.make_bucket(bucket)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(
            self.bucket, validate_key(key), io.BytesIO(data), len(data), content_type=content_type
        )

    def put_file(self, key: str, path: str, content_type: str = "application/octet-stream") -> None:
        self.client.fput_object(self.bucket, validate_key(key), path, content_type=content_type)

    def get_bytes(self, key: str) -> bytes:
        with self.open_stream(key) as f:
            return f.read()

    def get_file(self, key: str, path: str) -> None:
        try:
            self.client.fget_object(self.bucket, validate_key(key), path)
        except S3Error as e:
            if e.code in _MISSING:
                raise ObjectNotFound(key) from e
            raise

    def open_stream(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(self.bucket, validate_key(key))
        except S3Error as e:
            if e.code in _MISSING:
                raise ObjectNotFound(key) from e
            raise
        return io.BufferedReader(_ResponseStream(response), 1 << 20)

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, validate_key(key))
        except S3Error as e:
            if e.code in _MISSING:
                return False
            raise
        return True

    def size(self, key: str) -> int:
        try:
            return self.client.stat_object(self.bucket, validate_key(key)).size
        except S3Error as e:
            if e.code in _MISSING:
                raise ObjectNotFound(key) from e
            raise

    def list(self, prefix: str) -> Iterator[str]:
        for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
            yield obj.object_name

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, validate_key(key))

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list(prefix))
        if not keys:
            return 0
        errors = list(self.client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        if errors:
            raise OSError(f"could not delete {len(errors)} objects under {prefix!r}: {errors[0]}")
        return len(keys)

    def ping(self) -> None:
        self.client.bucket_exists(self.bucket)
