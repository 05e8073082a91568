"""What a servable model is (``ModelSpec``) and how a name or a path becomes one; loading is in ``models``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..classes import PANNUKE_CLASSES
from ..errors import ModelError, UnknownModelError
from .semantic import PUBLISHED_SEMANTIC_DECODERS
from .weights import PATHOSAM_PIXEL_SIZE_UM, REGISTRY_MODELS, checkpoint_pixel_size, read_model_folder

log = logging.getLogger(__name__)

PATHOSAM_TILE, PATHOSAM_HALO = 384, 64
TILE_NORMALIZATIONS = ("none", "micro-sam")


@dataclass
class ModelSpec:
    """How to obtain one servable model.

    Attributes:
        name: Name clients use (registry name or a name given to a local checkpoint).
        architecture: SAM encoder type: vit_t, vit_b, vit_l or vit_h.
        checkpoint: Local checkpoint path; None means download ``name`` from micro-sam's registry.
        decoder: Optional separate AIS decoder weights (else taken from the checkpoint / registry).
        semantic_decoder: Optional 6-channel semantic decoder weights (classes).
        tile_size: Default inner tile edge in working pixels.
        halo: Default halo in working pixels.
        pixel_size_um: Working pixel size in micrometres (0 = unknown: calibrated images run at full resolution).
        allow_pickle: Allow unpickling a local checkpoint that is not a plain tensor file.
        semantic_registry: Fetch PathoSAM's published semantic decoder for this model (hash-checked)
            when no local ``semantic_decoder`` is given.
        semantic_sha256: Expected sha256 of a local ``semantic_decoder`` file (PathoSAM's published one).
        class_precision: Arithmetic of the semantic decoder: auto, float32 or bfloat16
            (``semantic.resolve_precision``).
        precision: Arithmetic of the encoder and the instance decoder: auto, float32, bfloat16 or
            float16 (``precision.resolve_model_precision``).
        compile: ``torch.compile`` the image encoder and the decoders at load (``attention.compile_encoder``,
            ``attention.compile_decoder``).
        max_batch: Most tiles per encoder and decoder pass (``scheduler.TileScheduler``; 0 = from the
            device: free GPU memory, or 2 on a CPU).
        class_names: The semantic decoder's classes in channel order (channel 0 is background): PanNuke's
            five, or a fine-tuned model's own (``pathosam finetune --classes``, read from its folder).
        tile_normalization: ``none`` (tiles reach the encoder as they are, as PathoSAM was trained) or
            ``micro-sam`` (each tile's channels stretched to 0-255, as micro-sam's inference does;
            ``encoder.compute_embeddings`` says why that is not the default).
    """

    name: str
    architecture: str
    checkpoint: Optional[Path] = None
    decoder: Optional[Path] = None
    semantic_decoder: Optional[Path] = None
    tile_size: int = PATHOSAM_TILE
    halo: int = PATHOSAM_HALO
    pixel_size_um: float = PATHOSAM_PIXEL_SIZE_UM
    allow_pickle: bool = False
    semantic_registry: bool = False
    semantic_sha256: Optional[str] = None
    class_precision: str = "auto"
    precision: str = "auto"
    compile: bool = False
    max_batch: int = 0
    tile_normalization: str = "none"
    input_edge: int = PATHOSAM_TILE + 2 * PATHOSAM_HALO
    class_names: tuple[str, ...] = PANNUKE_CLASSES

    def check_tiles(self, tile_size: int, halo: int) -> None:
        """Refuse a tile size and halo that could not reach the model at its own scale.

        Args:
            tile_size: Core edge in working pixels.
            halo: Halo in working pixels.
        """
        if tile_size <= 0 or halo < 0:
            raise ModelError(f"tile size must be positive and halo not negative, got {tile_size} and {halo}")
        if self.tile_normalization != "micro-sam" and tile_size + 2 * halo > self.input_edge:
            raise ModelError(
                f"tile size {tile_size} + 2 x halo {halo} = {tile_size + 2 * halo} px exceeds the model's input "
                f"window of {self.input_edge} px, so tiles would reach it shrunk; choose tile + 2 x halo <= "
                f"{self.input_edge} (e.g. 384 + 64, 448 + 32, 256 + 128): smaller tiles are padded, never rescaled"
            )

    @property
    def source(self) -> str:
        """Where the weights come from, for GetInfo and logs."""
        return str(self.checkpoint) if self.checkpoint else f"micro-sam registry: {self.name}"


def registry_spec(name: str, semantic_decoder: Optional[Path] = None, classes: bool = True) -> ModelSpec:
    """Spec for a micro-sam registry model such as ``vit_b_histopathology``.

    Args:
        name: Registry name.
        semantic_decoder: A local copy of PathoSAM's semantic decoder (checked against its sha256).
        classes: Whether to load the semantic decoder where PathoSAM publishes one.

    Returns:
        The spec.
    """
    if name not in REGISTRY_MODELS:
        raise UnknownModelError(f"unknown model '{name}'; registry models are {', '.join(REGISTRY_MODELS)}")
    published = PUBLISHED_SEMANTIC_DECODERS.get(name)
    if semantic_decoder is not None and published is None:
        raise ModelError(f"PathoSAM publishes no semantic decoder for '{name}' (only for vit_b_histopathology)")
    return ModelSpec(
        name=name,
        architecture=name[:5],
        semantic_decoder=semantic_decoder if classes else None,
        semantic_registry=classes and published is not None and semantic_decoder is None,
        semantic_sha256=published.sha256 if (published and semantic_decoder is not None) else None,
    )


def local_spec(
    path: str | os.PathLike, name: Optional[str] = None, pixel_size_um: Optional[float] = None, **kwargs: Any
) -> ModelSpec:
    """Spec for a local checkpoint or a model folder; the architecture is read from the weights.

    A folder is what ``pathosam finetune`` writes: its ``pathosam_model.json`` names the checkpoint,
    the semantic decoder, the class names, the working pixel size, tile and halo. Options given
    explicitly (``kwargs``, ``pixel_size_um``) win over the folder's.

    Args:
        path: Checkpoint file (micro-sam format, optionally with a ``decoder_state``) or model folder.
        name: Name to serve it under (default: the file's stem).
        pixel_size_um: Working pixel size in um; None: PathoSAM's for its weights (``checkpoint_pixel_size``),
            else 0 (unknown).
        kwargs: Further ModelSpec fields (decoder, semantic_decoder, tile_size, ...).

    Returns:
        The spec.
    """
    path = Path(path)
    if path.is_dir():
        folder = read_model_folder(path)
        path = Path(folder.pop("checkpoint"))
        name = name or folder.pop("name")
        pixel_size_um = folder.pop("pixel_size_um") if pixel_size_um is None else pixel_size_um
        for given in ("name", "pixel_size_um"):  # an explicit value won: drop the folder's
            folder.pop(given, None)
        kwargs = {**folder, **{k: v for k, v in kwargs.items() if v is not None}}
    if not path.is_file():
        raise ModelError(f"checkpoint '{path}' does not exist")
    name = name or path.stem
    size = checkpoint_pixel_size(path, name) if pixel_size_um is None else pixel_size_um
    if not size:
        log.warning("the working pixel size of '%s' is unknown: clients run calibrated images at full resolution; "
                    "pass --pixel-size-um with the one it was trained at (PathoSAM: 0.25)", path)  # fmt: skip
    return ModelSpec(name=name, architecture="", checkpoint=path, pixel_size_um=float(size), **kwargs)
