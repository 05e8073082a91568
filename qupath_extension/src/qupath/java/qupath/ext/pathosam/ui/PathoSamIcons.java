package qupath.ext.pathosam.ui;

import javafx.scene.Group;
import javafx.scene.Node;
import javafx.scene.paint.Color;
import javafx.scene.shape.Circle;
import javafx.scene.shape.Rectangle;
import qupath.lib.gui.QuPathGUI;

/** Small vector icons for the toolbar; a new node each call (a JavaFX node has one parent). */
final class PathoSamIcons {

    private static final double SIZE = QuPathGUI.TOOLBAR_ICON_SIZE;

    private PathoSamIcons() {
    }

    /** @return a nucleus with a click point: the point tool */
    static Node point() {
        Circle nucleus = new Circle(SIZE / 2, SIZE / 2, SIZE * 0.38, Color.TRANSPARENT);
        nucleus.setStroke(Color.MEDIUMPURPLE);
        nucleus.setStrokeWidth(1.5);
        Circle dot = new Circle(SIZE / 2, SIZE / 2, SIZE * 0.12, Color.LIMEGREEN);
        return new Group(nucleus, dot);
    }

    /** @return a nucleus in a box: the box tool */
    static Node box() {
        Rectangle box = new Rectangle(1, 1, SIZE - 2, SIZE - 2);
        box.setFill(Color.TRANSPARENT);
        box.setStroke(Color.GOLD);
        box.getStrokeDashArray().addAll(3.0, 2.0);
        Circle nucleus = new Circle(SIZE / 2, SIZE / 2, SIZE * 0.25, Color.TRANSPARENT);
        nucleus.setStroke(Color.MEDIUMPURPLE);
        nucleus.setStrokeWidth(1.5);
        return new Group(box, nucleus);
    }

    /** @return three nuclei: the "Detect nuclei" command */
    static Node detect() {
        return new Group(nucleus(SIZE * 0.3, SIZE * 0.35), nucleus(SIZE * 0.7, SIZE * 0.3), nucleus(SIZE * 0.5, SIZE * 0.72));
    }

    private static Circle nucleus(double x, double y) {
        Circle c = new Circle(x, y, SIZE * 0.2, Color.MEDIUMPURPLE.deriveColor(0, 1, 1, 0.6));
        c.setStroke(Color.MEDIUMPURPLE.darker());
        return c;
    }
}
