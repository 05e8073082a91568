"""The gRPC service over a real channel: info, health, every bad input, and a good call after."""
from __future__ import annotations

import io

import grpc
import pytest
from conftest import noise_image, raw_image
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from pathosam_server.grpc_api import pathosam_pb2 as pb

TILE = noise_image(1, 96, 128)


def _tile(arr=TILE, x=0, y=0, d=1.0, core=None, index=0) -> pb.Tile:
    h, w = arr.shape[:2]
    t = pb.Tile(region=pb.Rect(x=x, y=y, width=round(w * d), height=round(h * d)), image=raw_image(arr), index=index)
    if core is not None:
        t.core.CopyFrom(core)
    return t


def test_info_and_health(stub, server: str) -> None:
    info = stub.GetInfo(pb.GetInfoRequest())
    assert info.device == "cpu" and info.micro_sam_version == "1.8.14"
    (model,) = info.models
    assert model.name == "random" and model.is_default and model.architecture == "vit_t"
    assert model.has_semantic_decoder and [c.name for c in model.classes][:2] == ["Neoplastic", "Inflammatory"]
    assert (model.default_tile_size, model.default_halo) == (384, 64)
    assert info.limits.max_tile_size == 1024
    with grpc.insecure_channel(server) as ch:
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="pathosam.v1.PathoSam"))
    assert status.status == health_pb2.HealthCheckResponse.SERVING


def _bad_tile_requests():
    good = _tile()
    cases = []

    def case(name, code, words, mutate):
        req = pb.SegmentTileRequest(tile=pb.Tile(), downsample=1.0)
        req.tile.CopyFrom(good)
        mutate(req)
        cases.append(pytest.param(req, code, words, id=name))

    INV, RES, NF = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.NOT_FOUND
    case("short-pixels", INV, "needs 36864 bytes", lambda r: setattr(r.tile.image, "data", r.tile.image.data[:-3]))
    case("zero-width", INV, "zero or negative size", lambda r: setattr(r.tile.image, "width", 0))
    case("huge-image", RES, "exceeds the server's max tile size",
         lambda r: (setattr(r.tile.image, "width", 5000), setattr(r.tile.region, "width", 5000)))
    case("bad-encoding", INV, "unknown pixel encoding 17", lambda r: setattr(r.tile.image, "encoding", 17))
    case("png-garbage", INV, "cannot decode PNG image", lambda r: setattr(r.tile.image, "encoding", pb.PNG))
    case("unknown-model", NF, "unknown model 'vit_z_nonsense'", lambda r: setattr(r, "model", "vit_z_nonsense"))
    case("nan-downsample", INV, "downsample must be a finite number", lambda r: setattr(r, "downsample", float("nan")))
    case("negative-downsample", INV, "downsample must be in (0, 1024]", lambda r: setattr(r, "downsample", -2.0))
    case("nan-threshold", INV, "foreground_threshold must be a number in [0.0, 1.0]",
         lambda r: setattr(r.params, "foreground_threshold", float("nan")))
    case("simplify-too-large", INV, "simplify_tolerance must be a number in [0.0, 1.0], got 5.0",
         lambda r: setattr(r.params, "simplify_tolerance", 5.0))
    case("zero-region", INV, "tile region has zero or negative size", lambda r: setattr(r.tile.region, "height", 0))
    case("size-mismatch", INV, "does not match its level-0 width", lambda r: setattr(r, "downsample", 2.0))
    case("core-outside-tile", INV, "is not inside the tile's region",
         lambda r: r.tile.core.CopyFrom(pb.Rect(x=100, y=0, width=100, height=10)))
    case("larger-than-model-window", INV, "larger than the model's input window of 512 px",
         lambda r: (r.tile.image.CopyFrom(raw_image(noise_image(2, 40, 600))), r.tile.region.CopyFrom(
             pb.Rect(x=0, y=0, width=600, height=40))))
    return cases


@pytest.mark.parametrize("request_msg,code,words", _bad_tile_requests())
def test_bad_tile_inputs(stub, request_msg, code, words) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.SegmentTile(request_msg)
    assert err.value.code() == code, err.value.details()
    assert words in err.value.details()  # says what was wrong
    assert " at 0x" not in err.value.details()  # never a Python object address


def _region_stream(start: pb.RegionStart, tiles, end=True):
    yield pb.SegmentRegionRequest(start=start)
    for t in tiles:
        yield pb.SegmentRegionRequest(tile=t)
    if end:
        yield pb.SegmentRegionRequest(end=pb.RegionEnd())


