"""Text models, load side: the graph check, the warm-up row, the padding, and the tokenizer file.

A text model's ONNX graph takes ``input_ids`` int64 (N, L), right-padded with the card's ``pad_id``,
and gives (N, classes) logits. Its tokenizer is ``tokenizer.json`` beside ``model.onnx`` (the card
names it and its SHA-256); ``common.text`` encodes, exactly as the trainer did.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
from common.contracts import ModelCard, TextCardPreprocessing
from common.store import ObjectNotFound, ObjectStore
from common.text import TextTokenizer

from inference.predict.auth import AuthorizedModel
from inference.predict.errors import ModelUnavailable
from inference.predict.feeds import Feeds
from inference.predict.sessions import LoadedModel, ModelLoadError

INPUT = "input_ids"
TOKENIZER_CACHE_SIZE = 32


def text_preprocessing(card: ModelCard) -> TextCardPreprocessing:
    if not isinstance(card.preprocessing, TextCardPreprocessing):
        raise ModelLoadError(f"a {card.task} model card has no text preprocessing")
    return card.preprocessing


def check_text_signature(session: ort.InferenceSession, card: ModelCard) -> str:
    """The logits output name once the graph is known to take (N, L) int64 ids and give (N, classes)."""
    from inference.predict.tasks import check_logits

    text_preprocessing(card)
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(int64)" or len(inputs[0].shape) != 2:
        found = [(i.name, i.type, list(i.shape)) for i in inputs]
        raise ModelLoadError(
            f"the model's inputs are {found}; expected one (N, L) tensor(int64) of token ids"
        )
    return check_logits(session, card=card)


def text_example(loaded: LoadedModel) -> Feeds:
    pad = text_preprocessing(loaded.card).pad_id
    return {loaded.inputs[0].name: np.full((1, 1), pad, dtype=np.int64)}


def text_pad_values(card: ModelCard) -> dict[str, float]:
    return {INPUT: text_preprocessing(card).pad_id}


class TokenizerCache:
    """Tokenizers of recently used models, read from the store once and checked against the card."""

    def __init__(self, capacity: int = TOKENIZER_CACHE_SIZE) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], TextTokenizer] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, model: AuthorizedModel) -> TextTokenizer | None:
        """The model's tokenizer if it is already read (never blocks on the store)."""
        key = (model.model_id, text_preprocessing(model.card).tokenizer_sha256)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def get(self, store: ObjectStore, model: AuthorizedModel) -> TextTokenizer:
        """Blocking (store read on a miss): call it from a worker thread."""
        if (hit := self.cached(model)) is not None:
            return hit
        prep = text_preprocessing(model.card)
        key = (model.model_id, prep.tokenizer_sha256)
        tokenizer = _read_tokenizer(store, model, prep)
        with self._lock:
            self._items[key] = tokenizer
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return tokenizer


def tokenizer_key(onnx_key: str, file_name: str) -> str:
    folder = onnx_key.rsplit("/", 1)[0] + "/" if "/" in onnx_key else ""
    return folder + file_name


def _read_tokenizer(store: ObjectStore, model: AuthorizedModel, prep: TextCardPreprocessing) -> TextTokenizer:
    key = tokenizer_key(model.onnx_key, prep.tokenizer_file)
    try:
        tokenizer = TextTokenizer.from_json(store.get_bytes(key), max_length=prep.max_length)
    except ObjectNotFound as e:
        raise ModelUnavailable(
            f"model {model.model_id}'s tokenizer {key!r} is missing; re-run training"
        ) from e
    except (ValueError, UnicodeDecodeError, Exception) as e:  # tokenizers raises bare Exception on bad JSON
        raise ModelUnavailable(f"model {model.model_id}'s tokenizer {key!r} cannot be read: {e}") from e
    if tokenizer.sha256() != prep.tokenizer_sha256:
        raise ModelUnavailable(f"model {model.model_id}'s tokenizer {key!r} does not match its card")
    return tokenizer


def text_feeds(loaded: LoadedModel, tokenizer: TextTokenizer, texts: Sequence[str]) -> Feeds:
    return {loaded.inputs[0].name: tokenizer.encode(list(texts))}
