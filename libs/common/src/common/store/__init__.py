"""One object-store interface, two backends: a local directory and the S3 API.

Keys are '/'-separated relative paths such as ``datasets/<id>/manifest.json``.
Every backend writes an object atomically: a reader sees the whole object or none.
"""

from common.store.base import ObjectNotFound, ObjectStore, validate_key
from common.store.factory import store_from_settings
from common.store.local import LocalStore
from common.store.streaming import object_chunks

__all__ = [
    "LocalStore",
    "ObjectNotFound",
    "ObjectStore",
    "S3Store",
    "object_chunks",
    "store_from_settings",
    "validate_key",
]


def __getattr__(name: str) -> object:
    # ``S3Store`` on first use: its client library (minio) costs 0.13 s to import, which a process on
    # the local store (a training run, a test) never needs.
    if name == "S3Store":
        from common.store.s3 import S3Store

        return S3Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
