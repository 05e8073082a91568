package qupath.ext.pathosam.ui;

import io.github.pathosam.client.PixelRect;
import qupath.lib.gui.viewer.QuPathViewer;
import qupath.lib.gui.viewer.overlays.AbstractOverlay;
import qupath.lib.images.ImageData;
import qupath.lib.regions.ImageRegion;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;

/**
 * A prompt waiting for its answer, drawn in the viewer: a click as a ring with a cross (green for
 * "this", red for "not this"), a box as a dashed rectangle. The first prompt in a window waits for
 * the window's embedding (seconds on a CPU); without this the click seemed to do nothing.
 */
final class PendingOverlay extends AbstractOverlay {

    private static final Color POSITIVE = new Color(50, 205, 50);
    private static final Color NEGATIVE = new Color(220, 20, 60);
    private static final Color BOX = new Color(255, 215, 0);

    private final QuPathViewer viewer;
    private final double x;
    private final double y;
    private final PixelRect box;
    private final boolean positive;

    private PendingOverlay(QuPathViewer viewer, double x, double y, PixelRect box, boolean positive) {
        super(viewer.getOverlayOptions());
        this.viewer = viewer;
        this.x = x;
        this.y = y;
        this.box = box;
        this.positive = positive;
    }

    /**
     * @param viewer   the viewer clicked in
     * @param x        level-0 x of the click
     * @param y        level-0 y of the click
     * @param positive false for a "not this" click
     * @return the overlay (not shown yet)
     */
    static PendingOverlay point(QuPathViewer viewer, double x, double y, boolean positive) {
        return new PendingOverlay(viewer, x, y, null, positive);
    }

    /**
     * @param viewer the viewer drawn in
     * @param box    the box in level-0 pixels
     * @return the overlay (not shown yet)
     */
    static PendingOverlay box(QuPathViewer viewer, PixelRect box) {
        return new PendingOverlay(viewer, 0, 0, box, true);
    }

    /** Shows it; call on the JavaFX thread. */
    void show() {
        viewer.getCustomOverlayLayers().add(this);
        viewer.repaint();
    }

    /** Removes it; call on the JavaFX thread. */
    void hide() {
        viewer.getCustomOverlayLayers().remove(this);
        viewer.repaint();
    }

    @Override
    public void paintOverlay(Graphics2D g2d, ImageRegion imageRegion, double downsampleFactor,
                             ImageData<BufferedImage> imageData, boolean paintCompletely) {
        Graphics2D g = (Graphics2D) g2d.create();
        try {
            // Constant size on screen, whatever the zoom.
            float d = (float) downsampleFactor;
            if (box != null) {
                g.setStroke(new BasicStroke(2 * d, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[]{6 * d, 4 * d}, 0));
                g.setColor(BOX);
                g.draw(new Rectangle2D.Double(box.x(), box.y(), box.width(), box.height()));
            } else {
                double r = 7 * d;
                g.setStroke(new BasicStroke(2 * d));
                g.setColor(positive ? POSITIVE : NEGATIVE);
                g.draw(new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r));
                g.draw(new Line2D.Double(x - r * 0.5, y, x + r * 0.5, y));
                if (positive)
                    g.draw(new Line2D.Double(x, y - r * 0.5, x, y + r * 0.5));
            }
        } finally {
            g.dispose();
        }
    }
}
