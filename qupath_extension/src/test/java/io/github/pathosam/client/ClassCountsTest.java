package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ClassCountsTest {

    private static final List<String> MODEL = List.of("Neoplastic", "Inflammatory", "Connective", "Dead", "Epithelial");

    @Test
    void theModelsOrderWithZerosThenOthersThenUnclassified() {
        Map<String, Integer> counts = ClassCounts.count(
                Arrays.asList("Dead", null, "Neoplastic", "Tumor", "Dead", "", "Neoplastic", "Dead"), MODEL);
        assertEquals(List.of("Neoplastic", "Inflammatory", "Connective", "Dead", "Epithelial", "Tumor", ""),
                new ArrayList<>(counts.keySet()));
        assertEquals(List.of(2, 0, 0, 3, 0, 1, 2), new ArrayList<>(counts.values()));
    }

    @Test
    void aRunWithoutClassesCountsOnlyUnclassified() {
        assertEquals(Map.of("", 3), ClassCounts.count(Arrays.asList(null, null, ""), MODEL));
        assertEquals(Map.of(), ClassCounts.count(List.of(), MODEL));
    }
}
