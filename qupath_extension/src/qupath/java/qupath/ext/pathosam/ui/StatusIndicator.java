package qupath.ext.pathosam.ui;

import javafx.beans.binding.Bindings;
import javafx.beans.value.ObservableValue;
import javafx.scene.control.Button;
import javafx.scene.control.ContextMenu;
import javafx.scene.control.MenuItem;
import javafx.scene.control.Tooltip;
import javafx.scene.paint.Color;
import javafx.scene.paint.Paint;
import javafx.util.Duration;

/**
 * Where the server's state shows: the toolbar's "Detect nuclei" button carries it as a coloured dot
 * (green connected, red not, grey while unknown) with the details in its tooltip, and the PathoSAM
 * menu's check item names it. A separate toolbar label fell into the toolbar's overflow on a 1600 px
 * wide window; the button is where the user looks before a run anyway.
 */
final class StatusIndicator {

    private StatusIndicator() {
    }

    /**
     * @param status the status to show
     * @return the dot's colour for the state
     */
    static ObservableValue<Paint> colour(ServerStatus status) {
        return Bindings.createObjectBinding(() -> {
            Boolean connected = status.stateProperty().get().connected();
            return connected == null ? Color.GRAY : connected ? Color.LIMEGREEN : Color.CRIMSON;
        }, status.stateProperty());
    }

    /**
     * @param status the status to show
     * @param detect runs the detection
     * @return the toolbar button: click detects; its context menu checks the server again
     */
    static Button detectButton(ServerStatus status, Runnable detect) {
        Button button = new Button(null, PathoSamIcons.detect(colour(status)));
        Tooltip tooltip = new Tooltip();
        tooltip.setWrapText(true);
        tooltip.setMaxWidth(460);
        tooltip.setShowDuration(Duration.seconds(30));
        tooltip.textProperty().bind(Bindings.createStringBinding(
                () -> UiResources.getString("toolbar.detect") + "\n\n" + tooltip(status.stateProperty().get()),
                status.stateProperty()));
        button.setTooltip(tooltip);
        button.setOnAction(e -> detect.run());
        MenuItem check = new MenuItem(UiResources.getString("menu.checkNow"));
        check.setOnAction(e -> status.refresh());
        button.setContextMenu(new ContextMenu(check));
        return button;
    }

    /**
     * @param status the status to show
     * @return the menu item that names the state; choosing it checks the server again
     */
    static MenuItem checkItem(ServerStatus status) {
        MenuItem item = new MenuItem();
        item.setMnemonicParsing(false); // model names have underscores: vit_b_histopathology
        item.textProperty().bind(Bindings.createStringBinding(
                () -> UiResources.format("menu.check", summary(status.stateProperty().get())), status.stateProperty()));
        item.setOnAction(e -> status.refresh());
        return item;
    }

    private static String model(ServerStatus.State s) {
        return s.model() == null || s.model().isEmpty() ? UiResources.getString("status.defaultModel") : s.model();
    }

    private static String stateWord(ServerStatus.State s) {
        return s.connected() == null ? UiResources.getString("status.unknown")
                : s.connected() ? UiResources.getString("status.connected") : UiResources.getString("status.disconnected");
    }

    /** @return e.g. "connected: 127.0.0.1:50051 · vit_b_histopathology · cuda" */
    static String summary(ServerStatus.State s) {
        String where = s.device().isEmpty() ? s.address() + " · " + model(s) : s.address() + " · " + model(s) + " · " + s.device();
        return stateWord(s) + ": " + where;
    }

    static String tooltip(ServerStatus.State s) {
        return UiResources.format("status.tooltip", stateWord(s), s.address(), model(s),
                s.device().isEmpty() ? "?" : s.device(), s.pixelSize().isEmpty() ? "?" : s.pixelSize(), s.detail());
    }
}
