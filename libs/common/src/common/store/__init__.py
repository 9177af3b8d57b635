"""One object-store interface, two backends: a local directory and the S3 API.

Keys are '/'-separated relative paths such as ``datasets/<id>/manifest.json``.
Every backend writes an object atomically: a reader sees the whole object or none.
"""

from common.store.base import ObjectNotFound, ObjectStore, validate_key
from common.store.factory import store_from_settings
from common.store.local import LocalStore
from common.store.s3 import S3Store
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
