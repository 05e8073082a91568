package io.github.pathosam.client;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.TlsChannelCredentials;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;

/**
 * Builds the channel of a {@link PathoSamClient}: credentials, token, limits, retry policy, and for a
 * pool of servers gRPC's round-robin balancing with health checks.
 */
final class ChannelFactory {

    /** Nucleus batches of a dense tile can be large; the server's own limit is reported by GetInfo. */
    static final int MAX_INBOUND_MESSAGE_BYTES = 64 * 1024 * 1024;

    private static final org.slf4j.Logger logger = org.slf4j.LoggerFactory.getLogger(ChannelFactory.class);

    private ChannelFactory() {
    }

    static ManagedChannel create(ClientOptions options) {
        GrpcLogs.quiet();
        ServerTarget target = options.target();
        ManagedChannelBuilder<?> builder;
        if (target.dns()) {
            builder = Grpc.newChannelBuilder(ServerTarget.DNS_PREFIX + target.first(), credentials(options));
        } else if (target.isPool()) {
            PoolResolver.register();
            builder = Grpc.newChannelBuilder(PoolResolver.SCHEME + ":///pool", credentials(options))
                    .setNameResolverArg(PoolResolver.SERVERS, target.addresses());
        } else {
            builder = Grpc.newChannelBuilderForAddress(options.host(), options.port(), credentials(options));
        }
        builder.maxInboundMessageSize(MAX_INBOUND_MESSAGE_BYTES)
                .defaultServiceConfig(target.isPool() ? poolServiceConfig() : retryServiceConfig())
                .enableRetry()
                .userAgent("pathosam-java-client");
        options.token().ifPresent(token -> {
            if (!options.tls() && !options.target().addresses().stream().allMatch(a -> isLoopback(a.host())))
                logger.warn("Sending the PathoSAM token to {} without TLS: anyone on the network path can read it",
                        options.address());
            builder.intercept(new BearerTokenInterceptor(token));
        });
        return builder.build();
    }

    private static ChannelCredentials credentials(ClientOptions options) {
        if (!options.tls())
            return InsecureChannelCredentials.create();
        if (options.trustCertificates().isEmpty())
            return TlsChannelCredentials.create();
        try {
            return TlsChannelCredentials.newBuilder()
                    .trustManager(options.trustCertificates().get().toFile())
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read certificates " + options.trustCertificates().get(), e);
        }
    }

    /**
     * Retries UNAVAILABLE for the idempotent unary methods only, with bounded exponential backoff
     * (0.2 s, 0.4 s, 0.8 s; at most 4 attempts). The region stream is never retried: tiles already
     * sent would be lost; its caller decides. Numbers are doubles because gRPC parses the map as JSON.
     */
    static Map<String, ?> retryServiceConfig() {
        List<Map<String, String>> names = List.of(
                Map.of("service", PathoSamClient.SERVICE_NAME, "method", "GetInfo"),
                Map.of("service", PathoSamClient.SERVICE_NAME, "method", "SegmentTile"),
                Map.of("service", PathoSamClient.SERVICE_NAME, "method", "Prompt"));
        Map<String, Object> retryPolicy = Map.of(
                "maxAttempts", 4.0,
                "initialBackoff", "0.2s",
                "maxBackoff", "2s",
                "backoffMultiplier", 2.0,
                "retryableStatusCodes", List.of("UNAVAILABLE"));
        return Map.of("methodConfig", List.of(Map.of("name", names, "retryPolicy", retryPolicy)));
    }

    /**
     * A pool: gRPC's {@code round_robin} over every server, with gRPC's client-side health checks of
     * the PathoSAM service (grpc-services provides them), so a server that stops or reports
     * NOT_SERVING (still loading its model, shutting down) gets no new calls until it serves again;
     * plus {@link #retryServiceConfig()}, whose retries then land on another server.
     */
    static Map<String, ?> poolServiceConfig() {
        Map<String, Object> config = new java.util.LinkedHashMap<>(retryServiceConfig());
        config.put("loadBalancingConfig", List.of(Map.of("round_robin", Map.of())));
        config.put("healthCheckConfig", Map.of("serviceName", PathoSamClient.SERVICE_NAME));
        return config;
    }

    private static boolean isLoopback(String host) {
        if (host.equalsIgnoreCase("localhost"))
            return true;
        try {
            // Only literals: never resolve a name just to print a warning.
            boolean literal = host.matches("[0-9.]+") || host.contains(":");
            return literal && InetAddress.getByName(host).isLoopbackAddress();
        } catch (IOException e) {
            return false;
        }
    }
}
