"""Slides through OpenSlide (``openslide-bin`` ships the library): Aperio, DICOM WSI, Hamamatsu, Leica, MIRAX,
Philips, Sakura, Trestle, Ventana and generic tiled TIFF, shown as QuPath's OpenSlide server shows them.

Bounds: where a slide states all four ``openslide.bounds-*`` properties (MIRAX, Leica, Hamamatsu VMS,
Ventana...), the image is that rectangle, and its pixel (0, 0) is the slide's (bounds-x, bounds-y), exactly as
QuPath applies them by default (its ``--no-crop`` switches them off; we do not offer that). So annotations in a
QuPath project line up with the pixels read here. Levels keep the downsamples of the whole slide, estimated
as QuPath does, with the bounds' size at each of them.

Pixels: OpenSlide returns non-premultiplied RGBA; transparent pixels (outside scanned areas) are drawn over
the slide's ``openslide.background-color`` where it states one (as QuPath does) and over white otherwise
(QuPath leaves them black there; white is glass, so the tissue mask skips it).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import ImageReadError
from ..geometry.tiling import tile_pixel_size
from ..records import Rect
from .slide import WHITE, Level, best_level, check_inside, composite, level_window, levels_for, resize, short

log = logging.getLogger(__name__)

# Pixel sizes at or above this are a writer's default resolution (72 / 96 dpi), never a microscope's.
MAX_PLAUSIBLE_UM = 50.0


def detect_format(path: Path) -> Optional[str]:
    """The OpenSlide vendor of a file (``aperio``, ``dicom``, ``mirax``, ``generic-tiff``...), or None.

    Args:
        path: The file.

    Returns:
        The vendor name OpenSlide gives, None when it does not know the file (or OpenSlide is missing).
    """
    try:
        import openslide
    except ImportError as err:  # openslide-bin not installed: the tifffile readers still work
        log.debug("OpenSlide is not available: %s", err)
        return None
    try:
        return openslide.OpenSlide.detect_format(str(path))
    except Exception as err:  # OpenSlide raises on unreadable files; "unknown" is the answer then
        log.debug("OpenSlide cannot tell what %s is: %s", path, err)
        return None


def _int_prop(props: Any, name: str) -> Optional[int]:
    try:
        return int(props[name])
    except (KeyError, ValueError, TypeError):
        return None


def _mpp(props: Any) -> Optional[float]:
    """QuPath's averaged pixel size from ``openslide.mpp-x/y`` (both needed, positive and finite)."""
    try:
        x, y = float(props["openslide.mpp-x"]), float(props["openslide.mpp-y"])
    except (KeyError, ValueError, TypeError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        return None
    size = (x + y) / 2
    return size if size < MAX_PLAUSIBLE_UM else None


def _background(props: Any) -> tuple[int, int, int]:
    text = str(props.get("openslide.background-color", "") or "").lstrip("#")
    try:
        value = int(text, 16) if len(text) == 6 else None
    except ValueError:
        value = None
    return WHITE if value is None else ((value >> 16) & 255, (value >> 8) & 255, value & 255)


class OpenSlideReader:
    """A slide OpenSlide opens (see the module docstring for bounds and background).

    Args:
        path: The slide file (for DICOM WSI any file of the series; OpenSlide finds the others next to it).
        vendor: The format ``detect_format`` gave.
    """

    reader = "openslide"

    def __init__(self, path: Path, vendor: str) -> None:
        import openslide

        try:
            self._osr = openslide.OpenSlide(str(path))
        except Exception as err:  # OpenSlideError, OpenSlideUnsupportedFormatError
            raise ImageReadError(f"OpenSlide ({vendor}) cannot open '{path}': {short(err)}") from err
        self.format = vendor
        props = self._osr.properties
        full = tuple(int(v) for v in self._osr.dimensions)
        bx, by = _int_prop(props, "openslide.bounds-x"), _int_prop(props, "openslide.bounds-y")
        bw, bh = _int_prop(props, "openslide.bounds-width"), _int_prop(props, "openslide.bounds-height")
        if None not in (bx, by, bw, bh) and bw and bh and bw > 0 and bh > 0:
            self.bounds = Rect(int(bx or 0), int(by or 0), int(bw), int(bh))
        else:
            self.bounds = Rect(0, 0, full[0], full[1])
        self.width, self.height = self.bounds.width, self.bounds.height
        sizes = [(int(w), int(h)) for w, h in self._osr.level_dimensions]
        self.levels: tuple[Level, ...] = levels_for((full[0], full[1]), sizes, (self.width, self.height))
        self.pixel_size_um = _mpp(props)
        self._background = _background(props)
        self._check_decodes(path)

    def _check_decodes(self, path: Path) -> None:
        """Fail at open, not mid-batch, on a slide whose tiles cannot be decoded (QuPath reads a thumbnail
        for the same reason): the whole smallest level, or its centre where that level is still large."""
        last = len(self.levels) - 1
        lw, lh = (int(v) for v in self._osr.level_dimensions[last])
        w, h = min(lw, 4096), min(lh, 4096)
        d = self._osr.level_downsamples[last]
        x, y = self.bounds.x + int((lw - w) / 2 * d), self.bounds.y + int((lh - h) / 2 * d)
        try:
            self._osr.read_region((x, y), last, (w, h))
        except Exception as err:
            self._osr.close()
            raise ImageReadError(
                f"OpenSlide ({self.format}) opens '{path}' but cannot decode it: {short(err)}"
            ) from err

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """RGB pixels of a level-0 rectangle (bounds-relative, as QuPath's) at a downsample.

        Args:
            rect: Level-0 rectangle inside the image.
            downsample: Level-0 pixels per output pixel.

        Returns:
            (h, w, 3) uint8, h and w as QuPath rounds them.
        """
        check_inside(rect, self.width, self.height)
        index = best_level(self.levels, downsample)
        _, _, w, h = level_window(rect, self.levels[index], downsample)
        try:
            rgba = self._osr.read_region((rect.x + self.bounds.x, rect.y + self.bounds.y), index, (w, h))
        except Exception as err:  # a truncated or corrupt tile
            raise ImageReadError(f"OpenSlide cannot read {rect} at level {index}: {short(err)}") from err
        rgb = composite(np.asarray(rgba), self._background)
        return resize(rgb, *tile_pixel_size(rect, downsample))

    def close(self) -> None:
        """Close the slide."""
        self._osr.close()
