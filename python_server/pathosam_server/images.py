"""Read RGB pixels of level-0 rectangles from PNG / JPEG / TIFF / OME-TIFF (pyramidal too).

TIFFs are read lazily through tifffile's zarr store, so a region of a whole slide never loads the
whole slide; small formats are decoded once.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image as PILImage

from .tiling import Rect, tile_pixel_size


class ImageReadError(Exception):
    """The image cannot be opened or read; the message says why."""


class PixelSource(Protocol):
    """Anything that can hand out RGB pixels of level-0 rectangles."""

    width: int
    height: int

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """RGB uint8 pixels of ``rect`` at ``downsample`` (shape (h, w, 3))."""
        ...


def _to_rgb(arr: np.ndarray) -> np.ndarray:
    """Channels-last RGB uint8 from grey, RGBA or 16-bit data."""
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # channels-first (some OME-TIFFs)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ImageReadError(f"expected an RGB image, got array of shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        top = float(arr.max()) or 1.0
        scale = 255.0 / (65535.0 if top > 255 else 255.0)
        arr = np.clip(arr.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _resize(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    if arr.shape[1] == width and arr.shape[0] == height:
        return arr
    return np.asarray(PILImage.fromarray(arr).resize((width, height), PILImage.Resampling.BOX))


class ArraySource:
    """Pixels held in memory (PNG/JPEG files, tests)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = _to_rgb(rgb)
        self.height, self.width = self.rgb.shape[:2]

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """Crop (and downsample with a box filter) a level-0 rectangle."""
        if rect.x < 0 or rect.y < 0 or rect.x1 > self.width or rect.y1 > self.height:
            raise ImageReadError(f"rectangle {rect} is outside the {self.width} x {self.height} image")
        crop = self.rgb[rect.y : rect.y1, rect.x : rect.x1]
        return _resize(crop, *tile_pixel_size(rect, downsample))


class TiffSource:
    """Level-0 pixels of a (pyramidal / OME) TIFF, read lazily tile by tile."""

    def __init__(self, path: Path) -> None:
        import tifffile
        import zarr

        try:
            self._tif = tifffile.TiffFile(path)
            series = self._tif.series[0]
            store = series.aszarr(level=0)
            self._arr = zarr.open(store, mode="r")
        except Exception as err:  # tifffile raises several types for broken files
            raise ImageReadError(f"cannot open TIFF '{path}': {err}") from err
        axes = series.axes
        shape = self._arr.shape
        if "Y" not in axes or "X" not in axes:
            raise ImageReadError(f"TIFF '{path}' has axes {axes}, expected Y and X")
        self._axes = axes
        self.height, self.width = shape[axes.index("Y")], shape[axes.index("X")]

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """Read a level-0 rectangle (downsampled with a box filter)."""
        if rect.x < 0 or rect.y < 0 or rect.x1 > self.width or rect.y1 > self.height:
            raise ImageReadError(f"rectangle {rect} is outside the {self.width} x {self.height} image")
        index = []
        for ax in self._axes:
            if ax == "Y":
                index.append(slice(rect.y, rect.y1))
            elif ax == "X":
                index.append(slice(rect.x, rect.x1))
            elif ax in "CS":
                index.append(slice(None))
            else:
                index.append(0)  # first plane of Z / T
        crop = _to_rgb(np.asarray(self._arr[tuple(index)]))
        return _resize(crop, *tile_pixel_size(rect, downsample))

    def close(self) -> None:
        """Close the file."""
        self._tif.close()


def open_image(path: str | Path) -> PixelSource:
    """Open an image file for region reading.

    Args:
        path: PNG, JPEG, TIFF or OME-TIFF.

    Returns:
        A pixel source.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image '{path}' does not exist")
    if path.suffix.lower() in (".tif", ".tiff", ".svs", ".btf") or path.name.lower().endswith(".ome.tif"):
        return TiffSource(path)
    try:
        with PILImage.open(path) as img:
            return ArraySource(np.asarray(img.convert("RGB")))
    except Exception as err:
        raise ImageReadError(f"cannot read image '{path}': {err}") from err
