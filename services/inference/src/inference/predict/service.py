"""Preprocess, run the model's ONNX session, rank the classes. The heavy steps run in worker threads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from common.contracts import BatchPrediction, LabelScore, Prediction

from inference.predict.auth import AuthorizedModel
from inference.predict.errors import ModelUnavailable
from inference.predict.preprocessing import preprocess_batch, preprocess_image
from inference.predict.sessions import LoadedModel, ModelLoadError, OnnxSessionCache


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by the row max so large logits cannot overflow."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def rank(probabilities: np.ndarray, *, classes: Sequence[str], top_k: int) -> list[LabelScore]:
    """The ``top_k`` most probable classes, most probable first; ties keep class order."""
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [LabelScore(label=classes[i], probability=float(probabilities[i])) for i in order]


def run_model(model: LoadedModel, batch: np.ndarray) -> np.ndarray:
    """Blocking: (N, 3, S, S) -> (N, classes) probabilities."""
    try:
        (logits,) = model.session.run([model.output_name], {model.input_name: batch})
    except Exception as e:  # onnxruntime reports graph failures with its own exception types
        raise ModelUnavailable(
            f"model {model.model_id} failed to run: {e}; re-export and re-register it"
        ) from e
    if logits.ndim != 2 or logits.shape != (batch.shape[0], len(model.classes)):
        raise ModelUnavailable(
            f"model {model.model_id} returned shape {logits.shape}; expected ({batch.shape[0]}, "
            f"{len(model.classes)}): re-export and re-register it"
        )
    return softmax(logits)


async def load(sessions: OnnxSessionCache, model: AuthorizedModel) -> LoadedModel:
    try:
        return await sessions.get(model_id=model.model_id, onnx_key=model.onnx_key, card=model.card)
    except ModelLoadError as e:
        raise ModelUnavailable(f"model {model.model_id} cannot be loaded: {e}; re-register it") from e


async def predict_one(
    *, sessions: OnnxSessionCache, model: AuthorizedModel, image: bytes, top_k: int, max_pixels: int
) -> Prediction:
    loaded = await load(sessions, model)

    def work() -> np.ndarray:
        batch = preprocess_image(image, spec=loaded.preprocessing, max_pixels=max_pixels)
        return run_model(loaded, batch)[0]

    probabilities = await asyncio.to_thread(work)
    return Prediction(model_id=model.model_id, top_k=rank(probabilities, classes=loaded.classes, top_k=top_k))


async def predict_many(
    *,
    sessions: OnnxSessionCache,
    model: AuthorizedModel,
    images: Sequence[tuple[str, bytes]],
    top_k: int,
    max_pixels: int,
) -> BatchPrediction:
    """One ONNX run over the stacked batch (exported models have a dynamic batch axis)."""
    loaded = await load(sessions, model)

    def work() -> np.ndarray:
        batch = preprocess_batch(images, spec=loaded.preprocessing, max_pixels=max_pixels)
        return run_model(loaded, batch)

    probabilities = await asyncio.to_thread(work)
    return BatchPrediction(
        model_id=model.model_id,
        predictions=[
            Prediction(model_id=model.model_id, top_k=rank(row, classes=loaded.classes, top_k=top_k))
            for row in probabilities
        ],
    )
