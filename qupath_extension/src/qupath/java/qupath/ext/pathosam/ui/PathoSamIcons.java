package qupath.ext.pathosam.ui;

import javafx.beans.value.ObservableValue;
import javafx.scene.Group;
import javafx.scene.Node;
import javafx.scene.paint.Color;
import javafx.scene.paint.Paint;
import javafx.scene.shape.Circle;
import javafx.scene.shape.Rectangle;
import org.controlsfx.tools.Duplicatable;
import qupath.lib.gui.QuPathGUI;

import java.util.function.Supplier;

/**
 * Small vector icons for the toolbar and menus.
 *
 * <p>A tool carries one icon node, and QuPath (through ControlsFX's action utilities) puts that
 * node into the toolbar button, the Tools menu and our menu. A JavaFX node has one parent, so a
 * plain node ends up in the last of them and the others show an empty button. ControlsFX copies a
 * graphic that is {@link Duplicatable} for each control, as QuPath's own {@code IconFactory} icons
 * are: ours are too.
 */
final class PathoSamIcons {

    private static final double SIZE = QuPathGUI.TOOLBAR_ICON_SIZE;

    private PathoSamIcons() {
    }

    /** An icon that draws itself again for every control that shows it. */
    static final class Icon extends Group implements Duplicatable<Icon> {

        private final Supplier<Node[]> drawing;

        Icon(Supplier<Node[]> drawing) {
            super(drawing.get());
            this.drawing = drawing;
        }

        @Override
        public Icon duplicate() {
            return new Icon(drawing);
        }
    }

    /** @return a nucleus with a click point: the point tool */
    static Icon point() {
        return new Icon(() -> {
            Circle nucleus = new Circle(SIZE / 2, SIZE / 2, SIZE * 0.38, Color.TRANSPARENT);
            nucleus.setStroke(Color.MEDIUMPURPLE);
            nucleus.setStrokeWidth(1.5);
            Circle dot = new Circle(SIZE / 2, SIZE / 2, SIZE * 0.12, Color.LIMEGREEN);
            return new Node[]{nucleus, dot};
        });
    }

    /** @return a nucleus in a box: the box tool */
    static Icon box() {
        return new Icon(() -> {
            Rectangle box = new Rectangle(1, 1, SIZE - 2, SIZE - 2);
            box.setFill(Color.TRANSPARENT);
            box.setStroke(Color.GOLD);
            box.getStrokeDashArray().addAll(3.0, 2.0);
            Circle nucleus = new Circle(SIZE / 2, SIZE / 2, SIZE * 0.25, Color.TRANSPARENT);
            nucleus.setStroke(Color.MEDIUMPURPLE);
            nucleus.setStrokeWidth(1.5);
            return new Node[]{box, nucleus};
        });
    }

    /**
     * @param status the server's state, shown as a dot in the corner (green connected, red not,
     *               grey while unknown), so that the state stays visible wherever the button is
     * @return three nuclei with a status dot: the "Detect nuclei" command
     */
    static Icon detect(ObservableValue<? extends Paint> status) {
        return new Icon(() -> {
            Circle dot = new Circle(SIZE * 0.8, SIZE * 0.8, SIZE * 0.24);
            dot.fillProperty().bind(status);
            dot.setStroke(Color.WHITE);
            dot.setStrokeWidth(1);
            return new Node[]{nucleus(SIZE * 0.3, SIZE * 0.35), nucleus(SIZE * 0.7, SIZE * 0.3),
                    nucleus(SIZE * 0.45, SIZE * 0.7), dot};
        });
    }

    private static Circle nucleus(double x, double y) {
        Circle c = new Circle(x, y, SIZE * 0.2, Color.MEDIUMPURPLE.deriveColor(0, 1, 1, 0.6));
        c.setStroke(Color.MEDIUMPURPLE.darker());
        return c;
    }
}
