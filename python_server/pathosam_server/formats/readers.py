"""Open any image file with the reader that knows it: chosen by what opens the file, not by its suffix.

Order (the first that claims the file reads it):

1. tifffile for **OME-TIFF** (OpenSlide would see only its first plane as a "generic TIFF") and for TIFFs
   OpenSlide cannot draw as RGB (16-bit, 12-bit, grey, multi-channel);
2. **OpenSlide** for every file ``OpenSlide.detect_format`` names: Aperio SVS, DICOM WSI, Hamamatsu NDPI/VMS/VMU,
   Leica SCN, MIRAX MRXS, Philips TIFF, Sakura SVSLIDE, Trestle, Ventana BIF, generic tiled TIFF;
3. tifffile for any other TIFF (strips, untiled);
4. Pillow for PNG and JPEG.

A file none of them opens gets one message: what it is (sniffed from its first bytes), what each reader said,
and the supported formats.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from ..errors import ImageReadError
from .images import ArraySource, TiffSource
from .openslide_reader import OpenSlideReader, detect_format
from .slide import SlideReader, short

log = logging.getLogger(__name__)

SUPPORTED = (
    "OpenSlide: Aperio SVS, DICOM WSI, Hamamatsu NDPI/VMS/VMU, Leica SCN, MIRAX MRXS, Philips TIFF, Sakura "
    "SVSLIDE, Trestle, Ventana BIF, generic tiled TIFF; tifffile: OME-TIFF, TIFF; Pillow: PNG, JPEG"
)

_MAGIC: list[tuple[bytes, str]] = [
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"%PDF", "PDF"),
    (b"\x89HDF", "HDF5"),
    (b"RIFF", "RIFF (WebP/AVI)"),
]


def sniff(path: Path) -> str:
    """What a file is by its first bytes (what a user can check): ``TIFF``, ``DICOM``, ``PNG``, ``text``...

    Args:
        path: The file.

    Returns:
        A short human-readable type.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as err:
        return f"unreadable ({err.strerror})"
    if not head:
        return "empty file"
    if head[128:132] == b"DICM":
        return "DICOM"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"unknown binary data (starts {head[:8].hex(' ')})"
    first = text.strip().splitlines()[0][:40] if text.strip() else ""
    return f"text ('{first}')"


def dicom_files(folder: Path) -> list[Path]:
    """The DICOM files in a folder (any name; DICOM files carry ``DICM`` at byte 128), in name order.

    Args:
        folder: The folder.

    Returns:
        The files.
    """
    return [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".") and sniff(p) == "DICOM"]


def _tiff_facts(path: Path) -> tuple[bool, bool, str]:
    """(is OME-TIFF, OpenSlide can draw it as 8-bit RGB, error) for a TIFF, as tifffile sees it."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page: Any = tif.pages[0]
            rgb8 = page.bitspersample == 8 and page.samplesperpixel in (3, 4) and page.photometric in (2, 6)
            return bool(tif.is_ome), bool(rgb8), ""
    except Exception as err:  # a broken TIFF: OpenSlide may still say more
        return False, True, short(err)


def open_image(path: str | Path) -> SlideReader:
    """Open an image file (or a folder holding one DICOM WSI) with the reader that knows it.

    Args:
        path: The file; for DICOM WSI any file of the series, or the folder holding them.

    Returns:
        The opened reader (``close()`` it when done).
    """
    path = Path(path)
    if path.is_dir():
        files = dicom_files(path)
        if not files:
            raise ImageReadError(f"'{path}' is a folder without DICOM files; supported: {SUPPORTED}")
        path = files[0]  # OpenSlide finds the series' other files next to it
    elif not path.is_file():
        raise ImageReadError(f"image '{path}' does not exist")
    kind = sniff(path)
    tiff = kind in ("TIFF", "BigTIFF")
    said: list[str] = []
    vendor: Optional[str] = None
    if tiff:
        is_ome, rgb8, err = _tiff_facts(path)
        if err:
            said.append(f"tifffile: {err}")
        elif is_ome or not rgb8:
            return _tifffile(path, kind, vendor, said)
    vendor = detect_format(path)
    if vendor:
        try:
            return OpenSlideReader(path, vendor)
        except ImageReadError as err:
            said.append(str(err))
    if tiff and not said:
        return _tifffile(path, kind, vendor, said)
    if kind in ("PNG", "JPEG"):
        return _pillow(path, kind, said)
    raise _unreadable(path, kind, vendor, said)


def _unreadable(path: Path, kind: str, vendor: Optional[str], said: list[str]) -> ImageReadError:
    """The one message for a file no reader opens: what it is, what the readers said, what is supported."""
    found = kind + (f", which OpenSlide calls '{vendor}'" if vendor else "")
    why = f" ({'; '.join(said)})" if said else ""
    return ImageReadError(f"no reader opens '{path}': it is {found}{why}. Supported: {SUPPORTED}")


def _tifffile(path: Path, kind: str, vendor: Optional[str], said: list[str]) -> TiffSource:
    try:
        return TiffSource(path)
    except ImageReadError as err:
        raise _unreadable(path, kind, vendor, [*said, str(err)]) from err


def _pillow(path: Path, kind: str, said: list[str]) -> ArraySource:
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as img:
            img.load()
            has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            arr = img.convert("RGBA" if has_alpha else "RGB")
            import numpy as np

            return ArraySource(np.asarray(arr), reader="pillow", format=kind.lower())
    except Exception as err:  # PIL raises many types for truncated or odd files
        raise _unreadable(path, kind, None, [*said, f"Pillow: {short(err)}"]) from err


def file_pixel_size_um(path: Path) -> Optional[float]:
    """The pixel size the file's reader finds (OpenSlide's mpp, OME PhysicalSize, Aperio MPP, TIFF resolution).

    Args:
        path: The image file (or DICOM folder).

    Returns:
        Micrometres per level-0 pixel, or None when the file states none or cannot be opened.
    """
    try:
        reader = open_image(path)
    except ImageReadError as err:
        log.debug("no pixel size from %s: %s", path, err)
        return None
    try:
        return reader.pixel_size_um
    finally:
        reader.close()


def is_image(path: Path) -> bool:
    """Whether a folder entry is an image a batch should list: a file some reader claims by its content, or
    a folder of DICOM files (one DICOM WSI). Loose DICOM files count as one slide per folder (the first).

    Args:
        path: A file or folder.

    Returns:
        True for images.
    """
    if path.name.startswith(".") or path.name.endswith(".geojson"):
        return False
    if path.is_dir():
        return any(True for _ in dicom_files(path))
    kind = sniff(path)
    if kind == "DICOM":
        return dicom_files(path.parent)[0] == path
    if kind in ("TIFF", "BigTIFF", "PNG", "JPEG"):
        return True
    return detect_format(path) is not None  # MIRAX .mrxs, Hamamatsu .vms/.vmu: text index files
