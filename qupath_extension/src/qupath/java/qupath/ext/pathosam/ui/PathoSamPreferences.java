package qupath.ext.pathosam.ui;

import io.github.pathosam.client.TileEncoding;
import javafx.beans.property.Property;
import javafx.beans.value.ObservableValue;
import org.controlsfx.control.PropertySheet;
import qupath.ext.pathosam.ServerToken;
import qupath.ext.pathosam.StoredPreferences;
import qupath.fx.prefs.controlsfx.PropertyItemBuilder;
import qupath.lib.gui.QuPathGUI;

import java.util.List;

/**
 * The extension's items in QuPath's preference pane, under the category "PathoSAM". The values
 * themselves are {@link StoredPreferences} (and {@link ServerToken}'s token), which scripts read too.
 */
final class PathoSamPreferences {

    private PathoSamPreferences() {
    }

    /**
     * @return the preferences whose change means another server, model or scale: the status must
     *         be checked again (text fields change only when committed, see {@link CommittedTextItem})
     */
    static List<ObservableValue<?>> connectionProperties() {
        return List.of(StoredPreferences.server(), ServerToken.preference(), StoredPreferences.model(),
                StoredPreferences.pixelSize());
    }

    /**
     * Adds the items to QuPath's preference pane.
     *
     * @param qupath the QuPath instance
     */
    static void install(QuPathGUI qupath) {
        qupath.getPreferencePane().getPropertySheet().getItems().addAll(
                new CommittedTextItem(StoredPreferences.server(), "prefs.server", false),
                new CommittedTextItem(ServerToken.preference(), "prefs.token", true),
                new CommittedTextItem(StoredPreferences.model(), "prefs.model", false),
                item(StoredPreferences.tileSize(), Integer.class, "prefs.tileSize"),
                item(StoredPreferences.halo(), Integer.class, "prefs.halo"),
                item(StoredPreferences.pixelSize(), Double.class, "prefs.pixelSize"),
                texts(new PropertyItemBuilder<>(StoredPreferences.encoding(), TileEncoding.class), "prefs.encoding")
                        .choices(List.of(TileEncoding.values()))
                        .build(),
                item(StoredPreferences.simplify(), Double.class, "prefs.simplify"),
                item(StoredPreferences.classify(), Boolean.class, "prefs.classify"),
                item(StoredPreferences.replace(), Boolean.class, "prefs.replace"),
                item(StoredPreferences.skipBackground(), Boolean.class, "prefs.skipBackground"),
                item(StoredPreferences.measureShape(), Boolean.class, "prefs.measureShape"),
                item(StoredPreferences.measureIntensity(), Boolean.class, "prefs.measureIntensity"),
                item(StoredPreferences.cellExpansion(), Double.class, "prefs.cellExpansion"),
                item(StoredPreferences.cellConstrainScale(), Double.class, "prefs.cellConstrainScale"));
    }

    private static <T> PropertySheet.Item item(Property<T> property, Class<? extends T> type, String key) {
        // Integer/Double properties are Property<Number>: the class picks the sheet's editor.
        return texts(new PropertyItemBuilder<T>(property, type), key).build();
    }

    /**
     * Name, description and category from our bundle, as plain strings. The builder's own
     * {@code bundle(...)} looks the bundle up from QuPath's class loader, which cannot see an
     * extension installed in QuPath's extensions folder: the pane then failed, and the whole
     * extension with it ("Can't find bundle for base name qupath.ext.pathosam.ui.strings").
     */
    private static <T> PropertyItemBuilder<T> texts(PropertyItemBuilder<T> builder, String key) {
        return builder.name(UiResources.getString(key))
                .description(UiResources.getString(key + ".description"))
                .category(UiResources.getString("prefs.category"));
    }
}
