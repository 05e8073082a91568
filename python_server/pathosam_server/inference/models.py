"""Load PathoSAM models: what a model is (``ModelSpec``), the device, and the models a server serves.

Registry models (``vit_b_histopathology`` ...) download through micro-sam's own pooch registry
(hash-checked, cached under ``MICROSAM_CACHEDIR``); local checkpoint paths always work offline. Reading
weight files and the registry lives in ``weights``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from ..errors import ModelError, UnknownModelError
from .attention import compile_encoder, fuse_attention
from .precision import compute_in, dtype_name, resolve_model_precision
from .scheduler import per_sample_batch_norm
from .semantic import (
    PUBLISHED_SEMANTIC_DECODERS,
    fetch_published_semantic_decoder,
    load_semantic_decoder_state,
    resolve_precision,
    verify_sha256,
)
from .weights import (
    DEFAULT_MODEL,
    PATHOSAM_PIXEL_SIZE_UM,
    REGISTRY_MODELS,
    architecture_of,
    checkpoint_pixel_size,
    fetch_registry,
    file_sha256,
    is_cached,
    split_state,
    torch_load,
)

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
        compile: ``torch.compile`` the image encoder at load (``attention.compile_encoder``).
        max_batch: Most tiles per encoder and decoder pass (``scheduler.TileScheduler``; 0 = from the
            device: free GPU memory, or 2 on a CPU).
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
    """Spec for a local checkpoint; the architecture is read from the weights.

    Args:
        path: Checkpoint file (micro-sam format, optionally with a ``decoder_state``).
        name: Name to serve it under (default: the file's stem).
        pixel_size_um: Working pixel size in um; None: PathoSAM's for its weights (``checkpoint_pixel_size``),
            else 0 (unknown).
        kwargs: Further ModelSpec fields (decoder, semantic_decoder, tile_size, ...).

    Returns:
        The spec.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint '{path}' does not exist")
    name = name or path.stem
    size = checkpoint_pixel_size(path, name) if pixel_size_um is None else pixel_size_um
    if not size:
        log.warning("the working pixel size of '%s' is unknown: clients run calibrated images at full resolution; "
                    "pass --pixel-size-um with the one it was trained at (PathoSAM: 0.25)", path)  # fmt: skip
    return ModelSpec(name=name, architecture="", checkpoint=path, pixel_size_um=float(size), **kwargs)


def select_device(requested: Optional[str] = None) -> str:
    """Pick the torch device: the requested one, else cuda, then mps, then cpu.

    Args:
        requested: "auto"/None, or "cpu", "cuda", "cuda:N", "mps".

    Returns:
        The device string.
    """
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = requested.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device '{requested}' requested but CUDA is not available (use --device cpu)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ModelError(f"device '{requested}' requested but MPS is not available (use --device cpu)")
    if kind not in ("cpu", "cuda", "mps"):
        raise ModelError(f"unknown device '{requested}'; use auto, cpu, cuda, cuda:N or mps")
    return requested


@dataclass
class LoadedModel:
    """A model in memory. Inference on it must hold ``lock`` (SamPredictor keeps per-image state).

    Tiles reach it through its ``scheduler`` (``scheduler.scheduler_of``), which batches them; prompts
    hold ``lock`` themselves.

    Attributes:
        spec: Where it came from.
        predictor: micro-sam's SamPredictor (encoder + prompt decoder).
        decoder: The AIS decoder (micro-sam DecoderAdapter) or None.
        semantic_decoder: The 6-channel semantic decoder (DecoderAdapter, logits) or None.
        semantic_dtype: Autocast dtype of the semantic decoder (None = float32).
        compute_dtype: Autocast dtype of the encoder and the AIS decoder (None = float32).
        device: Torch device string.
        scheduler: The model's ``TileScheduler``, made on first use.
        weights: (role, file name, SHA-256, bytes) of every file the model was built from, taken at load
            so provenance names the file the model really came from, even if it changes on disk later.
    """

    spec: ModelSpec
    predictor: Any
    decoder: Any
    semantic_decoder: Any
    device: str
    semantic_dtype: Any = None
    compute_dtype: Any = None
    weights: tuple[tuple[str, str, str, int], ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)
    scheduler: Any = None


def load_model(spec: ModelSpec, device: str) -> LoadedModel:
    """Build the SAM predictor and decoders for a spec.

    Args:
        spec: What to load.
        device: Torch device.

    Returns:
        The loaded model.
    """
    from micro_sam.instance_segmentation import DecoderAdapter, get_decoder, get_unetr
    from micro_sam.util import SamPredictor, sam_model_registry

    semantic_dtype = resolve_precision(spec.class_precision, device)
    compute_dtype = resolve_model_precision(spec.precision, device)
    if spec.tile_normalization not in TILE_NORMALIZATIONS:
        raise ModelError(
            f"unknown tile normalization '{spec.tile_normalization}'; choose one of {', '.join(TILE_NORMALIZATIONS)}"
        )

    # A local semantic decoder is checked first: a wrong file fails in a second, before any large
    # download or model construction.
    sem_state = None
    files: list[tuple[str, Path]] = []  # what the model is built from, for provenance
    if spec.semantic_decoder is not None:
        files.append(("semantic_decoder", Path(spec.semantic_decoder)))
        if spec.semantic_sha256:
            verify_sha256(Path(spec.semantic_decoder), spec.semantic_sha256)
        sem_state = load_semantic_decoder_state(Path(spec.semantic_decoder))
    trusted = spec.checkpoint is None  # registry downloads are hash-checked by pooch
    if spec.checkpoint is None:
        checkpoint, registry_decoder = fetch_registry(spec.name)
    else:
        checkpoint, registry_decoder = spec.checkpoint, None
    files.insert(0, ("checkpoint", Path(checkpoint)))
    if sem_state is None and spec.semantic_registry:
        published = fetch_published_semantic_decoder(spec.name)
        files.append(("semantic_decoder", Path(published)))
        sem_state = load_semantic_decoder_state(published)
    sam_state, decoder_state = split_state(torch_load(checkpoint, spec.allow_pickle or trusted))
    decoder_path = spec.decoder or registry_decoder
    if decoder_path is not None:
        files.insert(1, ("decoder", Path(decoder_path)))
        decoder_state = torch_load(Path(decoder_path), spec.allow_pickle or trusted)
    arch = architecture_of(sam_state)
    spec.architecture = arch
    try:
        sam = sam_model_registry[arch]()
        sam.load_state_dict(sam_state)
    except (KeyError, RuntimeError) as err:
        raise ModelError(f"weights in '{checkpoint}' do not fit a SAM {arch} model: {err}") from err
    sam.to(device).eval()
    fused = fuse_attention(sam.image_encoder)
    compute_in(sam.image_encoder, compute_dtype, device)
    if spec.compile:
        # SamPredictor calls sam.image_encoder; the decoders keep the uncompiled module they were built on.
        sam.image_encoder = compile_encoder(sam.image_encoder, device, getattr(sam.image_encoder, "img_size", 1024))
    predictor = SamPredictor(sam)
    predictor.model_type = arch
    predictor.model_name = spec.name
    predictor._hash = spec.source
    # The AIS decoder stays in torch's training mode, as micro-sam runs it (its BatchNorm layers
    # normalise with each tile's own statistics); that keeps our instances equal to micro-sam's
    # `automatic_instance_segmentation` pixel for pixel. The semantic decoder runs in eval mode, as
    # patho-sam's own semantic evaluation runs it (`unetr.eval()`): stored running statistics make a
    # nucleus's class depend less on what else its tile holds (tiny model: classes identical under two
    # tile grids for 96 % of nuclei instead of 94 %).
    decoder = None
    if decoder_state is not None:
        decoder = get_decoder(sam.image_encoder, decoder_state, device)
        per_sample_batch_norm(decoder)  # so that batched tiles equal tiles run one at a time
        compute_in(decoder, compute_dtype, device)
    semantic = None
    if sem_state is not None:
        unetr = get_unetr(sam.image_encoder, sem_state, device, out_channels=6, final_activation=None)
        semantic = DecoderAdapter(unetr).eval()
    log.info(
        "loaded %s (%s) on %s from %s%s",
        spec.name,
        arch,
        device,
        spec.source,
        f"; encoder and instance decoder in {dtype_name(compute_dtype)}"
        + (f"; classes in {semantic_dtype or torch.float32}" if semantic is not None else "")
        + (f"; fused attention in {fused} encoder blocks" if fused else ""),
    )
    hashed = tuple((role, p.name, file_sha256(p), p.stat().st_size) for role, p in files)
    return LoadedModel(
        spec=spec,
        predictor=predictor,
        decoder=decoder,
        semantic_decoder=semantic,
        device=device,
        semantic_dtype=semantic_dtype,
        compute_dtype=compute_dtype,
        weights=hashed,
    )


class ModelManager:
    """The models one server serves, loaded lazily and at most once (thread-safe).

    Args:
        specs: Servable models; the first is the default unless ``default`` names another.
        device: Torch device for all of them.
        default: Name of the default model.
    """

    def __init__(self, specs: list[ModelSpec], device: str, default: Optional[str] = None) -> None:
        if not specs:
            raise ModelError("no model configured")
        for spec in specs:
            spec.check_tiles(spec.tile_size, spec.halo)
        self.specs = {s.name: s for s in specs}
        self.default = default or specs[0].name
        self.device = device
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def resolve(self, name: str) -> str:
        """The model name to use for a request's (possibly empty) model field."""
        name = name or self.default
        if name not in self.specs:
            raise UnknownModelError(f"unknown model '{name}'; this server serves: {', '.join(self.specs)}")
        return name

    def get(self, name: str = "") -> LoadedModel:
        """The loaded model, loading it on first use."""
        name = self.resolve(name)
        with self._lock:
            model = self._loaded.get(name)
            if model is None:
                model = load_model(self.specs[name], self.device)
                self._loaded[name] = model
            return model

    def is_loaded(self, name: str) -> bool:
        """Whether a model is in memory."""
        return name in self._loaded

    def loaded(self, name: str) -> Optional[LoadedModel]:
        """The model if it is in memory, else None; never waits for a model that is loading."""
        return self._loaded.get(name)


__all__ = [  # re-exported: callers name the model room's one entry point
    "DEFAULT_MODEL",
    "PATHOSAM_PIXEL_SIZE_UM",
    "REGISTRY_MODELS",
    "is_cached",
]
