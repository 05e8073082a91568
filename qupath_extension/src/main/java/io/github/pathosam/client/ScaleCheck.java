package io.github.pathosam.client;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * Whether a run shows the model nuclei at the size it learned them: the pixel size the model will
 * see (the image's level-0 pixel size times the run's downsample) against the model's own working
 * pixel size from {@code GetInfo} (0.25 µm for PathoSAM).
 *
 * <p>A model far from its scale finds too many, split nuclei (pixels too fine) or misses small ones
 * (too coarse): a 0.125 µm scan run at full resolution by a 0.25 µm model gave 286 detections for 133
 * nuclei. More than {@value #TOLERANCE} times away, or at full resolution because the server does not
 * know its model's pixel size, a run deserves a warning before it starts. The diagnosis is the same
 * everywhere; where to change the scale (preferences, a builder option) is the client's to add.
 *
 * @param model            the model's name
 * @param imagePixelSizeUm the image's level-0 pixel size in µm; NaN when uncalibrated
 * @param runPixelSizeUm   the pixel size the model will see, in µm; NaN when the image is uncalibrated
 * @param modelPixelSizeUm the model's working pixel size in µm; 0 when the server does not know it
 * @param chosen           whether the user chose the scale (a pixel size or a fixed downsample) rather
 *                         than leaving it to the model
 */
public record ScaleCheck(String model, double imagePixelSizeUm, double runPixelSizeUm, double modelPixelSizeUm,
                         boolean chosen) {

    /** How far (as a factor either way) the run's pixel size may be from the model's without a warning. */
    public static final double TOLERANCE = 1.5;

    /** What the check found. */
    public enum Verdict {
        /** The run is within {@value #TOLERANCE}x of the model's scale. */
        FITS,
        /** The image has no pixel size, so the scale cannot be judged (the run goes at full resolution). */
        UNCALIBRATED,
        /** The model's scale is unknown and nobody chose one: a calibrated image runs at full resolution. */
        MODEL_SCALE_UNKNOWN,
        /** The model's scale is unknown, but the user chose the run's scale: nothing to judge against. */
        CHOSEN,
        /** The model would see pixels more than {@value #TOLERANCE}x smaller than its own: nuclei look too large. */
        TOO_FINE,
        /** The model would see pixels more than {@value #TOLERANCE}x larger than its own: nuclei look too small. */
        TOO_COARSE
    }

    /**
     * @param model      the model's name
     * @param imageUm    the image's pixel size in µm, NaN or 0 when uncalibrated
     * @param downsample the run's downsample
     * @param modelUm    the model's working pixel size, 0 when unknown
     * @param chosen     whether the settings chose the scale
     * @return the check
     */
    public static ScaleCheck of(String model, double imageUm, double downsample, double modelUm, boolean chosen) {
        boolean calibrated = WorkingResolution.isKnown(imageUm);
        return new ScaleCheck(model, calibrated ? imageUm : Double.NaN, calibrated ? imageUm * downsample : Double.NaN,
                WorkingResolution.isKnown(modelUm) ? modelUm : 0, chosen);
    }

    /** @return the verdict */
    public Verdict verdict() {
        if (!WorkingResolution.isKnown(runPixelSizeUm))
            return Verdict.UNCALIBRATED;
        if (!WorkingResolution.isKnown(modelPixelSizeUm))
            return chosen ? Verdict.CHOSEN : Verdict.MODEL_SCALE_UNKNOWN;
        double r = ratio();
        // A hair of rounding must not turn 1.5x into a warning.
        if (r * TOLERANCE < 1 - 1e-9)
            return Verdict.TOO_FINE;
        if (r > TOLERANCE + 1e-9)
            return Verdict.TOO_COARSE;
        return Verdict.FITS;
    }

    /** @return whether a run should warn before it starts */
    public boolean isWarning() {
        Verdict v = verdict();
        return v == Verdict.MODEL_SCALE_UNKNOWN || v == Verdict.TOO_FINE || v == Verdict.TOO_COARSE;
    }

    /** @return the run's pixel size over the model's (above 1: coarser); NaN when either is unknown */
    public double ratio() {
        return WorkingResolution.isKnown(runPixelSizeUm) && WorkingResolution.isKnown(modelPixelSizeUm)
                ? runPixelSizeUm / modelPixelSizeUm : Double.NaN;
    }

    /** @return the diagnosis in one or two sentences, empty unless {@link #isWarning()} */
    public String describe() {
        return switch (verdict()) {
            case TOO_FINE -> "This image would run at " + um(runPixelSizeUm) + " per pixel, " + times(1 / ratio())
                    + " finer than the " + um(modelPixelSizeUm) + " model '" + model + "' works at: nuclei would look "
                    + times(1 / ratio()) + " larger than the model knows them, and it may split them or find too many.";
            case TOO_COARSE -> "This image would run at " + um(runPixelSizeUm) + " per pixel, " + times(ratio())
                    + " coarser than the " + um(modelPixelSizeUm) + " model '" + model + "' works at: nuclei would look "
                    + times(ratio()) + " smaller than the model knows them, and it may miss them.";
            case MODEL_SCALE_UNKNOWN -> "The server does not say at which pixel size model '" + model
                    + "' works, so this " + um(imagePixelSizeUm) + " per pixel image runs at full resolution; "
                    + "nuclei may not have the size the model knows.";
            default -> "";
        };
    }

    private static String um(double v) {
        return new BigDecimal(String.format(Locale.ROOT, "%.3g", v)).stripTrailingZeros().toPlainString() + " µm";
    }

    private static String times(double f) {
        return String.format(Locale.ROOT, "%.1f times", f);
    }
}
