"""Text -> token ids, with HF ``tokenizers`` only (no torch): the one implementation the trainer and the
inference service both call, so a served text becomes exactly the ids the ONNX check saw.

A tokenizer is a ``tokenizers`` JSON document; it carries its own normalisation, truncation to the
model's maximum length and padding (``[PAD]`` = id 0, right side, to the longest text of the batch).
The trainer writes it beside the model as ``tokenizer.json``; the model card names it.

- ``train_word_tokenizer``: a word-level vocabulary learned from the training texts (NFKC, optional
  lower-casing, split on whitespace and punctuation; words rarer than ``min_frequency`` or beyond
  ``max_size`` become ``[UNK]``), for the models trained from scratch.
- ``wordpiece_tokenizer``: a pretrained model's own WordPiece tokenizer (MiniLM's), read from a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID = 0
# A text is cut to this many characters before tokenizing: far beyond any model's maximum length
# in tokens, it bounds the tokenizer's work on a hostile input.
DEFAULT_MAX_CHARS = 20_000


class TextTokenizer:
    def __init__(self, tokenizer: Tokenizer, *, max_length: int) -> None:
        if tokenizer.token_to_id(PAD) != PAD_ID:
            raise ValueError(f"the tokenizer's {PAD} token must have id {PAD_ID}")
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.enable_padding(pad_id=PAD_ID, pad_token=PAD)
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def from_json(cls, document: str | bytes, *, max_length: int) -> TextTokenizer:
        text = document.decode() if isinstance(document, bytes) else document
        return cls(Tokenizer.from_str(text), max_length=max_length)

    def to_json(self) -> bytes:
        return self.tokenizer.to_str().encode()

    def sha256(self) -> str:
        return hashlib.sha256(self.to_json()).hexdigest()

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, texts: Sequence[str], *, max_chars: int = DEFAULT_MAX_CHARS) -> np.ndarray:
        """int64 [len(texts), L]: ids right-padded with ``PAD_ID`` to the longest text (L >= 1)."""
        if not texts:
            return np.zeros((0, 1), dtype=np.int64)
        encodings = self.tokenizer.encode_batch([t[:max_chars] for t in texts], add_special_tokens=True)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] == 0:  # every text empty: one column of padding
            ids = np.full((len(texts), 1), PAD_ID, dtype=np.int64)
        return ids


def train_word_tokenizer(
    texts: Iterable[str], *, lowercase: bool, min_frequency: int, max_size: int, max_length: int
) -> TextTokenizer:
    """A word-level vocabulary of at most ``max_size`` words (plus [PAD], [UNK]) from ``texts``."""
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        vocab_size=max_size + 2, min_frequency=min_frequency, special_tokens=[PAD, UNK], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return TextTokenizer(tokenizer, max_length=max_length)


def wordpiece_tokenizer(path: Path, *, max_length: int) -> TextTokenizer:
    """A pretrained model's ``tokenizer.json`` (e.g. MiniLM's WordPiece, with [CLS] ... [SEP])."""
    return TextTokenizer(Tokenizer.from_file(str(path)), max_length=max_length)
