package qupath.ext.pathosam.ui;

import io.github.pathosam.client.DetectionSettingsBuilder;
import io.github.pathosam.client.TileEncoding;
import javafx.beans.property.BooleanProperty;
import javafx.beans.property.DoubleProperty;
import javafx.beans.property.IntegerProperty;
import javafx.beans.property.ObjectProperty;
import javafx.beans.property.Property;
import javafx.beans.property.StringProperty;
import javafx.beans.value.ObservableValue;
import org.controlsfx.control.PropertySheet;
import qupath.ext.pathosam.ServerToken;
import qupath.fx.prefs.controlsfx.PropertyItemBuilder;
import qupath.lib.gui.QuPathGUI;
import qupath.lib.gui.prefs.PathPrefs;

import java.util.List;

/**
 * The extension's persistent preferences (QuPath stores them with its own) and their items in
 * QuPath's preference pane, under the category "PathoSAM". The token's preference belongs to
 * {@link ServerToken}, because recorded scripts read it too; the pane edits it here with the rest.
 */
final class PathoSamPreferences {

    private static final StringProperty SERVER = PathPrefs.createPersistentPreference("pathosam.server", "127.0.0.1:50051");
    private static final StringProperty TOKEN = ServerToken.preference();
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

    private PathoSamPreferences() {
    }

    /** @return {@code host:port} of the server */
    static StringProperty serverProperty() {
        return SERVER;
    }

    /** @return the model name; empty for the server's default */
    static StringProperty modelProperty() {
        return MODEL;
    }

    /**
     * Fills a builder from the preferences, as the toolbar command, the prompt tools and the
     * status indicator use them.
     *
     * @param builder a fresh builder, e.g. {@code PathoSam.builder()}
     * @param <T>     what it builds
     * @return the builder
     */
    static <T> DetectionSettingsBuilder<T> applyTo(DetectionSettingsBuilder<T> builder) {
        builder.server(SERVER.get())
                .token(ServerToken.fallback())
                .model(MODEL.get())
                .tileSize(TILE_SIZE.get())
                .halo(HALO.get())
                .encoding(ENCODING.get() == null ? TileEncoding.RAW_RGB8 : ENCODING.get())
                .simplify(SIMPLIFY.get())
                .classify(CLASSIFY.get())
                .replace(REPLACE.get());
        if (PIXEL_SIZE.get() > 0)
            builder.pixelSize(PIXEL_SIZE.get());
        return builder;
    }

    /** @return the preferences whose change means another server or model: the status must be refreshed */
    static List<ObservableValue<?>> connectionProperties() {
        return List.of(SERVER, TOKEN, MODEL);
    }

    /**
     * Adds the items to QuPath's preference pane.
     *
     * @param qupath the QuPath instance
     */
    static void install(QuPathGUI qupath) {
        qupath.getPreferencePane().getPropertySheet().getItems().addAll(
                item(SERVER, String.class, "prefs.server"),
                item(TOKEN, String.class, "prefs.token"),
                item(MODEL, String.class, "prefs.model"),
                item(TILE_SIZE, Integer.class, "prefs.tileSize"),
                item(HALO, Integer.class, "prefs.halo"),
                item(PIXEL_SIZE, Double.class, "prefs.pixelSize"),
                new PropertyItemBuilder<>(ENCODING, TileEncoding.class)
                        .bundle(UiResources.BUNDLE).key("prefs.encoding").categoryKey("prefs.category")
                        .choices(List.of(TileEncoding.values()))
                        .build(),
                item(SIMPLIFY, Double.class, "prefs.simplify"),
                item(CLASSIFY, Boolean.class, "prefs.classify"),
                item(REPLACE, Boolean.class, "prefs.replace"));
    }

    private static <T> PropertySheet.Item item(Property<T> property, Class<? extends T> type, String key) {
        // Integer/Double properties are Property<Number>: the class picks the sheet's editor.
        return new PropertyItemBuilder<T>(property, type)
                .bundle(UiResources.BUNDLE)
                .key(key)
                .categoryKey("prefs.category")
                .build();
    }
}