def test_bad_region_streams(stub) -> None:
    region = pb.Rect(x=0, y=0, width=128, height=96)
    cases = [
        ([pb.SegmentRegionRequest(tile=_tile())], "RegionStart"),  # no start message
        (_region_stream(pb.RegionStart(region=region, model="nope"), []), "unknown model"),
        (_region_stream(pb.RegionStart(region=pb.Rect(width=0, height=5)), []), "zero or negative"),
        (_region_stream(pb.RegionStart(region=region), [_tile(x=500)]), "outside the declared region"),
    ]
    for requests, words in cases:
        with pytest.raises(grpc.RpcError) as err:
            list(stub.SegmentRegion(iter(requests)))
        assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
        assert words in err.value.details()


def test_message_too_large_is_resource_exhausted(stub) -> None:
    big = pb.SegmentTileRequest(tile=pb.Tile(image=pb.Image(width=1, height=1, data=b"\0" * (9 << 20))))
    with pytest.raises(grpc.RpcError) as err:
        stub.SegmentTile(big)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.slow
def test_good_request_after_bad_ones_and_png_equals_raw(stub) -> None:
    raw = stub.SegmentTile(pb.SegmentTileRequest(tile=_tile(), params=pb.SegmentParams(simplify_tolerance=0)))
    buf = io.BytesIO()
    Image.fromarray(TILE).save(buf, format="PNG")
    png_tile = _tile()
    png_tile.image.CopyFrom(pb.Image(width=128, height=96, encoding=pb.PNG, data=buf.getvalue()))
    png = stub.SegmentTile(pb.SegmentTileRequest(tile=png_tile, params=pb.SegmentParams(simplify_tolerance=0)))
    assert raw.summary.tiles == 1 and raw.summary.nuclei == len(raw.nuclei) > 0
    assert [list(n.geometry.polygons[0].exterior.xy) for n in raw.nuclei] == [
        list(n.geometry.polygons[0].exterior.xy) for n in png.nuclei
    ]
    assert len({n.id for n in raw.nuclei}) == len(raw.nuclei)
    assert all(n.class_name in ("Neoplastic", "Inflammatory", "Connective", "Dead", "Epithelial") for n in raw.nuclei)
    assert all(0 <= n.class_probability <= 1 and 0 <= n.score <= 1 for n in raw.nuclei)


def test_token_required_when_configured(random_model) -> None:
    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
    from pathosam_server.rpc.server import create_server

    srv, port, _ = create_server(random_model, "127.0.0.1", 0, token="s3cret")
    srv.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.PathoSamStub(ch)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetInfo(pb.GetInfoRequest())
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            info = stub.GetInfo(pb.GetInfoRequest(), metadata=[("authorization", "Bearer s3cret")])
            assert info.models[0].name == "random"
            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        srv.stop(0).wait()


def test_model_without_semantic_decoder_returns_unclassified_nuclei(random_checkpoint) -> None:
    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.rpc.server import create_server

    plain = ModelManager([local_spec(random_checkpoint, name="plain")], "cpu")
    srv, port, _ = create_server(plain, "127.0.0.1", 0)
    srv.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.PathoSamStub(ch)
            before = stub.GetInfo(pb.GetInfoRequest()).models[0]
            assert not before.has_semantic_decoder and not before.classes
            resp = stub.SegmentTile(pb.SegmentTileRequest(tile=_tile(), params=pb.SegmentParams(classify=True)))
            assert resp.nuclei and all(n.class_id == 0 and n.class_name == "" for n in resp.nuclei)
            assert dict(resp.summary.nuclei_per_class) == {"": len(resp.nuclei)}
            after = stub.GetInfo(pb.GetInfoRequest()).models[0]
            assert after.loaded and not after.has_semantic_decoder
    finally:
        srv.stop(0).wait()


def test_tls_server_with_self_signed_certificate(random_model, tmp_path) -> None:
    import subprocess

    from pathosam_server.grpc_api import pathosam_pb2_grpc as pb_grpc
    from pathosam_server.rpc.server import create_server

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    srv, port, _ = create_server(random_model, "127.0.0.1", 0, tls=(key.read_bytes(), cert.read_bytes()))
    srv.start()
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"localhost:{port}", creds) as ch:
            assert pb_grpc.PathoSamStub(ch).GetInfo(pb.GetInfoRequest(), timeout=30).models[0].name == "random"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:  # plaintext is refused
            with pytest.raises(grpc.RpcError):
                pb_grpc.PathoSamStub(ch).GetInfo(pb.GetInfoRequest(), timeout=10)
    finally:
        srv.stop(0).wait()
