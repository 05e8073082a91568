package io.github.pathosam.client;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CompatibilityTest {

    @Test
    void sameMinorLineIsCompatibleOthersAreNot() {
        assertTrue(Compatibility.of("0.1.0-SNAPSHOT", "0.1.3").compatible());
        Compatibility other = Compatibility.of("0.2.0", "0.1.0");
        assertFalse(other.compatible());
        assertTrue(other.verdict().contains("differ in their minor version"), other.verdict());
        assertFalse(Compatibility.of("0.1.0", "").compatible());
    }
}
