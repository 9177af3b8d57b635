"""Example grids of validation images: a random 5x5 of the correct and of the misclassified ones."""

from __future__ import annotations

import io

import numpy as np
from common.store import ObjectStore
from PIL import Image, ImageDraw

from trainer.training.core.drawing import face, fit
from trainer.training.core.reports import softmax

GRID = 5


def grid_image(
    pixels: np.ndarray, captions: list[tuple[str, str]], *, ok: bool, cell: int = 150, empty: str = ""
) -> bytes:
    """PNG of up to 5x5 images (uint8 NHWC), each under its two caption lines; sized to its content (a
    grid of 3 images is one row of 3). Drawn with PIL: 25 matplotlib subplots cost a second per grid."""
    caption_h = 30
    shown = min(len(pixels), GRID * GRID)
    columns = max(1, min(GRID, shown))
    rows = max(1, -(-shown // columns))
    canvas = Image.new("RGB", (max(columns * cell, 300), rows * (cell + caption_h)), "white")
    draw = ImageDraw.Draw(canvas)
    font = face(12)  # with the report figures' face: accented and non-Latin class names draw
    if shown == 0:
        draw.text((10, 10), empty or "no images in this group", fill="black", font=font)
    for k, (image, (first, second)) in enumerate(zip(pixels[:shown], captions, strict=False)):
        x, y = (k % columns) * cell, (k // columns) * (cell + caption_h)
        canvas.paste(
            Image.fromarray(image).resize((cell - 6, cell - 6), Image.BILINEAR), (x + 3, y + caption_h)
        )
        draw.text((x + 3, y + 2), fit(first, 12, cell - 8), fill="black", font=font)
        draw.text(
            (x + 3, y + 15), fit(second, 12, cell - 8), fill="darkgreen" if ok else "firebrick", font=font
        )
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", compress_level=1)  # level 6 took 3x as long for ~25% fewer bytes
    return buffer.getvalue()


def write_grids(
    *,
    store: ObjectStore,
    prefix: str,
    classes: list[str],
    labels: np.ndarray,
    logits: np.ndarray,
    val_pixels: np.ndarray,
    seed: int,
) -> dict[str, str]:
    """grid_{correct,incorrect}.png; name -> key."""
    predictions = logits.argmax(1)
    probabilities = softmax(logits)
    rng = np.random.default_rng(seed)
    keys = {}
    for name, chosen in (
        ("grid_correct.png", predictions == labels),
        ("grid_incorrect.png", predictions != labels),
    ):
        picked = rng.permutation(np.flatnonzero(chosen))[: GRID * GRID]
        captions = [
            (f"true: {classes[labels[i]]}", f"pred: {classes[predictions[i]]} ({probabilities[i].max():.0%})")
            for i in picked
        ]
        ok = name == "grid_correct.png"
        empty = "no correct predictions" if ok else "no mistakes on the validation set"
        png = grid_image(val_pixels[picked], captions, ok=ok, empty=empty)
        store.put_bytes(prefix + name, png, content_type="image/png")
        keys[name] = prefix + name
    return keys
