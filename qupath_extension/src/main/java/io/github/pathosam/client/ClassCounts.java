package io.github.pathosam.client;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Nuclei per class of one run, in an order a table can rely on: the model's classes in class-id
 * order (every one, 0 where none, so that images line up), then names the model does not list in
 * first-seen order, then {@code ""} for unclassified nuclei. A run without classes counts only "".
 */
public final class ClassCounts {

    private ClassCounts() {
    }

    /**
     * @param classNames   the class name of each nucleus, null or empty for an unclassified one
     * @param modelClasses the model's class names in class-id order ({@link ModelSelection#classColours})
     * @return class name to count, ordered as described above; the model's classes only appear when
     *         at least one nucleus is classified
     */
    public static Map<String, Integer> count(Iterable<String> classNames, Collection<String> modelClasses) {
        Map<String, Integer> seen = new LinkedHashMap<>();
        int unclassified = 0;
        for (String name : classNames) {
            if (name == null || name.isEmpty())
                unclassified++;
            else
                seen.merge(name, 1, Integer::sum);
        }
        Map<String, Integer> ordered = new LinkedHashMap<>();
        if (!seen.isEmpty())
            modelClasses.forEach(c -> ordered.put(c, 0));
        // An existing key keeps its place and takes the count; a new one goes to the end.
        ordered.putAll(seen);
        if (unclassified > 0)
            ordered.put("", unclassified);
        return ordered;
    }
}
