from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PixelEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIXEL_ENCODING_UNSPECIFIED: _ClassVar[PixelEncoding]
    RAW_RGB8: _ClassVar[PixelEncoding]
    PNG: _ClassVar[PixelEncoding]
    JPEG: _ClassVar[PixelEncoding]
PIXEL_ENCODING_UNSPECIFIED: PixelEncoding
RAW_RGB8: PixelEncoding
PNG: PixelEncoding
JPEG: PixelEncoding

class Rect(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("width", "height", "encoding", "data")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    encoding: PixelEncoding
    data: bytes
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., encoding: _Optional[_Union[PixelEncoding, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Ring(_message.Message):
    __slots__ = ("xy",)
    XY_FIELD_NUMBER: _ClassVar[int]
    xy: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, xy: _Optional[_Iterable[float]] = ...) -> None: ...

class Polygon(_message.Message):
    __slots__ = ("exterior", "holes")
    EXTERIOR_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    exterior: Ring
    holes: _containers.RepeatedCompositeFieldContainer[Ring]
    def __init__(self, exterior: _Optional[_Union[Ring, _Mapping]] = ..., holes: _Optional[_Iterable[_Union[Ring, _Mapping]]] = ...) -> None: ...

class Geometry(_message.Message):
    __slots__ = ("polygons",)
    POLYGONS_FIELD_NUMBER: _ClassVar[int]
    polygons: _containers.RepeatedCompositeFieldContainer[Polygon]
    def __init__(self, polygons: _Optional[_Iterable[_Union[Polygon, _Mapping]]] = ...) -> None: ...

class Nucleus(_message.Message):
    __slots__ = ("id", "geometry", "score", "class_id", "class_name", "class_probability", "class_probabilities", "area", "centroid_x", "centroid_y", "touches_tile_edge", "measurements", "cell_geometry")
    class MeasurementsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    CLASS_PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    AREA_FIELD_NUMBER: _ClassVar[int]
    CENTROID_X_FIELD_NUMBER: _ClassVar[int]
    CENTROID_Y_FIELD_NUMBER: _ClassVar[int]
    TOUCHES_TILE_EDGE_FIELD_NUMBER: _ClassVar[int]
    MEASUREMENTS_FIELD_NUMBER: _ClassVar[int]
    CELL_GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    id: int
    geometry: Geometry
    score: float
    class_id: int
    class_name: str
    class_probability: float
    class_probabilities: _containers.RepeatedScalarFieldContainer[float]
    area: float
    centroid_x: float
    centroid_y: float
    touches_tile_edge: bool
    measurements: _containers.ScalarMap[str, float]
    cell_geometry: Geometry
    def __init__(self, id: _Optional[int] = ..., geometry: _Optional[_Union[Geometry, _Mapping]] = ..., score: _Optional[float] = ..., class_id: _Optional[int] = ..., class_name: _Optional[str] = ..., class_probability: _Optional[float] = ..., class_probabilities: _Optional[_Iterable[float]] = ..., area: _Optional[float] = ..., centroid_x: _Optional[float] = ..., centroid_y: _Optional[float] = ..., touches_tile_edge: _Optional[bool] = ..., measurements: _Optional[_Mapping[str, float]] = ..., cell_geometry: _Optional[_Union[Geometry, _Mapping]] = ...) -> None: ...

class SegmentParams(_message.Message):
    __slots__ = ("classify", "simplify_tolerance", "min_size", "center_distance_threshold", "boundary_distance_threshold", "foreground_threshold", "all_class_probabilities", "skip_background", "measure_shape", "measure_intensity", "stains", "pixel_size_um", "cell_expansion", "cell_constrain_scale")
    CLASSIFY_FIELD_NUMBER: _ClassVar[int]
    SIMPLIFY_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    CENTER_DISTANCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BOUNDARY_DISTANCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FOREGROUND_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ALL_CLASS_PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    SKIP_BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    MEASURE_SHAPE_FIELD_NUMBER: _ClassVar[int]
    MEASURE_INTENSITY_FIELD_NUMBER: _ClassVar[int]
    STAINS_FIELD_NUMBER: _ClassVar[int]
    PIXEL_SIZE_UM_FIELD_NUMBER: _ClassVar[int]
    CELL_EXPANSION_FIELD_NUMBER: _ClassVar[int]
    CELL_CONSTRAIN_SCALE_FIELD_NUMBER: _ClassVar[int]
    classify: bool
    simplify_tolerance: float
    min_size: int
    center_distance_threshold: float
    boundary_distance_threshold: float
    foreground_threshold: float
    all_class_probabilities: bool
    skip_background: bool
    measure_shape: bool
    measure_intensity: bool
    stains: StainVectors
    pixel_size_um: float
    cell_expansion: float
    cell_constrain_scale: float
    def __init__(self, classify: _Optional[bool] = ..., simplify_tolerance: _Optional[float] = ..., min_size: _Optional[int] = ..., center_distance_threshold: _Optional[float] = ..., boundary_distance_threshold: _Optional[float] = ..., foreground_threshold: _Optional[float] = ..., all_class_probabilities: _Optional[bool] = ..., skip_background: _Optional[bool] = ..., measure_shape: _Optional[bool] = ..., measure_intensity: _Optional[bool] = ..., stains: _Optional[_Union[StainVectors, _Mapping]] = ..., pixel_size_um: _Optional[float] = ..., cell_expansion: _Optional[float] = ..., cell_constrain_scale: _Optional[float] = ...) -> None: ...

class StainVectors(_message.Message):
    __slots__ = ("name", "stain1_name", "stain1", "stain2_name", "stain2", "background")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAIN1_NAME_FIELD_NUMBER: _ClassVar[int]
    STAIN1_FIELD_NUMBER: _ClassVar[int]
    STAIN2_NAME_FIELD_NUMBER: _ClassVar[int]
    STAIN2_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    name: str
    stain1_name: str
    stain1: _containers.RepeatedScalarFieldContainer[float]
    stain2_name: str
    stain2: _containers.RepeatedScalarFieldContainer[float]
    background: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., stain1_name: _Optional[str] = ..., stain1: _Optional[_Iterable[float]] = ..., stain2_name: _Optional[str] = ..., stain2: _Optional[_Iterable[float]] = ..., background: _Optional[_Iterable[float]] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("model", "architecture", "weights", "server_version", "precision", "class_precision", "params", "working_pixel_size_um")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    CLASS_PRECISION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    WORKING_PIXEL_SIZE_UM_FIELD_NUMBER: _ClassVar[int]
    model: str
    architecture: str
    weights: _containers.RepeatedCompositeFieldContainer[WeightsFile]
    server_version: str
    precision: str
    class_precision: str
    params: SegmentParams
    working_pixel_size_um: float
    def __init__(self, model: _Optional[str] = ..., architecture: _Optional[str] = ..., weights: _Optional[_Iterable[_Union[WeightsFile, _Mapping]]] = ..., server_version: _Optional[str] = ..., precision: _Optional[str] = ..., class_precision: _Optional[str] = ..., params: _Optional[_Union[SegmentParams, _Mapping]] = ..., working_pixel_size_um: _Optional[float] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClassInfo(_message.Message):
    __slots__ = ("id", "name", "rgb")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RGB_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    rgb: int
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., rgb: _Optional[int] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "architecture", "loaded", "available", "is_default", "has_instance_decoder", "has_semantic_decoder", "classes", "default_tile_size", "default_halo", "working_pixel_size_um", "source", "input_edge", "weights", "precision", "class_precision")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    HAS_INSTANCE_DECODER_FIELD_NUMBER: _ClassVar[int]
    HAS_SEMANTIC_DECODER_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_HALO_FIELD_NUMBER: _ClassVar[int]
    WORKING_PIXEL_SIZE_UM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    INPUT_EDGE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    CLASS_PRECISION_FIELD_NUMBER: _ClassVar[int]
    name: str
    architecture: str
    loaded: bool
    available: bool
    is_default: bool
    has_instance_decoder: bool
    has_semantic_decoder: bool
    classes: _containers.RepeatedCompositeFieldContainer[ClassInfo]
    default_tile_size: int
    default_halo: int
    working_pixel_size_um: float
    source: str
    input_edge: int
    weights: _containers.RepeatedCompositeFieldContainer[WeightsFile]
    precision: str
    class_precision: str
    def __init__(self, name: _Optional[str] = ..., architecture: _Optional[str] = ..., loaded: _Optional[bool] = ..., available: _Optional[bool] = ..., is_default: _Optional[bool] = ..., has_instance_decoder: _Optional[bool] = ..., has_semantic_decoder: _Optional[bool] = ..., classes: _Optional[_Iterable[_Union[ClassInfo, _Mapping]]] = ..., default_tile_size: _Optional[int] = ..., default_halo: _Optional[int] = ..., working_pixel_size_um: _Optional[float] = ..., source: _Optional[str] = ..., input_edge: _Optional[int] = ..., weights: _Optional[_Iterable[_Union[WeightsFile, _Mapping]]] = ..., precision: _Optional[str] = ..., class_precision: _Optional[str] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_tile_size", "max_message_bytes", "max_concurrent_streams", "max_region_pixels", "max_prompts_per_object", "max_objects_per_prompt", "max_open_calls", "max_work_per_client", "stream_idle_timeout_seconds", "max_prompt_window")
    MAX_TILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    MAX_REGION_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MAX_PROMPTS_PER_OBJECT_FIELD_NUMBER: _ClassVar[int]
    MAX_OBJECTS_PER_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_OPEN_CALLS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORK_PER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    STREAM_IDLE_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_PROMPT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    max_tile_size: int
    max_message_bytes: int
    max_concurrent_streams: int
    max_region_pixels: int
    max_prompts_per_object: int
    max_objects_per_prompt: int
    max_open_calls: int
    max_work_per_client: int
    stream_idle_timeout_seconds: float
    max_prompt_window: int
    def __init__(self, max_tile_size: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_concurrent_streams: _Optional[int] = ..., max_region_pixels: _Optional[int] = ..., max_prompts_per_object: _Optional[int] = ..., max_objects_per_prompt: _Optional[int] = ..., max_open_calls: _Optional[int] = ..., max_work_per_client: _Optional[int] = ..., stream_idle_timeout_seconds: _Optional[float] = ..., max_prompt_window: _Optional[int] = ...) -> None: ...

class CacheStats(_message.Message):
    __slots__ = ("hits", "misses", "entries", "bytes", "budget_bytes", "evictions")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    BUDGET_BYTES_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    hits: int
    misses: int
    entries: int
    bytes: int
    budget_bytes: int
    evictions: int
    def __init__(self, hits: _Optional[int] = ..., misses: _Optional[int] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ..., budget_bytes: _Optional[int] = ..., evictions: _Optional[int] = ...) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("server_version", "micro_sam_version", "torch_version", "device", "models", "limits", "default_params", "embedding_cache")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MICRO_SAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TORCH_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PARAMS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_CACHE_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    micro_sam_version: str
    torch_version: str
    device: str
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    limits: Limits
    default_params: SegmentParams
    embedding_cache: CacheStats
    def __init__(self, server_version: _Optional[str] = ..., micro_sam_version: _Optional[str] = ..., torch_version: _Optional[str] = ..., device: _Optional[str] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., default_params: _Optional[_Union[SegmentParams, _Mapping]] = ..., embedding_cache: _Optional[_Union[CacheStats, _Mapping]] = ...) -> None: ...

class RegionStart(_message.Message):
    __slots__ = ("model", "region", "downsample", "params", "request_id", "image_width", "image_height")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    DOWNSAMPLE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    model: str
    region: Rect
    downsample: float
    params: SegmentParams
    request_id: str
    image_width: int
    image_height: int
    def __init__(self, model: _Optional[str] = ..., region: _Optional[_Union[Rect, _Mapping]] = ..., downsample: _Optional[float] = ..., params: _Optional[_Union[SegmentParams, _Mapping]] = ..., request_id: _Optional[str] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...

class Tile(_message.Message):
    __slots__ = ("region", "core", "image", "index")
    REGION_FIELD_NUMBER: _ClassVar[int]
    CORE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    region: Rect
    core: Rect
    image: Image
    index: int
    def __init__(self, region: _Optional[_Union[Rect, _Mapping]] = ..., core: _Optional[_Union[Rect, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., index: _Optional[int] = ...) -> None: ...

class RegionEnd(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SegmentRegionRequest(_message.Message):
    __slots__ = ("start", "tile", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    TILE_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: RegionStart
    tile: Tile
    end: RegionEnd
    def __init__(self, start: _Optional[_Union[RegionStart, _Mapping]] = ..., tile: _Optional[_Union[Tile, _Mapping]] = ..., end: _Optional[_Union[RegionEnd, _Mapping]] = ...) -> None: ...

class TileDone(_message.Message):
    __slots__ = ("index", "nuclei", "tiles_done", "seconds", "skipped")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NUCLEI_FIELD_NUMBER: _ClassVar[int]
    TILES_DONE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    index: int
    nuclei: int
    tiles_done: int
    seconds: float
    skipped: bool
    def __init__(self, index: _Optional[int] = ..., nuclei: _Optional[int] = ..., tiles_done: _Optional[int] = ..., seconds: _Optional[float] = ..., skipped: _Optional[bool] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("encoder_seconds", "decoder_seconds", "postprocess_seconds", "total_seconds")
    ENCODER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DECODER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    POSTPROCESS_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    encoder_seconds: float
    decoder_seconds: float
    postprocess_seconds: float
    total_seconds: float
    def __init__(self, encoder_seconds: _Optional[float] = ..., decoder_seconds: _Optional[float] = ..., postprocess_seconds: _Optional[float] = ..., total_seconds: _Optional[float] = ...) -> None: ...

class RegionSummary(_message.Message):
    __slots__ = ("nuclei", "tiles", "nuclei_per_class", "timings", "core_coverage", "nuclei_touching_tile_edge", "model", "nuclei_dropped_at_seams", "tiles_skipped", "provenance")
    class NucleiPerClassEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NUCLEI_FIELD_NUMBER: _ClassVar[int]
    TILES_FIELD_NUMBER: _ClassVar[int]
    NUCLEI_PER_CLASS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    CORE_COVERAGE_FIELD_NUMBER: _ClassVar[int]
    NUCLEI_TOUCHING_TILE_EDGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NUCLEI_DROPPED_AT_SEAMS_FIELD_NUMBER: _ClassVar[int]
    TILES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    nuclei: int
    tiles: int
    nuclei_per_class: _containers.ScalarMap[str, int]
    timings: Timings
    core_coverage: float
    nuclei_touching_tile_edge: int
    model: str
    nuclei_dropped_at_seams: int
    tiles_skipped: int
    provenance: Provenance
    def __init__(self, nuclei: _Optional[int] = ..., tiles: _Optional[int] = ..., nuclei_per_class: _Optional[_Mapping[str, int]] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., core_coverage: _Optional[float] = ..., nuclei_touching_tile_edge: _Optional[int] = ..., model: _Optional[str] = ..., nuclei_dropped_at_seams: _Optional[int] = ..., tiles_skipped: _Optional[int] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class NucleusBatch(_message.Message):
    __slots__ = ("nuclei", "tile_index")
    NUCLEI_FIELD_NUMBER: _ClassVar[int]
    TILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    nuclei: _containers.RepeatedCompositeFieldContainer[Nucleus]
    tile_index: int
    def __init__(self, nuclei: _Optional[_Iterable[_Union[Nucleus, _Mapping]]] = ..., tile_index: _Optional[int] = ...) -> None: ...

class SegmentRegionResponse(_message.Message):
    __slots__ = ("nuclei", "progress", "summary")
    NUCLEI_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    nuclei: NucleusBatch
    progress: TileDone
    summary: RegionSummary
    def __init__(self, nuclei: _Optional[_Union[NucleusBatch, _Mapping]] = ..., progress: _Optional[_Union[TileDone, _Mapping]] = ..., summary: _Optional[_Union[RegionSummary, _Mapping]] = ...) -> None: ...

class SegmentTileRequest(_message.Message):
    __slots__ = ("model", "tile", "downsample", "params", "image_width", "image_height")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TILE_FIELD_NUMBER: _ClassVar[int]
    DOWNSAMPLE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    model: str
    tile: Tile
    downsample: float
    params: SegmentParams
    image_width: int
    image_height: int
    def __init__(self, model: _Optional[str] = ..., tile: _Optional[_Union[Tile, _Mapping]] = ..., downsample: _Optional[float] = ..., params: _Optional[_Union[SegmentParams, _Mapping]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...

class SegmentTileResponse(_message.Message):
    __slots__ = ("nuclei", "summary")
    NUCLEI_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    nuclei: _containers.RepeatedCompositeFieldContainer[Nucleus]
    summary: RegionSummary
    def __init__(self, nuclei: _Optional[_Iterable[_Union[Nucleus, _Mapping]]] = ..., summary: _Optional[_Union[RegionSummary, _Mapping]] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y", "positive")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    positive: bool
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., positive: _Optional[bool] = ...) -> None: ...

class PromptObject(_message.Message):
    __slots__ = ("points", "box", "previous")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Point]
    box: Rect
    previous: Geometry
    def __init__(self, points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., box: _Optional[_Union[Rect, _Mapping]] = ..., previous: _Optional[_Union[Geometry, _Mapping]] = ...) -> None: ...

class PromptRequest(_message.Message):
    __slots__ = ("model", "window", "downsample", "image", "digest", "objects", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    DOWNSAMPLE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: str
    window: Rect
    downsample: float
    image: Image
    digest: str
    objects: _containers.RepeatedCompositeFieldContainer[PromptObject]
    params: SegmentParams
    def __init__(self, model: _Optional[str] = ..., window: _Optional[_Union[Rect, _Mapping]] = ..., downsample: _Optional[float] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., digest: _Optional[str] = ..., objects: _Optional[_Iterable[_Union[PromptObject, _Mapping]]] = ..., params: _Optional[_Union[SegmentParams, _Mapping]] = ...) -> None: ...

class PromptResponse(_message.Message):
    __slots__ = ("nuclei", "digest", "embedding_cached")
    NUCLEI_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_CACHED_FIELD_NUMBER: _ClassVar[int]
    nuclei: _containers.RepeatedCompositeFieldContainer[Nucleus]
    digest: str
    embedding_cached: bool
    def __init__(self, nuclei: _Optional[_Iterable[_Union[Nucleus, _Mapping]]] = ..., digest: _Optional[str] = ..., embedding_cached: _Optional[bool] = ...) -> None: ...

class WeightsFile(_message.Message):
    __slots__ = ("role", "name", "sha256", "bytes")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    role: str
    name: str
    sha256: str
    bytes: int
    def __init__(self, role: _Optional[str] = ..., name: _Optional[str] = ..., sha256: _Optional[str] = ..., bytes: _Optional[int] = ...) -> None: ...
