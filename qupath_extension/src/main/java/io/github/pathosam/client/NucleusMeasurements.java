package io.github.pathosam.client;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The measurements PathoSAM puts on each detection. The names are shared with the Python batch
 * and its GeoJSON output, and {@link #SCORE} is how a detection is recognised as PathoSAM's when
 * earlier results are replaced.
 */
public final class NucleusMeasurements {

    /** Segmentation confidence in [0, 1]; present on every PathoSAM detection. */
    public static final String SCORE = "PathoSAM: score";

    /** Mean probability of the nucleus's class in [0, 1]; present on classified detections only. */
    public static final String CLASS_PROBABILITY = "PathoSAM: class probability";

    private NucleusMeasurements() {
    }

    /**
     * @param nucleus a nucleus from the server
     * @return measurement name to value, in a stable order: the score, the class probability when the
     *         nucleus has a class, then the server's measurements (shape, stains) with QuPath's names;
     *         NaN values (a compartment without pixels) are left out, as QuPath leaves a missing value
     */
    public static Map<String, Double> of(NucleusResult nucleus) {
        Map<String, Double> values = new LinkedHashMap<>();
        values.put(SCORE, nucleus.score());
        if (nucleus.isClassified())
            values.put(CLASS_PROBABILITY, nucleus.classProbability());
        nucleus.measurements().forEach((name, value) -> {
            if (!value.isNaN())
                values.put(name, value);
        });
        return values;
    }

    /**
     * @param measurementNames the names of an object's measurements
     * @return whether the object was made by PathoSAM
     */
    public static boolean isPathoSam(Collection<String> measurementNames) {
        return measurementNames.contains(SCORE);
    }
}
