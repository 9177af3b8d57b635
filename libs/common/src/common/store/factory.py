from __future__ import annotations

from typing import TYPE_CHECKING

from common.store.local import LocalStore

if TYPE_CHECKING:
    from common.settings import ServiceSettings
    from common.store.base import ObjectStore


def store_from_settings(settings: ServiceSettings) -> ObjectStore:
    if settings.store_backend == "s3":
        from common.store.s3 import S3Store  # the S3 client (minio) is imported only when used

        return S3Store(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    return LocalStore(settings.resolved_store_root)
