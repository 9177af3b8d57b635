"""Failures a person can act on. Each carries the HTTP status a service would answer with and a message
that says what to do; the entrypoint reports ``message`` as the run's error."""

from __future__ import annotations


class TrainingError(Exception):
    status_code = 422
    code = "training_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WeightsMissing(TrainingError):
    """The pretrained weights of the chosen backbone are nowhere this process may look (never downloaded)."""

    code = "weights_missing"


class DatasetUnusable(TrainingError):
    """The data set cannot be trained on as it is (a class without training images...)."""

    code = "dataset_unusable"


class ExportMismatch(TrainingError):
    """The exported ONNX model does not predict what the PyTorch model predicts."""

    status_code = 500
    code = "export_mismatch"
