package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.Rect;
import io.github.pathosam.grpc.v1.SegmentParams;

/** Small conversions between client values and wire messages. */
final class Protos {

    private Protos() {
    }

    static Rect rect(PixelRect r) {
        return Rect.newBuilder().setX(r.x()).setY(r.y()).setWidth(r.width()).setHeight(r.height()).build();
    }

    /** Sets only what the options fix; the rest takes the server's defaults. */
    static SegmentParams params(ClientOptions options) {
        SegmentParams.Builder params = SegmentParams.newBuilder();
        options.classify().ifPresent(params::setClassify);
        options.simplifyTolerance().ifPresent(params::setSimplifyTolerance);
        options.skipBackground().ifPresent(params::setSkipBackground);
        options.analysis().applyTo(params);
        return params.build();
    }
}
