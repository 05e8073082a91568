package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A host that does not resolve leaves one line of advice, not gRPC's stack trace, in the log. */
class GrpcLogsTest {

    @Test
    void nameResolutionFailuresAreDroppedEverythingElsePasses() {
        GrpcLogs.quiet();
        assertFalse(GrpcLogs.passes(new LogRecord(Level.WARNING, "[{0}] Failed to resolve name. status={1}")));
        assertTrue(GrpcLogs.passes(new LogRecord(Level.WARNING, "[{0}] Something else")));
        assertTrue(GrpcLogs.passes(new LogRecord(Level.SEVERE, null)));
    }

    @Test
    void anUnknownHostIsReportedOnceInWords() {
        List<LogRecord> logged = new ArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                logged.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger grpc = Logger.getLogger(GrpcLogs.CHANNEL_LOGGER);
        grpc.addHandler(capture);
        try {
            DetectionSettings s = DetectionSettings.builder().server("nosuchhost.invalid:50051").build();
            ServerUnavailableException e = assertTimeoutPreemptively(Duration.ofSeconds(30),
                    () -> assertThrows(ServerUnavailableException.class, () -> RunPlan.fetch(s, null, 0.25)));
            assertEquals("no PathoSAM server at nosuchhost.invalid:50051 — start one with `pathosam serve`", e.getMessage());
        } finally {
            grpc.removeHandler(capture);
        }
        assertTrue(logged.stream().noneMatch(r -> r.getMessage() != null && r.getMessage().contains("resolve")),
                "gRPC logged: " + logged.stream().map(LogRecord::getMessage).toList());
    }
}
