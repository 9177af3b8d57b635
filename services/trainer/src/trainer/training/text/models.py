"""Text classifiers trained from scratch on a word vocabulary. Each takes ``input_ids`` int64 [batch, L],
right-padded with id 0, and is exactly padding-invariant: extra padding changes no logit (beyond float
rounding), so a text scores the same alone, in a training batch or in a serving batch of any length.

- ``FastText``: the mean of unigram and hashed-bigram embeddings (an ``EmbeddingBag``), then a linear head.
- ``KimCnn``: Kim (2014): convolutions of widths 3/4/5 over embeddings, max-pooled over valid windows.
- ``Recurrent``: LSTM or GRU, optionally bidirectional and stacked. Padding is masked exactly: the
  forward direction reads its state at each text's last token, the backward direction runs over each
  text's own tokens reversed (a per-row index, not the padded tail).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

BIGRAM_PRIME = 1_000_003


def lengths_of(ids: torch.Tensor) -> torch.Tensor:
    """Tokens per row (at least 1: an empty text reads one padding token, the same everywhere)."""
    return (ids != 0).sum(1).clamp(min=1)


class FastText(nn.Module):
    """An ``EmbeddingBag`` (mean, padding excluded) over each text's unigram and hashed bigram ids.
    The exported graph computes the same mean with a gather and a masked sum (ONNX has no bag op).

    ``sparse``: the table's gradient holds only the rows a batch used (a few thousand of ~40k), for a
    sparse optimizer (``text.optim``): a dense gradient and Adam update of the whole table each step
    was most of fastText's training time."""

    def __init__(
        self,
        *,
        vocab_size: int,
        embedding_dim: int,
        bigram_buckets: int,
        num_classes: int,
        dropout: float,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size, self.bigram_buckets = vocab_size, bigram_buckets
        self.embedding = nn.EmbeddingBag(
            vocab_size + bigram_buckets, embedding_dim, mode="mean", padding_idx=0, sparse=sparse
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, num_classes)
        nn.init.uniform_(self.embedding.weight, -0.5 / embedding_dim, 0.5 / embedding_dim)
        with torch.no_grad():
            self.embedding.weight[0].zero_()

    def bag_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, L + L-1]: the unigrams, then a bucket per pair of neighbours (0 where either is padding)."""
        if not self.bigram_buckets or input_ids.shape[1] < 2:
            return input_ids
        left, right = input_ids[:, :-1], input_ids[:, 1:]
        bigrams = (left * BIGRAM_PRIME + right) % self.bigram_buckets + self.vocab_size
        both = (left != 0) & (right != 0)
        return torch.cat([input_ids, torch.where(both, bigrams, torch.zeros_like(bigrams))], 1)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        ids = self.bag_ids(input_ids)
        if torch.onnx.is_in_onnx_export():
            valid = (ids != 0).to(torch.float32)[:, :, None]
            mean = (self.embedding.weight[ids] * valid).sum(1) / valid.sum(1).clamp(min=1.0)
        else:
            mean = self.embedding(ids)
        return self.head(self.dropout(mean))


class KimCnn(nn.Module):
    def __init__(
        self,
        *,
        vocab_size: int,
        embedding_dim: int,
        filter_sizes: list[int],
        n_filters: int,
        num_classes: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.filter_sizes = list(filter_sizes)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, n_filters, size) for size in filter_sizes)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(n_filters * len(filter_sizes), num_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        lengths = lengths_of(input_ids)
        widest = max(self.filter_sizes)
        x = self.embedding(F.pad(input_ids, (0, widest - 1))).transpose(1, 2)  # [B, E, L + widest - 1]
        pooled = []
        for size, conv in zip(self.filter_sizes, self.convs, strict=True):
            out = F.relu(conv(x))  # [B, F, windows]
            starts = torch.arange(out.shape[2], device=out.device)[None, :]
            # Windows inside the text; a text shorter than the filter keeps its first window (zeros after).
            valid = starts + size <= torch.clamp(lengths, min=size)[:, None]
            pooled.append((out * valid[:, None, :].to(out.dtype)).amax(2))
        return self.head(self.dropout(torch.cat(pooled, 1)))


def _reverse_index(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """[B, L]: position t -> len-1-t inside the text, t beyond it (an involution)."""
    positions = torch.arange(length, device=lengths.device)[None, :]
    inside = positions < lengths[:, None]
    return torch.where(inside, lengths[:, None] - 1 - positions, positions)


def _take(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))


class Recurrent(nn.Module):
    def __init__(
        self,
        *,
        cell: str,
        vocab_size: int,
        embedding_dim: int,
        hidden_dim: int,
        number_of_layers: int,
        bidirectional: bool,
        num_classes: int,
        dropout: float,
    ) -> None:
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        sizes = [embedding_dim] + [hidden_dim * directions] * (number_of_layers - 1)
        self.forward_layers = nn.ModuleList(rnn(size, hidden_dim, batch_first=True) for size in sizes)
        self.backward_layers = nn.ModuleList(
            rnn(size, hidden_dim, batch_first=True) for size in (sizes if bidirectional else [])
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_dim * directions, num_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        lengths = lengths_of(input_ids)
        reverse = _reverse_index(lengths, input_ids.shape[1])
        x = self.dropout(self.embedding(input_ids))
        last = len(self.forward_layers) - 1
        for i, forward_rnn in enumerate(self.forward_layers):
            forward_out, _ = forward_rnn(x)
            if self.backward_layers:
                backward_out, _ = self.backward_layers[i](_take(x, reverse))
                backward_out = _take(backward_out, reverse)  # back in text order
                x = torch.cat([forward_out, backward_out], 2)
            else:
                x = forward_out
            if i < last:
                x = self.dropout(x)
        hidden = forward_out.shape[2]
        final = _take(x[:, :, :hidden], (lengths - 1)[:, None])[:, 0]  # forward: after the last token
        if self.backward_layers:
            final = torch.cat([final, x[:, 0, hidden:]], 1)  # backward: after reading back to the first
        return self.head(self.dropout(final))
