"""A small canvas for the run reports, on PIL (already a dependency): text placed by anchor and cut
to fit, dashed lines, markers, round tick positions. Everything is drawn at ``SCALE`` times its size and
reduced once at the end, which smooths the lines, markers and text that PIL draws aliased. The reports
used matplotlib before: its import alone cost 0.35 s of a 6 s quick run, its two figures 0.4 s more."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageColor, ImageDraw, ImageFont

SCALE = 2
Colour = str | tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
ELLIPSIS = "…"


# DejaVu Sans (Debian's fonts-dejavu-core, in the trainer image) covers accented Latin, Greek, Cyrillic,
# Hebrew and Arabic class names; Pillow's bundled face, the fallback, covers ASCII only (other letters
# draw as boxes). Neither has CJK: such names draw as boxes, they never fail a run.
FACES = ("DejaVuSans.ttf",)


@functools.cache
def face(px: int) -> Font:
    """The report face, ``px`` pixels high, for text drawn straight onto an image (the example grids);
    FreeType, which Pillow's wheels ship (without it Pillow falls back to a fixed bitmap face)."""
    for name in FACES:
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    return ImageFont.load_default(size=px)


def font(size: int) -> Font:
    """The face for a ``Canvas``: ``size`` logical px, drawn at ``SCALE`` times that."""
    return face(size * SCALE)


def _drawable(text: str, face: Font) -> str:
    if isinstance(face, ImageFont.FreeTypeFont):
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


@functools.cache
def _vertical_extent(face: Font) -> tuple[int, int]:
    """Top and bottom of capitals and descenders below the drawing origin: one anchor for every
    label of a face, so labels of different letters sit on one line."""
    _, top, _, bottom = face.getbbox("Ag")
    return int(top), int(bottom)


@dataclass(frozen=True)
class _Glyphs:
    mask: Image.Image  # coverage of the drawn text, "L"
    left: int  # the mask's corner from the text's origin (the start of its first line's ascent)
    top: int
    width: float  # advance, px at SCALE


@functools.lru_cache(maxsize=4096)
def _glyphs(text: str, size: int) -> _Glyphs:
    """``text`` rendered once per size: a matrix repeats its counts and class names many times."""
    face = font(size)
    shown = _drawable(text, face)
    left, top, right, bottom = (int(v) for v in face.getbbox(shown))
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), shown, fill=255, font=face)
    return _Glyphs(mask, left, top, face.getlength(shown))


def text_width(text: str, size: int) -> float:
    face = font(size)
    return face.getlength(_drawable(text, face)) / SCALE


def fit(text: str, size: int, width: float) -> str:
    """``text``, cut and ended with an ellipsis where it is wider than ``width`` logical px."""
    if text_width(text, size) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + ELLIPSIS, size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


def nice_step(span: float, target: int, *, integer: bool = False) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten; no 2.5 for ``integer``) giving about ``target``
    intervals over ``span``."""
    raw = max(span, 1e-12) / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multiples if m * magnitude >= raw * (1 - 1e-9))
    return max(step, 1) if integer else step


def ticks(low: float, high: float, step: float) -> list[float]:
    """Multiples of ``step`` within [low, high]."""
    first = math.ceil(low / step - 1e-9)
    count = math.floor(high / step + 1e-9) - first + 1
    return [round((first + k) * step, 12) for k in range(max(count, 0))]


def decimals(step: float) -> int:
    """The decimals that tell apart the multiples of ``step``."""
    return next((d for d in range(8) if abs(round(step, d) - step) <= 1e-9 * step), 8)


class Canvas:
    """An RGB image addressed in logical px; ``png()`` reduces it to its logical size."""

    def __init__(self, width: int, height: int, background: Colour = "white") -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width * SCALE, height * SCALE), background)
        self.draw = ImageDraw.Draw(self.image)

    def line(
        self, points: Sequence[tuple[float, float]], fill: Colour, width: float = 1.0, *, snap: bool = False
    ) -> None:
        """``snap``: on whole px, which keeps a thin rule crisp (a rule between two px turns grey)."""
        scaled = [((round(x) if snap else x) * SCALE, (round(y) if snap else y) * SCALE) for x, y in points]
        self.draw.line(scaled, fill=fill, width=max(1, round(width * SCALE)), joint="curve")

    def dashed(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        fill: Colour,
        dash: float = 4,
        gap: float = 3,
    ) -> None:
        (x0, y0), (x1, y1) = start, end
        length = math.hypot(x1 - x0, y1 - y0)
        position = 0.0
        while position < length:
            stop = min(position + dash, length)
            a, b = position / length, stop / length
            self.line(
                [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                fill,
                snap=True,
            )
            position = stop + gap

    def rectangle(
        self,
        box: tuple[float, float, float, float],
        fill: Colour | None = None,
        outline: Colour | None = None,
    ) -> None:
        x0, y0, x1, y1 = (round(v * SCALE) for v in box)
        self.draw.rectangle(
            (x0, y0, x1 - 1, y1 - 1), fill=fill, outline=outline, width=SCALE if outline else 0
        )

    def dot(self, x: float, y: float, radius: float, fill: Colour) -> None:
        r = radius * SCALE
        self.draw.ellipse((x * SCALE - r, y * SCALE - r, x * SCALE + r, y * SCALE + r), fill=fill)

    def text(
        self, xy: tuple[float, float], text: str, *, size: int, fill: Colour, anchor: str = "lt"
    ) -> float:
        """Draws ``text`` with its ``anchor`` point at ``xy``: ``l``/``m``/``r`` across, ``t``/``m``/``b``
        vertically (capitals' top, middle, descenders' bottom). Returns its width in logical px."""
        glyphs = _glyphs(text, size)
        top, bottom = _vertical_extent(font(size))
        x = xy[0] * SCALE - {"l": 0.0, "m": glyphs.width / 2, "r": glyphs.width}[anchor[0]]
        y = xy[1] * SCALE - {"t": top, "m": (top + bottom) / 2, "b": bottom}[anchor[1]]
        self.image.paste(
            ImageColor.getrgb(fill), (round(x + glyphs.left), round(y + glyphs.top)), glyphs.mask
        )
        return glyphs.width / SCALE

    def vertical_text(
        self, xy: tuple[float, float], text: str, *, size: int, fill: Colour, anchor: str = "mm"
    ) -> None:
        """``text`` turned a quarter anticlockwise (read from bottom to top); ``anchor`` as for ``text``,
        in the turned text's own frame (``r`` is its top end, ``t`` its left side)."""
        glyphs = _glyphs(text, size)
        top, bottom = _vertical_extent(font(size))
        along = {"l": 0.0, "m": glyphs.width / 2, "r": glyphs.width}[anchor[0]]  # from the start, upwards
        across = {"t": top, "m": (top + bottom) / 2, "b": bottom}[anchor[1]]  # from the line's origin
        # turned, the mask's bottom edge is the text's start and its left edge the text's top
        x = xy[0] * SCALE - across + glyphs.top
        y = xy[1] * SCALE + along - glyphs.left - glyphs.mask.width
        turned = glyphs.mask.transpose(Image.Transpose.ROTATE_90)
        self.image.paste(ImageColor.getrgb(fill), (round(x), round(y)), turned)

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.reduce(SCALE).save(buffer, "PNG", compress_level=3)
        return buffer.getvalue()
