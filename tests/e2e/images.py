"""Small generated image data sets: each class a colour, with noise and position jitter, so it is not
trivial."""

from __future__ import annotations

import io
import random
import zipfile

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220)}


def class_image(colour: tuple[int, int, int], *, seed: int, size: int = 64) -> Image.Image:
    rng = random.Random(seed)
    background = tuple(rng.randint(90, 160) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    x, y = rng.randint(0, size // 3), rng.randint(0, size // 3)
    r = rng.randint(size // 3, size // 2)
    draw.ellipse(
        [x, y, x + r + 8, y + r + 8], fill=tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in colour)
    )
    for _ in range(60):
        px, py = rng.randrange(size), rng.randrange(size)
        image.putpixel((px, py), tuple(rng.randrange(256) for _ in range(3)))
    return image


def jpeg_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def image_zip(
    classes: dict[str, tuple[int, int, int]] = COLOURS, *, per_class: int = 12, top: str = ""
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c, (name, colour) in enumerate(classes.items()):
            for i in range(per_class):
                zf.writestr(f"{top}{name}/{i:03d}.jpg", jpeg_bytes(class_image(colour, seed=c * 1000 + i)))
    return buf.getvalue()
