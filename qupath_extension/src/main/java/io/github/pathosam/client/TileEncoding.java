package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.PixelEncoding;

/** How tile pixels travel to the server. */
public enum TileEncoding {
    /** Interleaved R,G,B bytes, row-major: no encoding cost, the best choice on loopback or a fast LAN. */
    RAW_RGB8(PixelEncoding.RAW_RGB8),
    /** Lossless PNG (javax.imageio): smaller messages for slow links to a remote server, at a CPU cost. */
    PNG(PixelEncoding.PNG);

    private final PixelEncoding proto;

    TileEncoding(PixelEncoding proto) {
        this.proto = proto;
    }

    /** @return the wire enum value */
    PixelEncoding toProto() {
        return proto;
    }
}
