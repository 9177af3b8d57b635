"""Text models, request side: ``{"text": ...}`` / ``{"texts": [...]}`` JSON, and a CSV of texts in and
a CSV of predictions out. Every text is checked before any model work: none empty, none over the
length cap, not too many; an image sent to a text model is told what to send instead."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from common.contracts import BatchPrediction, Prediction
from common.csvsafe import neutralize
from common.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from fastapi import Request
from fastapi.responses import Response

from inference.predict import service
from inference.predict.auth import AuthorizedModel
from inference.predict.errors import UnsupportedUpload
from inference.predict.server import ModelServer
from inference.predict.text import TokenizerCache, text_feeds, text_preprocessing
from inference.predict.uploads import _capped, _refuse_declared_length, media_type

TOKENIZERS = TokenizerCache()
JSON_HINT = 'send JSON {"text": "..."} or {"texts": ["...", ...]} with content type application/json'
CSV_HINT = "send a CSV (text/csv body, or multipart field 'file') with a header row and a 'text' column"
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
# Texts this short in all are tokenized on the event loop: tens of microseconds, less than a hand-off
# to a worker thread and back.
INLINE_TOKENIZE_CHARS = 4096


class InvalidText(Unprocessable):
    code = "invalid_text"


class TooManyTexts(PayloadTooLarge):
    code = "too_many_texts"


class NotText(UnsupportedMediaType):
    code = "text_model_needs_text"


class NotImage(UnsupportedUpload):
    """Text sent to an image model (same code as any other unusable upload, a message that says why)."""


def refuse_text_for_image_model(request: Request) -> None:
    kind = media_type(request)
    if kind in ("application/json", "text/csv", "application/csv"):
        raise NotImage(
            f"this model classifies images, and the request has content type {kind!r}; send the image as "
            "multipart/form-data field 'file' (several: 'files' to /api/predict/batch) or as an image/* body"
        )


def check_texts(texts: Sequence[Any], *, max_chars: int, max_texts: int) -> list[str]:
    if not texts:
        raise InvalidText(f"no texts to classify; {JSON_HINT}")
    if len(texts) > max_texts:
        raise TooManyTexts(f"{len(texts)} texts in one request; the limit is {max_texts}: split them")
    for n, text in enumerate(texts):
        where = f"text {n}" if len(texts) > 1 else "the text"
        if not isinstance(text, str):
            raise InvalidText(f"{where} is {type(text).__name__}, not a string; {JSON_HINT}")
        if not text.strip():
            raise InvalidText(f"{where} is empty; send at least one word")
        if len(text) > max_chars:
            raise InvalidText(f"{where} has {len(text)} characters; this model takes at most {max_chars}")
    return list(texts)


async def _body(request: Request, *, max_bytes: int) -> bytes:
    _refuse_declared_length(request, max_bytes=max_bytes)
    return b"".join([chunk async for chunk in _capped(request, max_bytes=max_bytes)])


async def read_json_texts(request: Request, *, max_bytes: int) -> tuple[list[Any], bool]:
    """(texts, whether the body named a list) from ``{"text": ...}`` or ``{"texts": [...]}``."""
    kind = media_type(request)
    if kind != "application/json":
        received = f"content type {kind!r}" if kind else "no content type"
        raise NotText(f"this model classifies text, and the request has {received}; {JSON_HINT}")
    try:
        body = json.loads(await _body(request, max_bytes=max_bytes))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidText(f"the body is not valid JSON ({e}); {JSON_HINT}") from e
    if not isinstance(body, dict) or len({"text", "texts"} & set(body)) != 1 or set(body) - {"text", "texts"}:
        raise InvalidText(f"expected exactly one of the fields 'text' or 'texts'; {JSON_HINT}")
    if "text" in body:
        return [body["text"]], False
    if not isinstance(body["texts"], list):
        raise InvalidText(f"'texts' must be a list of strings; {JSON_HINT}")
    return body["texts"], True


async def read_csv_texts(request: Request, *, max_bytes: int) -> list[str]:
    kind = media_type(request)
    if kind == "multipart/form-data":
        _refuse_declared_length(request, max_bytes=max_bytes)
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidText(f"no 'file' field in the form; {CSV_HINT}")
        data = await upload.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"the CSV is over {max_bytes} bytes; split it")
    elif kind in CSV_TYPES:
        data = await _body(request, max_bytes=max_bytes)
    else:
        raise NotText(f"this model classifies text; {CSV_HINT}")
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as e:
        raise InvalidText(f"the CSV cannot be read ({e}); {CSV_HINT} in UTF-8") from e
    if not rows or "text" not in rows[0]:
        raise InvalidText(f"the CSV has no rows with a 'text' column; {CSV_HINT}")
    return [row["text"] or "" for row in rows]


async def classify_texts(
    *, server: ModelServer, model: AuthorizedModel, store: Any, texts: list[str], top_k: int
) -> list[Prediction]:
    tokenizer = TOKENIZERS.cached(model) or await asyncio.to_thread(TOKENIZERS.get, store, model)
    return await service.classify(
        server=server,
        model=model,
        make_feeds=lambda loaded: text_feeds(loaded, tokenizer, texts),
        top_k=top_k,
        inline_feeds=sum(len(t) for t in texts) <= INLINE_TOKENIZE_CHARS,
    )


async def predict_json(
    request: Request,
    *,
    server: ModelServer,
    model: AuthorizedModel,
    store: Any,
    top_k: int,
    max_bytes: int,
    max_texts: int,
) -> Prediction | BatchPrediction:
    raw, many = await read_json_texts(request, max_bytes=max_bytes)
    texts = check_texts(raw, max_chars=text_preprocessing(model.card).max_chars, max_texts=max_texts)
    predictions = await classify_texts(server=server, model=model, store=store, texts=texts, top_k=top_k)
    return BatchPrediction(model_id=model.model_id, predictions=predictions) if many else predictions[0]


async def predict_csv(
    request: Request,
    *,
    server: ModelServer,
    model: AuthorizedModel,
    store: Any,
    top_k: int,
    max_bytes: int,
    max_texts: int,
) -> Response:
    """CSV in (a 'text' column) -> CSV out: text, then label_1, probability_1 ... label_k, probability_k."""
    raw = await read_csv_texts(request, max_bytes=max_bytes)
    texts = check_texts(raw, max_chars=text_preprocessing(model.card).max_chars, max_texts=max_texts)
    predictions = await classify_texts(server=server, model=model, store=store, texts=texts, top_k=top_k)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["text", *[f"{kind}_{i}" for i in range(1, top_k + 1) for kind in ("label", "probability")]]
    )
    for text, prediction in zip(texts, predictions, strict=True):
        cells = [v for s in prediction.top_k for v in (neutralize(s.label), f"{s.probability:.6f}")]
        writer.writerow([neutralize(text), *cells])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
