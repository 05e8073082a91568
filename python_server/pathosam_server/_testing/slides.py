"""Whole-slide files for tests, written from an RGB array the way scanners lay them out, so OpenSlide (and
tifffile) read them as they read real slides: Aperio SVS, generic tiled TIFF, Leica SCN (a slide with bounds),
pyramidal OME-TIFF and DICOM WSI (VL Whole Slide Microscopy Image, TILED_FULL, written with pydicom).

Every format keeps the pixels lossless (uncompressed or deflate), so a level-0 read equals the array.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

TILE = 256


def pyramid(rgb: np.ndarray, levels: int) -> list[np.ndarray]:
    """Level 0 and its 2x box-filtered halvings (odd edges dropped, as scanners floor).

    Args:
        rgb: (H, W, 3) uint8.
        levels: How many levels, level 0 included.

    Returns:
        The levels.
    """
    out = [rgb]
    for _ in range(1, levels):
        a = out[-1]
        h, w = a.shape[0] // 2, a.shape[1] // 2
        a = a[: 2 * h, : 2 * w].reshape(h, 2, w, 2, 3).astype(np.uint16).mean(axis=(1, 3))
        out.append(np.round(a).astype(np.uint8))
    return out


def write_svs(
    path: Path,
    rgb: np.ndarray,
    mpp: float = 0.25,
    levels: int = 3,
    pyr: Optional[list[np.ndarray]] = None,
    jpeg: Optional[int] = None,
    big: bool = False,
) -> None:
    """An Aperio-style SVS laid out as Aperio writes it: tiled level 0, a stripped thumbnail, then the other
    tiled levels; every description starts ``Aperio Image Library`` and states the MPP.

    Args:
        path: Output file.
        rgb: Level-0 pixels.
        mpp: Micrometres per level-0 pixel (``MPP =`` in the description).
        levels: Pyramid levels.
        pyr: The levels themselves (default: ``pyramid(rgb, levels)``); tests pass odd ones to see which is read.
        jpeg: JPEG quality (as scanners write; lossy), or None for lossless deflate.
        big: Write a BigTIFF.
    """
    import tifffile

    compression: dict[str, Any] = {"compression": "zlib"}
    codec = "RAW"
    if jpeg is not None:
        compression, codec = {"compression": "jpeg", "compressionargs": {"level": jpeg}}, f"JPEG/RGB Q={jpeg}"
    h, w = rgb.shape[:2]
    pyr = pyr or pyramid(rgb, levels)
    thumb = rgb[:: max(1, max(h, w) // 256), :: max(1, max(h, w) // 256)]
    pages = [pyr[0], thumb, *pyr[1:]]
    with tifffile.TiffWriter(path, bigtiff=big) as tif:
        for i, page in enumerate(pages):
            ph, pw = page.shape[:2]
            head = f"{w}x{h} [0,0 {w}x{h}] ({TILE}x{TILE}) {codec}" if i == 0 else f"{w}x{h} -> {pw}x{ph} - "
            desc = f"Aperio Image Library v12.0.0\n{head}|AppMag = 40|MPP = {mpp:.4f}"
            tiling: dict[str, Any] = (
                {} if i == 1 else {"tile": (TILE, TILE)}
            )  # the thumbnail is stripped: an associated image
            tif.write(page, photometric="rgb", description=desc, metadata=None, **compression, **tiling)


def write_generic_tiff(
    path: Path, rgb: np.ndarray, mpp: Optional[float] = 0.5, levels: int = 3, pyr: Optional[list[np.ndarray]] = None
) -> None:
    """A generic tiled pyramidal TIFF (levels as reduced-resolution top-level pages; resolution in cm).

    Args:
        path: Output file.
        rgb: Level-0 pixels.
        mpp: Micrometres per level-0 pixel (None: no resolution tags).
        levels: Pyramid levels.
        pyr: The levels themselves (default: ``pyramid(rgb, levels)``); tests pass odd ones to see which is read.
    """
    import tifffile

    with tifffile.TiffWriter(path) as tif:
        for i, level in enumerate(pyr or pyramid(rgb, levels)):
            res: dict[str, Any] = {}
            if mpp is not None:
                res = {"resolution": (1e4 / (mpp * 2**i),) * 2, "resolutionunit": "CENTIMETER"}
            tif.write(level, tile=(TILE, TILE), photometric="rgb", compression="zlib", subfiletype=int(i > 0),
                      metadata=None, **res)  # fmt: skip


def write_ome_tiff(
    path: Path, rgb: np.ndarray, mpp: float = 0.25, levels: int = 3, pyr: Optional[list[np.ndarray]] = None
) -> None:
    """A pyramidal OME-TIFF (reduced levels in SubIFDs), calibrated in µm.

    Args:
        path: Output file.
        rgb: Level-0 pixels.
        mpp: Micrometres per level-0 pixel.
        levels: Pyramid levels.
        pyr: The levels themselves (default: ``pyramid(rgb, levels)``); tests pass odd ones to see which is read.
    """
    import tifffile

    meta = {"axes": "YXS", "PhysicalSizeX": mpp, "PhysicalSizeY": mpp}
    pyr = pyr or pyramid(rgb, levels)
    with tifffile.TiffWriter(path) as tif:
        tif.write(pyr[0], subifds=len(pyr) - 1, tile=(TILE, TILE), photometric="rgb", compression="zlib", metadata=meta)
        for level in pyr[1:]:
            tif.write(level, subfiletype=1, tile=(TILE, TILE), photometric="rgb", compression="zlib")


def write_leica_scn(path: Path, rgb: np.ndarray, offset: tuple[int, int], canvas: tuple[int, int],
                    mpp: float = 0.5, levels: int = 2) -> None:  # fmt: skip
    """A Leica SCN whose one brightfield image lies at ``offset`` on a larger slide ``canvas``.

    OpenSlide makes level 0 the whole canvas and states the image's place in ``openslide.bounds-*``; the rest
    of the canvas is transparent. This is the test file for bounds.

    Args:
        path: Output file.
        rgb: The scanned image's level-0 pixels.
        offset: (x, y) of the image on the canvas, level-0 pixels.
        canvas: (width, height) of the slide, level-0 pixels.
        mpp: Micrometres per level-0 pixel.
        levels: Pyramid levels of the image.
    """
    import tifffile

    nm = mpp * 1000
    h, w = rgb.shape[:2]
    pyr = pyramid(rgb, levels)
    dims = "".join(
        f'<dimension sizeX="{lv.shape[1]}" sizeY="{lv.shape[0]}" sizeC="3" ifd="{i}"/>' for i, lv in enumerate(pyr)
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<scn xmlns="http://www.leica-microsystems.com/scn/2010/10/01">'
        f'<collection name="test" uuid="1" sizeX="{round(canvas[0] * nm)}" sizeY="{round(canvas[1] * nm)}">'
        '<image name="main" uuid="2"><creationDate>2026-01-01T00:00:00Z</creationDate>'
        f'<device model="test" version="1"/><pixels sizeX="{w}" sizeY="{h}">{dims}</pixels>'
        f'<view sizeX="{round(w * nm)}" sizeY="{round(h * nm)}" sizeZ="1" '
        f'offsetX="{round(offset[0] * nm)}" offsetY="{round(offset[1] * nm)}" offsetZ="0" spacingZ="0"/>'
        "<scanSettings><objectiveSettings><objective>20</objective></objectiveSettings>"
        "<illuminationSettings><numericalAperture>0.7</numericalAperture>"
        "<illuminationSource>brightfield</illuminationSource></illuminationSettings></scanSettings>"
        "</image></collection></scn>"
    )
    with tifffile.TiffWriter(path) as tif:
        for i, level in enumerate(pyr):
            tif.write(level, tile=(TILE, TILE), photometric="rgb", compression="zlib", metadata=None,
                      description=xml if i == 0 else None)  # fmt: skip


def write_dicom_wsi(
    folder: Path, rgb: np.ndarray, mpp: float = 0.25, levels: int = 2, tile: int = TILE,
    pyr: Optional[list[np.ndarray]] = None,
) -> list[Path]:  # fmt: skip
    """A DICOM WSI series: one VL Whole Slide Microscopy Image file per level, TILED_FULL, uncompressed RGB.

    Written with pydicom after DICOM PS3.3 A.32.8 (the attributes OpenSlide's libdicom reads and the
    standard requires of a VOLUME instance); edge tiles are padded to the full tile size.

    Args:
        folder: Output folder (created).
        rgb: Level-0 pixels.
        mpp: Micrometres per level-0 pixel (PixelSpacing, in mm).
        levels: Pyramid levels, one file each.
        tile: Tile edge (Rows = Columns).
        pyr: The levels themselves (default: ``pyramid(rgb, levels)``).

    Returns:
        The files, level 0 first.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    wsi_class = UID("1.2.840.10008.5.1.4.1.1.77.1.6")
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame_ref = generate_uid(), generate_uid(), generate_uid()
    paths = []
    for i, level in enumerate(pyr or pyramid(rgb, levels)):
        lh, lw = level.shape[:2]
        across, down = -(-lw // tile), -(-lh // tile)
        padded = np.zeros((down * tile, across * tile, 3), np.uint8)
        padded[:lh, :lw] = level
        frames = padded.reshape(down, tile, across, tile, 3).swapaxes(1, 2).reshape(-1, tile, tile, 3)
        spacing = mpp * 1e-3 * rgb.shape[1] / lw
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = wsi_class
        meta.MediaStorageSOPInstanceUID = instance = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = wsi_class, instance
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_ref
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "SM", 1, i + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
        ds.PatientName, ds.PatientID, ds.ContainerIdentifier = "Test^Slide", "0", "slide-1"
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.Rows = ds.Columns = tile
        ds.NumberOfFrames = len(frames)
        ds.TotalPixelMatrixColumns, ds.TotalPixelMatrixRows = lw, lh
        ds.TotalPixelMatrixFocalPlanes, ds.NumberOfOpticalPaths = 1, 1
        ds.DimensionOrganizationType = "TILED_FULL"
        ds.ImagedVolumeWidth, ds.ImagedVolumeHeight, ds.ImagedVolumeDepth = lw * spacing, lh * spacing, 0.001
        measures = Dataset()
        measures.PixelSpacing = [spacing, spacing]  # mm: rows, columns
        measures.SliceThickness, measures.SpacingBetweenSlices = 0.001, 0.001
        shared = Dataset()
        shared.PixelMeasuresSequence = [measures]
        ds.SharedFunctionalGroupsSequence = [shared]
        origin = Dataset()
        origin.XOffsetInSlideCoordinateSystem = origin.YOffsetInSlideCoordinateSystem = 0.0
        ds.TotalPixelMatrixOriginSequence = [origin]
        optical = Dataset()
        optical.OpticalPathIdentifier = "1"
        ds.OpticalPathSequence = [optical]
        ds.PixelData = frames.tobytes()
        out = folder / f"level-{i}.dcm"
        ds.save_as(out, enforce_file_format=True)
        paths.append(out)
    return paths
