"""What differs between tasks at load time: does the graph fit its card, and an example batch to warm it.

A task registers a ``ServingTask`` under its model card's ``task`` value. Everything after loading
(admission, batching, running, ranking) is the same for every task; a task's request side only turns
a request into ``Feeds`` (see ``inference.predict.feeds``), e.g. ``image_feeds`` in ``preprocessing``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort
from common.contracts import ModelCard
from common.imaging import Preprocessing

from inference.predict.feeds import Feeds
from inference.predict.sessions import LoadedModel, ModelLoadError
from inference.predict.text import check_text_signature, text_example, text_pad_values

PREFERRED_INPUT = "input"
PREFERRED_OUTPUT = "logits"


@dataclass(frozen=True)
class ServingTask:
    # (session, card) -> the name of the (N, classes) logits output; raises ModelLoadError.
    check: Callable[[ort.InferenceSession, ModelCard], str]
    # one row of valid input, used to warm a freshly loaded session
    example_feeds: Callable[[LoadedModel], Feeds]
    # card -> value each input is right-padded with when requests of different lengths share a run
    # (inputs not named pad with 0)
    pad_values: Callable[[ModelCard], Mapping[str, float]] = field(default=lambda card: {})


def _static(dim: object) -> int | None:
    """A dimension as an int when it is fixed; None for a named (dynamic) axis."""
    return dim if isinstance(dim, int) and dim > 0 else None


def check_logits(session: ort.InferenceSession, *, card: ModelCard) -> str:
    """The name of the output that gives (N, classes) logits."""
    outputs = session.get_outputs()
    logits = next((o for o in outputs if o.name == PREFERRED_OUTPUT), outputs[0])
    out_shape = list(logits.shape)
    if len(out_shape) != 2 or _static(out_shape[1]) not in (None, len(card.classes)):
        raise ModelLoadError(
            f"the model's output {logits.name!r} has shape {out_shape}; expected (N, {len(card.classes)}) "
            "to match the card's classes"
        )
    return logits.name


def check_image_signature(session: ort.InferenceSession, card: ModelCard) -> str:
    """The logits output name once the graph is known to take (N, 3, S, S) float and give (N, classes)."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelLoadError(f"the model has {len(inputs)} inputs; expected one image tensor")
    image = inputs[0]
    if image.type != "tensor(float)":
        raise ModelLoadError(f"the model's input {image.name!r} is {image.type}; expected tensor(float)")
    shape = list(image.shape)
    input_size = Preprocessing.from_card(card).input_size
    if len(shape) != 4 or _static(shape[1]) not in (None, 3):
        raise ModelLoadError(f"the model's input {image.name!r} has shape {shape}; expected (N, 3, H, W)")
    for dim in shape[2:]:
        if _static(dim) not in (None, input_size):
            raise ModelLoadError(
                f"the model's input {image.name!r} has shape {shape} but its card says "
                f"input_size {input_size}"
            )
    return check_logits(session, card=card)


def image_example(loaded: LoadedModel) -> Feeds:
    size = loaded.preprocessing.input_size
    return {loaded.inputs[0].name: np.zeros((1, 3, size, size), dtype=np.float32)}


TASKS: dict[str, ServingTask] = {
    "image": ServingTask(check=check_image_signature, example_feeds=image_example),
    "text": ServingTask(check=check_text_signature, example_feeds=text_example, pad_values=text_pad_values),
}


def task_for(card: ModelCard) -> ServingTask:
    task = TASKS.get(card.task)
    if task is None:
        raise ModelLoadError(f"this service cannot serve {card.task!r} models (it serves {sorted(TASKS)})")
    return task
