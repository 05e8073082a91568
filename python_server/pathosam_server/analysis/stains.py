"""H&E stain measurements by colour deconvolution, as QuPath computes them.

QuPath converts each RGB channel to optical density against the stain's background (``OD = max(0,
-log10(max(v, 1) / background))``, ``ColorDeconvolutionHelper.makeOD``), then un-mixes with the inverse
of the matrix whose rows are the unit stain vectors (the third a residual, the cross product of the
first two, when not given). Per-object statistics follow ``ObjectMeasurements``: Mean, Median, Min,
Max and Std.Dev. (sample standard deviation, as Apache's ``DescriptiveStatistics``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage

STATISTICS = ("Mean", "Median", "Min", "Max", "Std.Dev.")


@dataclass(frozen=True)
class Stains:
    """Stain vectors and background, as QuPath's ``ColorDeconvolutionStains``.

    Attributes:
        name: Name of the set (QuPath's "H&E default").
        names: The stains' names (the third is "Residual" when derived).
        vectors: (3, 3) unit stain vectors, one row per stain (RGB optical densities).
        background: Background (white) RGB values.
    """

    name: str
    names: tuple[str, str, str]
    vectors: tuple[tuple[float, ...], ...]
    background: tuple[float, ...]

    @staticmethod
    def of(
        name: str,
        stain1: tuple[str, tuple[float, float, float]],
        stain2: tuple[str, tuple[float, float, float]],
        stain3: Optional[tuple[str, tuple[float, float, float]]] = None,
        background: tuple[float, float, float] = (255.0, 255.0, 255.0),
    ) -> Stains:
        """Normalise the vectors and derive the residual third stain when it is not given.

        Args:
            name: Name of the set.
            stain1: (name, RGB OD vector) of the first stain (hematoxylin).
            stain2: (name, RGB OD vector) of the second (eosin).
            stain3: Optional third stain; default the residual (cross product), as QuPath makes it.
            background: Background RGB, each in (0, 255].

        Returns:
            The stain set.

        Raises:
            ValueError: A vector of zero length, collinear stains or a background outside (0, 255].
        """
        rows = [_unit(stain1[1], stain1[0]), _unit(stain2[1], stain2[0])]
        if np.linalg.norm(np.cross(rows[0], rows[1])) < 1e-6:
            raise ValueError(f"stain vectors of '{name}' are not independent (two stains have the same colour)")
        third = stain3 or ("Residual", tuple(np.cross(rows[0], rows[1])))
        rows.append(_unit(third[1], third[0]))
        if abs(np.linalg.det(np.asarray(rows))) < 1e-6:
            raise ValueError(f"stain vectors of '{name}' are not independent (two stains have the same colour)")
        if not all(0 < b <= 255 for b in background):
            raise ValueError(f"stain background must be in (0, 255] per channel, got {tuple(background)}")
        return Stains(
            name,
            (stain1[0], stain2[0], third[0]),
            tuple(tuple(float(v) for v in r) for r in rows),
            tuple(float(b) for b in background),
        )

    def deconvolve(self, rgb: np.ndarray) -> np.ndarray:
        """Stain concentrations (optical density units) of every pixel.

        Args:
            rgb: (H, W, 3) uint8 pixels.

        Returns:
            (H, W, 3) float32: the three stains per pixel.
        """
        bg = np.asarray(self.background, dtype=np.float64)
        od = np.maximum(0.0, -np.log10(np.maximum(rgb.astype(np.float64), 1.0) / bg))
        return (od @ np.linalg.inv(np.asarray(self.vectors))).astype(np.float32)

    def describe(self) -> dict:
        """The set as provenance records it (QuPath's names and values)."""
        return {
            "name": self.name,
            "stains": [{"name": n, "vector": [round(v, 6) for v in vec]} for n, vec in zip(self.names, self.vectors)],
            "background": list(self.background),
        }


def _unit(vector: tuple[float, ...], name: str) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) <= 0:
        raise ValueError(f"stain vector '{name}' must be 3 finite numbers, not all zero, got {tuple(vector)}")
    return v / np.linalg.norm(v)


# QuPath's "H&E default" (StainVector's defaults: Ruifrok & Johnston's hematoxylin, the AMIDA13 eosin).
HE_DEFAULT = Stains.of("H&E default", ("Hematoxylin", (0.65, 0.70, 0.29)), ("Eosin", (0.2159, 0.8012, 0.5581)))


def stain_statistics(
    concentrations: np.ndarray, labels: np.ndarray, ids: list[int], stains: Stains, prefix: str = ""
) -> list[dict[str, float]]:
    """Per-object statistics of the two named stains (the residual is not a stain and is left out).

    Args:
        concentrations: (H, W, 3) from ``Stains.deconvolve``.
        labels: (H, W) object labels.
        ids: The labels to measure, in output order.
        stains: The stain set (for the names).
        prefix: "" for detections; "Nucleus: ", "Cytoplasm: " or "Cell: " for cell compartments.

    Returns:
        One {name: value} per id, e.g. {"Hematoxylin: Mean": 0.61, ...}; NaN for an id without pixels.
    """
    out: list[dict[str, float]] = [{} for _ in ids]
    if not ids:
        return out
    for k in range(2):
        channel = concentrations[..., k].astype(np.float64)
        base = f"{prefix}{stains.names[k]}"
        values = _grouped(channel, labels, ids)
        for i, v in enumerate(values):
            row = out[i]
            if v.size == 0:
                row.update({f"{base}: {s}": float("nan") for s in STATISTICS})
                continue
            row[f"{base}: Mean"] = float(v.mean())
            row[f"{base}: Median"] = float(np.median(v))
            row[f"{base}: Min"] = float(v.min())
            row[f"{base}: Max"] = float(v.max())
            row[f"{base}: Std.Dev."] = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return out


def _grouped(channel: np.ndarray, labels: np.ndarray, ids: list[int]) -> list[np.ndarray]:
    """The channel's values of each label (one bounding-box slice per object, not one full scan each)."""
    slices = ndimage.find_objects(labels)
    out = []
    for i in ids:
        sl = slices[i - 1] if 0 < i <= len(slices) else None
        out.append(channel[sl][labels[sl] == i] if sl is not None else np.empty(0))
    return out
