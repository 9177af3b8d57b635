from __future__ import annotations

from common.errors import (
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)


class MissingModelToken(Unauthorized):
    code = "missing_model_token"


class MalformedModelToken(Unauthorized):
    code = "malformed_model_token"


class UnknownModelToken(Unauthorized):
    code = "unknown_model_token"

    def __init__(self) -> None:
        super().__init__("unknown or revoked model token; create a new one with POST /api/models/<id>/tokens")


class InvalidImage(Unprocessable):
    """The bytes are not an image we can decode (wrong format, corrupt, truncated)."""

    code = "invalid_image"


class ImageTooLarge(PayloadTooLarge):
    """Too many pixels: refused before decoding, as a decompression-bomb guard."""

    code = "image_too_large"


class UploadTooLarge(PayloadTooLarge):
    code = "upload_too_large"


class TooManyFiles(PayloadTooLarge):
    code = "too_many_files"


class MissingUpload(Unprocessable):
    code = "missing_upload"


class MalformedUpload(Unprocessable):
    code = "malformed_upload"


class UnsupportedUpload(UnsupportedMediaType):
    code = "unsupported_upload"


class ModelUnavailable(ServiceUnavailable):
    """The registered model's ONNX file can no longer be loaded or run (missing from the store, corrupt)."""

    code = "model_unavailable"


class Overloaded(ServiceUnavailable):
    """Admission control refused the request: too much work queued. Retry after ``Retry-After``."""

    code = "overloaded"

    def __init__(self, message: str, *, retry_after_s: int, reason: str) -> None:
        super().__init__(message, detail={"reason": reason, "retry_after_s": retry_after_s})
        self.reason = reason
        self.headers = {"Retry-After": str(retry_after_s)}


class TopKTooLarge(Unprocessable):
    code = "top_k_too_large"

    def __init__(self, *, top_k: int, classes: int) -> None:
        super().__init__(
            f"top_k={top_k} is more than this model's {classes} classes; ask for top_k <= {classes} "
            "(or leave it out: the default is min(5, classes))",
            detail={"top_k": top_k, "classes": classes},
        )
