"""Load PathoSAM models: weights into a servable model, the device, and the models a server serves.

What a model is (``ModelSpec``, ``local_spec``, ``registry_spec``) lives in ``specs`` and is re-exported here.

Registry models (``vit_b_histopathology`` ...) download through micro-sam's own pooch registry
(hash-checked, cached under ``MICROSAM_CACHEDIR``); local checkpoint paths always work offline. Reading
weight files and the registry lives in ``weights``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from ..errors import ModelError, UnknownModelError
from .attention import compile_decoder, compile_encoder, fuse_attention
from .layout import to_channels_last
from .precision import compute_in, dtype_name, resolve_model_precision
from .scheduler import per_sample_batch_norm
from .semantic import (
    fetch_published_semantic_decoder,
    load_semantic_decoder_state,
    resolve_precision,
    verify_sha256,
)
from .specs import PATHOSAM_HALO, PATHOSAM_TILE, TILE_NORMALIZATIONS, ModelSpec, local_spec, registry_spec
from .weights import (
    DEFAULT_MODEL,
    PATHOSAM_PIXEL_SIZE_UM,
    REGISTRY_MODELS,
    architecture_of,
    fetch_registry,
    file_sha256,
    is_cached,
    split_state,
    torch_load,
)

log = logging.getLogger(__name__)


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


@dataclass
class ModelStates:
    """The weights a spec names, read into memory (before any model is built).

    Attributes:
        sam: SAM's state dict.
        decoder: The AIS decoder's state (non-encoder UNETR keys) or None.
        semantic: The semantic decoder's state or None.
        files: (role, path) of every file they came from, for provenance.
    """

    sam: dict
    decoder: Optional[dict]
    semantic: Optional[dict]
    files: list[tuple[str, Path]]


def read_states(spec: ModelSpec) -> ModelStates:
    """Read (downloading registry weights if needed) every state dict a spec names.

    Args:
        spec: What to read; its ``architecture`` is set from the weights.

    Returns:
        The states.
    """
    # A local semantic decoder is checked first: a wrong file fails in a second, before any large
    # download or model construction.
    sem_state = None
    files: list[tuple[str, Path]] = []  # what the model is built from, for provenance
    if spec.semantic_decoder is not None:
        files.append(("semantic_decoder", Path(spec.semantic_decoder)))
        if spec.semantic_sha256:
            verify_sha256(Path(spec.semantic_decoder), spec.semantic_sha256)
        sem_state = load_semantic_decoder_state(Path(spec.semantic_decoder), len(spec.class_names))
    trusted = spec.checkpoint is None  # registry downloads are hash-checked by pooch
    if spec.checkpoint is None:
        checkpoint, registry_decoder = fetch_registry(spec.name)
    else:
        checkpoint, registry_decoder = spec.checkpoint, None
    files.insert(0, ("checkpoint", Path(checkpoint)))
    if sem_state is None and spec.semantic_registry:
        published = fetch_published_semantic_decoder(spec.name)
        files.append(("semantic_decoder", Path(published)))
        sem_state = load_semantic_decoder_state(published, len(spec.class_names))
    sam_state, decoder_state = split_state(torch_load(checkpoint, spec.allow_pickle or trusted))
    decoder_path = spec.decoder or registry_decoder
    if decoder_path is not None:
        files.insert(1, ("decoder", Path(decoder_path)))
        decoder_state = torch_load(Path(decoder_path), spec.allow_pickle or trusted)
    spec.architecture = architecture_of(sam_state)
    return ModelStates(sam_state, decoder_state, sem_state, files)


def load_model(spec: ModelSpec, device: str) -> LoadedModel:
    """Build the SAM predictor and decoders for a spec.

    Args:
        spec: What to load.
        device: Torch device.

    Returns:
        The loaded model.
    """
    if spec.tile_normalization not in TILE_NORMALIZATIONS:
        raise ModelError(
            f"unknown tile normalization '{spec.tile_normalization}'; choose one of {', '.join(TILE_NORMALIZATIONS)}"
        )
    states = read_states(spec)
    hashed = tuple((role, p.name, file_sha256(p), p.stat().st_size) for role, p in states.files)
    return assemble_model(spec, states, device, hashed)


def assemble_model(
    spec: ModelSpec, states: ModelStates, device: str, weights: tuple[tuple[str, str, str, int], ...] = ()
) -> LoadedModel:
    """Build the servable model from states in memory (``load_model``; fine-tuning's validation).

    Args:
        spec: The model's spec (architecture set).
        states: Its weights.
        device: Torch device.
        weights: Provenance of the files the states came from.

    Returns:
        The loaded model.
    """
    from micro_sam.instance_segmentation import DecoderAdapter, get_decoder, get_unetr
    from micro_sam.util import SamPredictor, sam_model_registry

    semantic_dtype = resolve_precision(spec.class_precision, device)
    compute_dtype = resolve_model_precision(spec.precision, device)
    arch = spec.architecture or architecture_of(states.sam)
    spec.architecture = arch
    try:
        sam = sam_model_registry[arch]()
        sam.load_state_dict(states.sam)
    except (KeyError, RuntimeError) as err:
        raise ModelError(f"weights of '{spec.source}' do not fit a SAM {arch} model: {err}") from err
    sam.to(device).eval()
    fused = fuse_attention(sam.image_encoder)
    compute_in(sam.image_encoder, compute_dtype, device)
    edge = getattr(sam.image_encoder, "img_size", 1024)
    if spec.compile:
        # SamPredictor calls sam.image_encoder; the decoders keep the uncompiled module they were built on.
        sam.image_encoder = compile_encoder(sam.image_encoder, device, edge)
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
    if states.decoder is not None:
        decoder = get_decoder(sam.image_encoder, states.decoder, device)
        per_sample_batch_norm(decoder)  # so that batched tiles equal tiles run one at a time
        compute_in(decoder, compute_dtype, device)
        if spec.tile_normalization != "micro-sam":  # parity mode computes as micro-sam does, NCHW
            to_channels_last(decoder, device)
        if spec.compile:
            compile_decoder(decoder, device, compute_dtype, edge)
    semantic = None
    if states.semantic is not None:
        channels = 1 + len(spec.class_names)
        unetr = get_unetr(sam.image_encoder, states.semantic, device, out_channels=channels, final_activation=None)
        semantic = DecoderAdapter(unetr).eval()
        if spec.tile_normalization != "micro-sam":
            to_channels_last(semantic, device)
        if spec.compile:
            compile_decoder(semantic, device, semantic_dtype, edge)
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
    return LoadedModel(
        spec=spec,
        predictor=predictor,
        decoder=decoder,
        semantic_decoder=semantic,
        device=device,
        semantic_dtype=semantic_dtype,
        compute_dtype=compute_dtype,
        weights=weights,
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
    "PATHOSAM_HALO",
    "PATHOSAM_TILE",
    "ModelSpec",
    "local_spec",
    "registry_spec",
    "DEFAULT_MODEL",
    "PATHOSAM_PIXEL_SIZE_UM",
    "REGISTRY_MODELS",
    "is_cached",
]
