"""The tifffile and Pillow readers: OME-TIFF and plain TIFF (pyramidal too, read lazily tile by tile through
tifffile's zarr store, so a region of a whole slide never loads the whole slide), PNG and JPEG (decoded once).

Both implement ``slide.SlideReader``; ``readers.open_image`` picks between them and OpenSlide.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import ImageReadError
from ..geometry.tiling import tile_pixel_size
from ..records import Rect
from .slide import (
    Level,
    PixelSource,
    SlideReader,
    best_level,
    check_inside,
    composite,
    level_window,
    levels_for,
    resize,
    short,
)

log = logging.getLogger(__name__)

__all__ = ["ArraySource", "PixelSource", "SlideReader", "TiffSource"]


def _to_rgb(arr: np.ndarray, full_scale: Optional[float] = None) -> np.ndarray:
    """Channels-last RGB uint8 from grey, RGBA or 16-bit data.

    Args:
        arr: The pixels.
        full_scale: The value that becomes 255 for data that is not uint8. It must be the whole image's
            (its bit depth), never a tile's own maximum, or a region's pixels would depend on the tiling.
            None: decide from ``arr`` itself (only for whole images held in memory).

    Returns:
        (H, W, 3) uint8.
    """
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # channels-first (some OME-TIFFs)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ImageReadError(f"expected an RGB image, got array of shape {arr.shape}")
    if arr.shape[-1] == 4 and arr.dtype == np.uint8:
        return composite(arr)  # transparent is glass, as OpenSlide's pixels are drawn here
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if full_scale is None:
            full_scale = 65535.0 if float(arr.max()) > 255 else 255.0
        arr = np.clip(arr.astype(np.float32) * (255.0 / full_scale), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


class ArraySource:
    """Pixels held in memory: a decoded PNG / JPEG file, or an array (tests).

    Args:
        rgb: The pixels (grey, RGB or RGBA; RGBA is drawn over white).
        reader: Who decoded them (``pillow`` for files, ``array`` otherwise).
        format: The file's format (``png``, ``jpeg``) or ``array``.
        pixel_size_um: The calibration, where known.
    """

    def __init__(
        self, rgb: np.ndarray, reader: str = "array", format: str = "array", pixel_size_um: Optional[float] = None
    ) -> None:
        self.rgb = _to_rgb(rgb)
        self.height, self.width = self.rgb.shape[:2]
        self.reader, self.format, self.pixel_size_um = reader, format, pixel_size_um
        self.levels: tuple[Level, ...] = (Level(self.width, self.height, 1.0),)
        self.bounds = Rect(0, 0, self.width, self.height)

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """Crop (and resample with a box filter) a level-0 rectangle.

        Args:
            rect: Level-0 rectangle inside the image.
            downsample: Level-0 pixels per output pixel.

        Returns:
            (h, w, 3) uint8.
        """
        check_inside(rect, self.width, self.height)
        crop = self.rgb[rect.y : rect.y1, rect.x : rect.x1]
        return resize(crop, *tile_pixel_size(rect, downsample))

    def close(self) -> None:
        """Nothing to release."""


class TiffSource:
    """An OME-TIFF or plain TIFF, read lazily from the pyramid level QuPath would use.

    Args:
        path: The file.
    """

    reader = "tifffile"

    def __init__(self, path: Path) -> None:
        import tifffile
        import zarr

        try:
            self._tif = tifffile.TiffFile(path)
            series = self._tif.series[0]
            # one zarr Array (never a Group) per level of the series' pyramid
            self._arrays: list[Any] = [zarr.open(series.aszarr(level=i), mode="r") for i in range(len(series.levels))]
        except Exception as err:  # tifffile raises several types for broken files
            raise ImageReadError(f"tifffile cannot open '{path}': {short(err)}") from err
        axes = series.axes
        if "Y" not in axes or "X" not in axes:
            self._tif.close()
            raise ImageReadError(f"TIFF '{path}' has axes {axes}, expected Y and X")
        self._axes = axes
        self.format = "ome-tiff" if self._tif.is_ome else "tiff"
        sizes = [(int(a.shape[axes.index("X")]), int(a.shape[axes.index("Y")])) for a in self._arrays]
        self.width, self.height = sizes[0]
        self.levels = levels_for(sizes[0], sizes, sizes[0])
        self.bounds = Rect(0, 0, self.width, self.height)
        self.pixel_size_um = tiff_pixel_size_um(self._tif)
        self._full_scale = _full_scale(series, self._arrays[0].dtype)
        self._check_decodes(path, series)

    def _check_decodes(self, path: Path, series: Any) -> None:
        """Fail at open, not mid-batch, on tiles that cannot be decoded: the smallest level (its centre where
        that level is still large). Small levels decode through tifffile directly (zarr's concurrent reads
        of a corrupt file log a traceback per failed tile)."""
        last = self.levels[-1]
        try:
            if last.width * last.height <= 4096 * 4096:
                series.levels[-1].asarray()
                return
        except Exception as err:  # imagecodecs / tifffile errors of truncated tiles
            self._tif.close()
            raise ImageReadError(f"tifffile opens '{path}' but cannot decode it: {short(err)}") from err
        w, h = 4096, 4096
        x, y = (last.width - w) // 2, (last.height - h) // 2
        try:
            self._crop(len(self.levels) - 1, x, y, x + w, y + h)
        except ImageReadError as err:
            self._tif.close()
            raise ImageReadError(f"tifffile opens '{path}' but cannot decode it: {err}") from err

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """RGB pixels of a level-0 rectangle at a downsample, from the best pyramid level.

        Args:
            rect: Level-0 rectangle inside the image.
            downsample: Level-0 pixels per output pixel.

        Returns:
            (h, w, 3) uint8.
        """
        check_inside(rect, self.width, self.height)
        i = best_level(self.levels, downsample)
        level = self.levels[i]
        x, y, w, h = level_window(rect, level, downsample)
        x0, y0 = int(x), int(y)  # floor: coordinates are non-negative
        x1, y1 = min(level.width, x0 + w), min(level.height, y0 + h)
        return resize(self._crop(i, x0, y0, x1, y1), *tile_pixel_size(rect, downsample))

    def _crop(self, i: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """RGB pixels [y0:y1, x0:x1] of level ``i`` (raises ImageReadError where tiles do not decode)."""
        index: list[Any] = []
        for ax in self._axes:
            if ax == "Y":
                index.append(slice(y0, y1))
            elif ax == "X":
                index.append(slice(x0, x1))
            elif ax in "CS":
                index.append(slice(None))
            else:
                index.append(0)  # first plane of Z / T
        try:
            data = np.asarray(self._arrays[i][tuple(index)])
        except Exception as err:  # imagecodecs / zarr errors of truncated or corrupt tiles
            raise ImageReadError(f"cannot decode level {i} [{x0}:{x1}, {y0}:{y1}]: {short(err)}") from err
        return _to_rgb(data, self._full_scale)

    def close(self) -> None:
        """Close the file."""
        self._tif.close()


def _full_scale(series: Any, dtype: np.dtype) -> float:
    """The value that maps to 255 for a whole TIFF series: its bit depth for integers (a 12-bit scanner's
    4095, 65535 for full 16 bit), the maximum of its smallest pyramid level for floats."""
    if dtype == np.uint8:
        return 255.0
    if np.issubdtype(dtype, np.integer):
        bits = int(getattr(series.keyframe, "bitspersample", 0) or np.iinfo(dtype).bits)
        return float(2**bits - 1)
    smallest = np.asarray(series.levels[-1].asarray())
    return float(np.nanmax(smallest)) or 1.0


def tiff_pixel_size_um(tif: Any) -> Optional[float]:
    """Pixel size written in a TIFF (OME PhysicalSizeX, Aperio MPP, or resolution tags in cm/inch).

    Args:
        tif: An open ``tifffile.TiffFile``.

    Returns:
        Micrometres per level-0 pixel, or None when the file states none (or only a writer's 72/96 dpi).
    """
    try:
        if tif.is_ome and tif.ome_metadata:
            size = _ome_pixel_size(tif.ome_metadata)
            if size:
                return size
        page: Any = tif.pages[0]  # the first page of a file is a TiffPage
        m = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", page.description or "")
        if m:
            return float(m.group(1))
        tags = page.tags
        if "XResolution" in tags and "ResolutionUnit" in tags:
            num, den = tags["XResolution"].value
            per_unit = num / den if den else 0.0
            unit_um = {2: 25400.0, 3: 10000.0}.get(int(tags["ResolutionUnit"].value), 0.0)
            if per_unit > 0 and unit_um:
                size = unit_um / per_unit
                return size if size < 50 else None  # 72 or 96 dpi is a writer's default, not a calibration
    except Exception as err:  # a file tifffile cannot parse has no calibration we could trust
        log.debug("no pixel size in %s: %s", getattr(tif, "filename", "?"), err)
    return None


def _ome_pixel_size(xml: str) -> Optional[float]:
    m = re.search(r"<Pixels\b[^>]*>", xml)
    if not m:
        return None
    size = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', m.group(0))
    if not size:
        return None
    unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', m.group(0))
    scale = {"µm": 1.0, "um": 1.0, "\u03bcm": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}.get(
        unit.group(1) if unit else "µm"
    )
    return float(size.group(1)) * scale if scale else None
