"""Classify: the task's preprocessing off the event loop, a batched model run, then the ranking.

A task's request side calls ``classify`` with a blocking ``make_feeds(loaded) -> Feeds``; images use
``image_feeds`` (``inference.predict.preprocessing``), text plugs in its tokenizer the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import numpy as np
from common.contracts import BatchPrediction, LabelScore, Prediction

from inference.predict.auth import AuthorizedModel
from inference.predict.errors import TopKTooLarge
from inference.predict.feeds import Feeds, rows
from inference.predict.preprocessing import image_feeds
from inference.predict.server import ModelServer
from inference.predict.sessions import LoadedModel

DEFAULT_TOP_K = 5


def resolve_top_k(top_k: int | None, *, classes: int) -> int:
    """Left out: min(5, classes). Asked for more than the model has: a 422 that says how many it has,
    rather than silently returning fewer than asked."""
    if top_k is None:
        return min(DEFAULT_TOP_K, classes)
    if top_k > classes:
        raise TopKTooLarge(top_k=top_k, classes=classes)
    return top_k


def rank(probabilities: np.ndarray, *, classes: Sequence[str], top_k: int) -> list[LabelScore]:
    """The ``top_k`` most probable classes, most probable first; ties keep class order."""
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [LabelScore(label=classes[i], probability=float(probabilities[i])) for i in order]


async def classify(
    *,
    server: ModelServer,
    model: AuthorizedModel,
    make_feeds: Callable[[LoadedModel], Feeds],
    top_k: int,
    inline_feeds: bool = False,
) -> list[Prediction]:
    """One prediction per row of the feeds ``make_feeds`` builds (blocking: run in a worker thread,
    or on the event loop when the caller knows it is cheaper than a thread hand-off: ``inline_feeds``)."""
    loaded = await server.load(model)
    start = time.perf_counter()
    with server.batcher(loaded).expect():
        feeds = make_feeds(loaded) if inline_feeds else await asyncio.to_thread(make_feeds, loaded)
    server.admission.cost(model.model_id).record_preprocess(rows(feeds), time.perf_counter() - start)
    probabilities = await server.probabilities(loaded, feeds)
    return [
        Prediction(model_id=model.model_id, top_k=rank(row, classes=loaded.classes, top_k=top_k))
        for row in probabilities
    ]


async def predict_images(
    *,
    server: ModelServer,
    model: AuthorizedModel,
    images: Sequence[tuple[str, bytes]],
    top_k: int,
    max_pixels: int,
    max_request_pixels: int | None = None,
    name_files: bool = True,
) -> list[Prediction]:
    return await classify(
        server=server,
        model=model,
        make_feeds=lambda loaded: image_feeds(
            loaded,
            images,
            max_pixels=max_pixels,
            max_request_pixels=max_request_pixels,
            name_files=name_files,
        ),
        top_k=top_k,
    )


async def predict_one(
    *, server: ModelServer, model: AuthorizedModel, image: bytes, top_k: int, max_pixels: int
) -> Prediction:
    (prediction,) = await predict_images(
        server=server,
        model=model,
        images=[("body", image)],
        top_k=top_k,
        max_pixels=max_pixels,
        name_files=False,
    )
    return prediction


async def predict_many(
    *,
    server: ModelServer,
    model: AuthorizedModel,
    images: Sequence[tuple[str, bytes]],
    top_k: int,
    max_pixels: int,
    max_request_pixels: int | None = None,
) -> BatchPrediction:
    predictions = await predict_images(
        server=server,
        model=model,
        images=images,
        top_k=top_k,
        max_pixels=max_pixels,
        max_request_pixels=max_request_pixels,
    )
    return BatchPrediction(model_id=model.model_id, predictions=predictions)
