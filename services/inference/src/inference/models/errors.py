from __future__ import annotations

from common.errors import NotFound, Unprocessable


class ModelNotFound(NotFound):
    code = "model_not_found"

    def __init__(self, model_id: str) -> None:
        super().__init__(f"no model {model_id!r}; list yours with GET /api/models")


class TokenNotFound(NotFound):
    code = "token_not_found"

    def __init__(self, token_id: str) -> None:
        super().__init__(f"no token {token_id!r} on this model; list them with GET /api/models/<id>/tokens")


class InvalidModelArtifacts(Unprocessable):
    """The run's model.onnx or model card is missing or unusable; re-export the run, then register again."""

    code = "invalid_model_artifacts"
