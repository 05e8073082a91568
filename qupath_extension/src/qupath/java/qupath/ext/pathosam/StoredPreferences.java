package qupath.ext.pathosam;

import io.github.pathosam.client.DetectionSettingsBuilder;
import io.github.pathosam.client.TileEncoding;
import javafx.beans.property.BooleanProperty;
import javafx.beans.property.DoubleProperty;
import javafx.beans.property.IntegerProperty;
import javafx.beans.property.ObjectProperty;
import javafx.beans.property.StringProperty;
import qupath.lib.gui.prefs.PathPrefs;

/**
 * The PathoSAM preferences as QuPath stores them (with its own, per user), for everything that
 * starts from them: the toolbar command, the prompt tools, the status check, and scripts that call
 * {@link PathoSam#builderFromPreferences()}, in QuPath's window or under {@code QuPath script}.
 *
 * <p>They live beside the scripting API, not in the user interface, so that a script can read them
 * without the extension's UI; the preference pane ({@code qupath.ext.pathosam.ui}) edits these same
 * properties. The token's preference is {@link ServerToken}'s.
 */
public final class StoredPreferences {

    private static final StringProperty SERVER = PathPrefs.createPersistentPreference("pathosam.server", "127.0.0.1:50051");
    private static final StringProperty MODEL = PathPrefs.createPersistentPreference("pathosam.model", "");
    private static final IntegerProperty TILE_SIZE = PathPrefs.createPersistentPreference("pathosam.tileSize", 384);
    private static final IntegerProperty HALO = PathPrefs.createPersistentPreference("pathosam.halo", 64);
    // 0 = the model's own working pixel size (GetInfo), which is what nearly everyone wants.
    private static final DoubleProperty PIXEL_SIZE = PathPrefs.createPersistentPreference("pathosam.pixelSizeMicrons", 0.0);
    private static final ObjectProperty<TileEncoding> ENCODING = PathPrefs.createPersistentPreference(
            "pathosam.encoding", TileEncoding.RAW_RGB8, TileEncoding.class);
    private static final DoubleProperty SIMPLIFY = PathPrefs.createPersistentPreference("pathosam.simplify", 0.5);
    private static final BooleanProperty CLASSIFY = PathPrefs.createPersistentPreference("pathosam.classify", true);
    private static final BooleanProperty REPLACE = PathPrefs.createPersistentPreference("pathosam.replace", true);
    // true = the run decides (whole image: skip glass; annotations: every tile); false = never skip.
    private static final BooleanProperty SKIP_BACKGROUND =
            PathPrefs.createPersistentPreference("pathosam.skipBackground", true);
    private static final BooleanProperty MEASURE_SHAPE = PathPrefs.createPersistentPreference("pathosam.measureShape", false);
    private static final BooleanProperty MEASURE_INTENSITY =
            PathPrefs.createPersistentPreference("pathosam.measureIntensity", false);
    // 0 = nuclei only (detections); > 0 = cells, in µm (px on uncalibrated images).
    private static final DoubleProperty CELL_EXPANSION = PathPrefs.createPersistentPreference("pathosam.cellExpansion", 0.0);
    private static final DoubleProperty CELL_CONSTRAIN_SCALE =
            PathPrefs.createPersistentPreference("pathosam.cellConstrainScale", 0.0);

    private StoredPreferences() {
    }

    /** @return {@code host:port} of the server */
    public static StringProperty server() {
        return SERVER;
    }

    /** @return the model name; empty for the server's default */
    public static StringProperty model() {
        return MODEL;
    }

    /** @return inner tile edge in working pixels */
    public static IntegerProperty tileSize() {
        return TILE_SIZE;
    }

    /** @return halo in working pixels */
    public static IntegerProperty halo() {
        return HALO;
    }

    /** @return working pixel size in µm; 0 for the model's own */
    public static DoubleProperty pixelSize() {
        return PIXEL_SIZE;
    }

    /** @return how tile pixels travel */
    public static ObjectProperty<TileEncoding> encoding() {
        return ENCODING;
    }

    /** @return polygon simplification in working pixels */
    public static DoubleProperty simplify() {
        return SIMPLIFY;
    }

    /** @return whether nuclei get classes */
    public static BooleanProperty classify() {
        return CLASSIFY;
    }

    /** @return whether a run first removes earlier PathoSAM detections in its regions */
    public static BooleanProperty replace() {
        return REPLACE;
    }

    /**
     * @return whether whole-image runs skip tiles of glass (annotations never do unless a script asks)
     */
    public static BooleanProperty skipBackground() {
        return SKIP_BACKGROUND;
    }

    /** @return whether nuclei (and cells) get QuPath's shape measurements */
    public static BooleanProperty measureShape() {
        return MEASURE_SHAPE;
    }

    /** @return whether nuclei (and cells) get hematoxylin and eosin statistics */
    public static BooleanProperty measureIntensity() {
        return MEASURE_INTENSITY;
    }

    /** @return cell expansion in µm (px when uncalibrated); 0 for nuclei only */
    public static DoubleProperty cellExpansion() {
        return CELL_EXPANSION;
    }

    /** @return the largest cell as a multiple of its nucleus; 0 for no limit */
    public static DoubleProperty cellConstrainScale() {
        return CELL_CONSTRAIN_SCALE;
    }

    /**
     * Fills a builder from the preferences; options set on it afterwards override them.
     *
     * @param builder a fresh builder, e.g. {@code PathoSam.builder()}
     * @param <T>     what it builds
     * @return the builder
     */
    public static <T> DetectionSettingsBuilder<T> applyTo(DetectionSettingsBuilder<T> builder) {
        builder.server(SERVER.get())
                .token(ServerToken.fallback())
                .model(MODEL.get())
                .tileSize(TILE_SIZE.get())
                .halo(HALO.get())
                .encoding(ENCODING.get() == null ? TileEncoding.RAW_RGB8 : ENCODING.get())
                .simplify(SIMPLIFY.get())
                .classify(CLASSIFY.get())
                .replace(REPLACE.get());
        // On leaves the choice to the run (DetectionSettings.resolveSkipBackground); off is a firm no.
        if (!SKIP_BACKGROUND.get())
            builder.skipBackground(false);
        if (PIXEL_SIZE.get() > 0)
            builder.pixelSize(PIXEL_SIZE.get());
        if (MEASURE_SHAPE.get())
            builder.measureShape();
        if (MEASURE_INTENSITY.get())
            builder.measureIntensity();
        if (CELL_EXPANSION.get() > 0)
            builder.cellExpansion(CELL_EXPANSION.get());
        if (CELL_CONSTRAIN_SCALE.get() > 0)
            builder.cellConstrainScale(CELL_CONSTRAIN_SCALE.get());
        return builder;
    }
}
