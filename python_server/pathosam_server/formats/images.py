"""Read RGB pixels of level-0 rectangles from PNG / JPEG / TIFF / OME-TIFF (pyramidal too).

TIFFs are read lazily through tifffile's zarr store, so a region of a whole slide never loads the
whole slide; small formats are decoded once.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np
from PIL import Image as PILImage

from ..errors import ImageReadError
from ..geometry.tiling import tile_pixel_size
from ..records import Rect

log = logging.getLogger(__name__)

# The one table of image files this project reads: suffix -> reader. TIFF-based whole-slide formats
# (Aperio SVS, Hamamatsu NDPI, Leica SCN, Ventana BIF, BigTIFF, Akoya QPTIFF) go through tifffile.
READERS: dict[str, str] = {
    ".png": "pil",
    ".jpg": "pil",
    ".jpeg": "pil",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".svs": "tiff",
    ".ndpi": "tiff",
    ".scn": "tiff",
    ".bif": "tiff",
    ".btf": "tiff",
    ".qptiff": "tiff",
}
IMAGE_SUFFIXES = tuple(READERS)


class PixelSource(Protocol):
    """Anything that can hand out RGB pixels of level-0 rectangles."""

    width: int
    height: int

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """RGB uint8 pixels of ``rect`` at ``downsample`` (shape (h, w, 3))."""
        ...


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
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if full_scale is None:
            full_scale = 65535.0 if float(arr.max()) > 255 else 255.0
        arr = np.clip(arr.astype(np.float32) * (255.0 / full_scale), 0, 255).astype(np.uint8)
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
            arr: Any = zarr.open(store, mode="r")  # an Array (never a Group) for one TIFF series level
        except Exception as err:  # tifffile raises several types for broken files
            raise ImageReadError(f"cannot open TIFF '{path}': {err}") from err
        self._arr = arr
        axes = series.axes
        shape = tuple(arr.shape)
        if "Y" not in axes or "X" not in axes:
            raise ImageReadError(f"TIFF '{path}' has axes {axes}, expected Y and X")
        self._axes = axes
        self.height, self.width = shape[axes.index("Y")], shape[axes.index("X")]
        self._full_scale = _full_scale(series, arr.dtype)

    def read(self, rect: Rect, downsample: float) -> np.ndarray:
        """Read a level-0 rectangle (downsampled with a box filter)."""
        if rect.x < 0 or rect.y < 0 or rect.x1 > self.width or rect.y1 > self.height:
            raise ImageReadError(f"rectangle {rect} is outside the {self.width} x {self.height} image")
        index: list[Any] = []
        for ax in self._axes:
            if ax == "Y":
                index.append(slice(rect.y, rect.y1))
            elif ax == "X":
                index.append(slice(rect.x, rect.x1))
            elif ax in "CS":
                index.append(slice(None))
            else:
                index.append(0)  # first plane of Z / T
        crop = _to_rgb(np.asarray(self._arr[tuple(index)]), self._full_scale)
        return _resize(crop, *tile_pixel_size(rect, downsample))

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


def open_image(path: str | Path) -> PixelSource:
    """Open an image file for region reading.

    Args:
        path: PNG, JPEG, TIFF, OME-TIFF or a TIFF-based slide (see ``READERS``).

    Returns:
        A pixel source.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image '{path}' does not exist")
    if READERS.get(path.suffix.lower()) == "tiff":
        return TiffSource(path)
    try:
        with PILImage.open(path) as img:
            return ArraySource(np.asarray(img.convert("RGB")))
    except Exception as err:
        raise ImageReadError(f"cannot read image '{path}': {err}") from err


def file_pixel_size_um(path: Path) -> Optional[float]:
    """Pixel size written in a TIFF (OME PhysicalSizeX, Aperio MPP, or resolution tags in cm/inch).

    Args:
        path: The image file.

    Returns:
        Micrometres per level-0 pixel, or None when the file states none (PNG, JPEG, plain TIFF).
    """
    if READERS.get(path.suffix.lower()) != "tiff":
        return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome and tif.ome_metadata:
                size = _ome_pixel_size(tif.ome_metadata)
                if size:
                    return size
            page: Any = tif.pages[0]  # the first page of a file is a TiffPage
            desc = page.description or ""
            m = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", desc)
            if m:
                return float(m.group(1))
            tags = page.tags
            if "XResolution" in tags and "ResolutionUnit" in tags:
                num, den = tags["XResolution"].value
                per_unit = num / den if den else 0.0
                unit_um = {2: 25400.0, 3: 10000.0}.get(int(tags["ResolutionUnit"].value), 0.0)
                if per_unit > 0 and unit_um:
                    size = unit_um / per_unit
                    # 72 or 96 dpi is a writer's default, not a microscope's calibration
                    return size if size < 50 else None
    except Exception as err:  # a file tifffile cannot parse has no calibration we could trust
        log.debug("no pixel size from %s: %s", path, err)
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
