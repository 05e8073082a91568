package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged (shaded) jar, as QuPath would load it: a fresh JVM with the jar, QuPath's JTS /
 * Gson / SLF4J and nothing else (run by Failsafe in {@code mvn verify}, after packaging).
 */
class ShadedJarIT {

    private static final String PREFIX = "qupath/ext/pathosam/shaded/";

    private static Path jar() {
        return Path.of(System.getProperty("pathosam.shadedJar", "target/qupath-extension-pathosam.jar"));
    }

    @Test
    void thirdPartyPackagesAreRelocated() throws IOException {
        List<String> leaked = new ArrayList<>();
        try (ZipFile zip = new ZipFile(jar().toFile())) {
            zip.stream().map(e -> e.getName()).filter(n -> n.endsWith(".class"))
                    .filter(n -> !n.startsWith(PREFIX) && !n.startsWith("io/github/pathosam/") && !n.startsWith("qupath/ext/pathosam/"))
                    .limit(10).forEach(leaked::add);
            assertTrue(zip.getEntry(PREFIX + "io/grpc/ManagedChannel.class") != null);
            assertTrue(zip.getEntry(PREFIX + "com/google/protobuf/Message.class") != null);
            assertTrue(zip.getEntry("META-INF/services/qupath.ext.pathosam.shaded.io.grpc.ManagedChannelProvider") != null);
            assertTrue(zip.stream().noneMatch(e -> e.getName().startsWith("org/locationtech/")
                    || e.getName().startsWith("com/google/gson/") || e.getName().startsWith("org/slf4j/")),
                    "QuPath's own libraries must not be bundled");
        }
        assertEquals(List.of(), leaked, "classes outside the relocation prefix");
    }

    @Test
    void noServerMessageFromTheShadedJar() throws Exception {
        int port = PythonServer.freePort();
        String out = runSmoke(Integer.toString(port));
        assertTrue(out.contains("ERROR no PathoSAM server at 127.0.0.1:" + port + " — start one with `pathosam serve`"), out);
    }

    @Test
    @DisabledIfSystemProperty(named = "pathosam.live", matches = "false")
    void getInfoThroughTheShadedJar() throws Exception {
        try (PythonServer server = PythonServer.start()) {
            String out = runSmoke(Integer.toString(server.port()), "info");
            assertTrue(out.contains("HEALTH SERVING") && out.contains("MODELS 1"), out);
            // A pool whose first server is down: the relocated round robin, health checks and the
            // pool's name resolver (found through relocated service files) route to the live one.
            String pool = "127.0.0.1:" + PythonServer.freePort() + ", 127.0.0.1:" + server.port();
            String pooled = runSmoke(pool, "info");
            assertTrue(pooled.contains("HEALTH SERVING") && pooled.contains("MODELS 1"), pooled);
        }
    }

    private static String runSmoke(String... args) throws IOException, InterruptedException {
        String classPath = String.join(File.pathSeparator, jar().toString(), "target/test-classes",
                System.getProperty("pathosam.qupathLibs", ""));
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", classPath, ShadedJarSmoke.class.getName()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return out;
    }
}
