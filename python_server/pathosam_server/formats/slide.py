"""The one reader interface of the formats room: what every image reader (OpenSlide, tifffile, Pillow) offers.

A reader shows one image plane in level-0 pixels (after the vendor's bounds, as QuPath shows it) and hands
out RGB uint8 pixels of level-0 rectangles at any downsample, read from the pyramid level QuPath would read
(``best_level``) and resampled from there with a box filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np
from PIL import Image as PILImage

from ..errors import ImageReadError
from ..geometry.tiling import tile_pixel_size
from ..records import Rect

WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Level:
    """One pyramid level.

    Attributes:
        width: Level width in its own pixels.
        height: Level height in its own pixels.
        downsample: Level-0 pixels per level pixel.
    """

    width: int
    height: int
    downsample: float


class PixelSource(Protocol):
    """Anything that can hand out RGB pixels of level-0 rectangles (what the pipeline needs)."""

    width: int
    height: int

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """RGB uint8 pixels of ``rect`` at ``downsample`` (shape (h, w, 3))."""
        ...


class SlideReader(PixelSource, Protocol):
    """An opened image file: geometry, calibration and region reads.

    Attributes:
        reader: The library that reads it: ``openslide``, ``tifffile`` or ``pillow``.
        format: What the file is, as that library names it (``aperio``, ``dicom``, ``ome-tiff``, ``png``...).
        width: Level-0 width of the image QuPath shows (the bounds' width where the vendor states bounds).
        height: Level-0 height, likewise.
        levels: The pyramid, level 0 first (its dimensions are the bounds' at that downsample).
        pixel_size_um: Micrometres per level-0 pixel (mean of x and y, as QuPath averages), or None.
        bounds: Where this image lies in the file's full level-0 plane (x, y = 0 without vendor bounds).
    """

    reader: str
    format: str
    levels: tuple[Level, ...]
    pixel_size_um: Optional[float]
    bounds: Rect

    def close(self) -> None:
        """Release the file."""
        ...


def describe(source: object) -> str:
    """``reader:format`` of a source (e.g. ``openslide:aperio``), for reports and provenance.

    Args:
        source: A SlideReader (or any PixelSource: those say ``array``).

    Returns:
        The label.
    """
    reader = getattr(source, "reader", "")
    return f"{reader}:{getattr(source, 'format', '')}" if reader else "array"


def estimate_downsample(full: tuple[int, int], level: tuple[int, int]) -> float:
    """A level's downsample from its size, as QuPath estimates it (``ImageResolutionLevel.Builder``).

    A power of two within 2 px of both sides wins, then an integer per axis within 1 px, then the mean of
    the two ratios; so 1000 x 701 -> 500 x 350 is 2, not 2.0014.

    Args:
        full: Level-0 (width, height).
        level: The level's (width, height).

    Returns:
        Level-0 pixels per level pixel.
    """
    (fw, fh), (lw, lh) = full, level
    dx, dy = fw / lw, fh / lh
    pow2 = 2.0 ** round(math.log2((dx + dy) / 2))
    if abs(fh / pow2 - lh) < 2 and abs(fw / pow2 - lw) < 2:
        return pow2
    if abs(fw / round(dx) - lw) <= 1:
        dx = float(round(dx))
    if abs(fh / round(dy) - lh) <= 1:
        dy = float(round(dy))
    if dx == dy:
        return dx
    if pow2 in (dx, dy):
        return pow2
    return (dx + dy) / 2


def levels_for(full: tuple[int, int], sizes: list[tuple[int, int]], shown: tuple[int, int]) -> tuple[Level, ...]:
    """Pyramid levels with QuPath's downsamples, sized for the image shown (the bounds where cropped).

    Args:
        full: The file's level-0 (width, height); downsamples are estimated against it.
        sizes: Every level's (width, height) in the file, level 0 first.
        shown: The shown image's level-0 (width, height).

    Returns:
        The levels.
    """
    out = []
    for size in sizes:
        d = 1.0 if size == full else estimate_downsample(full, size)
        w, h = size if shown == full else (int(shown[0] / d), int(shown[1] / d))
        out.append(Level(max(1, w), max(1, h), d))
    return tuple(out)


def best_level(levels: tuple[Level, ...], downsample: float) -> int:
    """The level QuPath reads a downsample from (``ServerTools.getPreferredResolutionLevel``).

    The coarsest level whose downsample is at most the requested one, or within 1 % of it: 4 is read from a
    3.99 or 4.02 level, 3 from the 2 level (then box-filtered), never from level 0 when a close level exists.

    Args:
        levels: The pyramid, level 0 first.
        downsample: Requested level-0 pixels per output pixel.

    Returns:
        The level index.
    """
    want = max(downsample, levels[0].downsample)
    best, best_diff = 0, math.inf
    for i, level in enumerate(levels):
        diff = want - level.downsample
        close = abs(diff) <= 0.01 * max(want, level.downsample)
        if (diff >= 0 or close) and diff < best_diff:
            best, best_diff = i, abs(diff)
    return best


def level_window(rect: Rect, level: Level, downsample: float) -> tuple[float, float, int, int]:
    """Where a level-0 rectangle lies on a level, and how many level pixels to read for it.

    Args:
        rect: Level-0 rectangle.
        level: The level chosen by ``best_level``.
        downsample: The requested downsample.

    Returns:
        (x, y) on the level (fractional), and the (width, height) in level pixels to read; where the level's
        downsample is within 1 % of the request, exactly the output size (nothing to resample).
    """
    d = level.downsample
    if abs(d - downsample) <= 0.01 * downsample:
        w, h = tile_pixel_size(rect, downsample)
    else:
        w, h = max(1, math.ceil(rect.width / d - 1e-9)), max(1, math.ceil(rect.height / d - 1e-9))
    return rect.x / d, rect.y / d, w, h


def composite(rgba: np.ndarray, background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """RGB of non-premultiplied RGBA drawn over a background colour (transparent = background).

    Args:
        rgba: (H, W, 4) uint8.
        background: The colour behind (white: glass; or the vendor's ``openslide.background-color``).

    Returns:
        (H, W, 3) uint8.
    """
    alpha = rgba[..., 3:4].astype(np.uint32)
    if bool((alpha == 255).all()):
        return np.ascontiguousarray(rgba[..., :3])
    bg = np.asarray(background, dtype=np.uint32)
    out = (rgba[..., :3].astype(np.uint32) * alpha + bg * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def resize(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Box-filter an RGB array to a size (unchanged when it already has it).

    Args:
        arr: (H, W, 3) uint8.
        width: Output width.
        height: Output height.

    Returns:
        (height, width, 3) uint8.
    """
    if arr.shape[1] == width and arr.shape[0] == height:
        return arr
    return np.asarray(PILImage.fromarray(arr).resize((width, height), PILImage.Resampling.BOX))


def short(err: BaseException) -> str:
    """The last line of a library's error (some wrap a whole traceback into their message).

    Args:
        err: The exception.

    Returns:
        One line naming its type where the message is empty.
    """
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def check_inside(rect: Rect, width: int, height: int) -> None:
    """Refuse a rectangle that leaves the image.

    Args:
        rect: Level-0 rectangle.
        width: Image width.
        height: Image height.
    """
    if rect.x < 0 or rect.y < 0 or rect.x1 > width or rect.y1 > height or rect.width <= 0 or rect.height <= 0:
        raise ImageReadError(f"rectangle {rect} is outside the {width} x {height} image")
