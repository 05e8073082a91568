package io.github.pathosam.client;

/**
 * The one set of value rules that {@link ClientOptions.Builder} and {@link DetectionSettingsBuilder}
 * both apply, so that a script's builder and the client it configures can never disagree about
 * what is valid. Each check names the option as the caller's builder method spells it, so the
 * message points at the line of the script to fix.
 */
final class SettingRules {

    /** Smallest inner tile edge in tile pixels: smaller tiles are nearly all halo. */
    static final int MIN_TILE_SIZE = 16;
    /** Largest inner tile edge in tile pixels; the server's own limit (GetInfo) may be lower. */
    static final int MAX_TILE_SIZE = 4096;
    /** Smallest downsample: 100 working pixels per level-0 pixel is already far past any use. */
    static final double MIN_DOWNSAMPLE = 0.01;
    /** Largest polygon simplification in tile pixels: more would move outlines by whole pixels. */
    static final double MAX_SIMPLIFY = 1.0;

    private SettingRules() {
    }

    /**
     * @param token a stripped bearer token, or null for none
     * @throws IllegalArgumentException when it holds anything but printable ASCII (gRPC metadata
     *         would reject it later, with a message nobody could act on)
     */
    static void checkToken(String token) {
        if (token != null && token.chars().anyMatch(c -> c < 0x20 || c > 0x7e))
            throw new IllegalArgumentException("token must be printable ASCII");
    }

    /**
     * @param option   the option's name in the caller's builder
     * @param tileSize inner tile edge in tile pixels
     * @throws IllegalArgumentException outside {@value #MIN_TILE_SIZE}-{@value #MAX_TILE_SIZE}
     */
    static void checkTileSize(String option, int tileSize) {
        if (tileSize < MIN_TILE_SIZE || tileSize > MAX_TILE_SIZE)
            throw new IllegalArgumentException(option + " must be " + MIN_TILE_SIZE + "-" + MAX_TILE_SIZE
                    + " pixels, not " + tileSize);
    }

    /**
     * @param option   the option's name in the caller's builder
     * @param halo     halo in tile pixels
     * @param tileSize the tile size it goes with, or {@link #MAX_TILE_SIZE} while the model's is not known yet
     * @throws IllegalArgumentException when negative or larger than the tile
     */
    static void checkHalo(String option, int halo, int tileSize) {
        if (halo < 0 || halo > tileSize)
            throw new IllegalArgumentException(option + " must be 0-" + tileSize + " pixels, not " + halo);
    }

    /** PathoSAM's input window: tile + 2 x halo that the model sees at its own scale (384 + 2 x 64). */
    static final int MODEL_INPUT_EDGE = 512;

    /**
     * A tile and halo must fit the model's input window, or tiles would reach the model shrunk (the server
     * pads smaller tiles and refuses larger ones).
     *
     * @param tileSize  inner tile edge in working pixels
     * @param halo      halo in working pixels
     * @param inputEdge the model's input edge (GetInfo's {@code input_edge}; 0 = unknown, then 512)
     * @throws IllegalArgumentException naming valid choices
     */
    static void checkModelWindow(int tileSize, int halo, int inputEdge) {
        int edge = inputEdge > 0 ? inputEdge : MODEL_INPUT_EDGE;
        if (tileSize + 2 * halo > edge)
            throw new IllegalArgumentException("tileSize " + tileSize + " + 2 x halo " + halo + " = "
                    + (tileSize + 2 * halo) + " px exceeds the model's input window of " + edge
                    + " px; choose tileSize + 2 x halo <= " + edge + " (e.g. 384 + 64, 448 + 32, 256 + 128)");
    }

    /**
     * @param option     the option's name in the caller's builder
     * @param downsample level-0 pixels per tile pixel
     * @throws IllegalArgumentException when not finite or below {@value #MIN_DOWNSAMPLE}
     */
    static void checkDownsample(String option, double downsample) {
        if (!(Double.isFinite(downsample) && downsample >= MIN_DOWNSAMPLE))
            throw new IllegalArgumentException(option + " must be at least " + MIN_DOWNSAMPLE + ", not " + downsample);
    }

    /**
     * @param option    the option's name in the caller's builder
     * @param tolerance Douglas-Peucker tolerance in tile pixels, or null for the server's default
     * @throws IllegalArgumentException outside 0-{@value #MAX_SIMPLIFY} (NaN included)
     */
    static void checkSimplify(String option, Double tolerance) {
        if (tolerance != null && !(tolerance >= 0 && tolerance <= MAX_SIMPLIFY))
            throw new IllegalArgumentException(option + " must be 0-1 pixel, not " + tolerance);
    }

    /**
     * @param option      the option's name in the caller's builder
     * @param micrometres a working pixel size
     * @throws IllegalArgumentException when not a finite positive number
     */
    static void checkPixelSize(String option, double micrometres) {
        if (!WorkingResolution.isKnown(micrometres))
            throw new IllegalArgumentException(option + " must be a positive number of micrometres, not " + micrometres);
    }
}
