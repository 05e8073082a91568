package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** The client core must compile and run without QuPath: no qupath.* reference in its sources. */
class CoreHasNoQuPathDependencyTest {

    @Test
    void noQuPathImports() throws IOException {
        Path core = Path.of("src/main/java/io/github/pathosam/client");
        List<Path> offenders;
        try (Stream<Path> files = Files.walk(core)) {
            offenders = files.filter(p -> p.toString().endsWith(".java")).filter(p -> {
                try {
                    return Files.readAllLines(p).stream().anyMatch(l -> l.matches("\\s*import\\s+(static\\s+)?qupath\\..*"));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).toList();
        }
        assertFalse(Files.notExists(core), "run from the module folder");
        assertEquals(List.of(), offenders);
    }
}
