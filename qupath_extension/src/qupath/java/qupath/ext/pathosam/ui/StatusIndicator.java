package qupath.ext.pathosam.ui;

import javafx.scene.control.Label;
import javafx.scene.control.Tooltip;
import javafx.scene.paint.Color;
import javafx.scene.shape.Circle;

/**
 * The toolbar's PathoSAM status: a coloured dot (green connected, red not, grey unknown) with the
 * server address, model and device; the tooltip holds versions or what to do; a click checks again.
 */
final class StatusIndicator {

    private StatusIndicator() {
    }

    /**
     * @param status the status to show
     * @return the label to put into the toolbar
     */
    static Label create(ServerStatus status) {
        Circle dot = new Circle(4);
        Label label = new Label();
        label.setGraphic(dot);
        label.setStyle("-fx-font-size: 0.9em;");
        Tooltip tooltip = new Tooltip();
        tooltip.setWrapText(true);
        tooltip.setMaxWidth(420);
        label.setTooltip(tooltip);
        label.setOnMouseClicked(e -> status.refresh());
        status.stateProperty().addListener((v, o, n) -> show(n, label, dot, tooltip));
        show(status.stateProperty().get(), label, dot, tooltip);
        return label;
    }

    private static void show(ServerStatus.State s, Label label, Circle dot, Tooltip tooltip) {
        String model = s.model() == null || s.model().isEmpty() ? UiResources.getString("status.defaultModel") : s.model();
        label.setText(s.device().isEmpty() ? s.address() + " · " + model : s.address() + " · " + model + " · " + s.device());
        dot.setFill(s.connected() == null ? Color.GRAY : s.connected() ? Color.LIMEGREEN : Color.CRIMSON);
        String state = s.connected() == null ? UiResources.getString("status.unknown")
                : s.connected() ? UiResources.getString("status.connected") : UiResources.getString("status.disconnected");
        tooltip.setText(UiResources.format("status.tooltip", state, s.address(), model,
                s.device().isEmpty() ? "?" : s.device(), s.detail()));
    }
}
