package qupath.ext.pathosam.ui;

import io.github.pathosam.client.PixelRect;
import javafx.event.EventHandler;
import javafx.scene.input.MouseButton;
import javafx.scene.input.MouseEvent;
import qupath.lib.gui.QuPathGUI;
import qupath.lib.gui.viewer.QuPathViewer;
import qupath.lib.gui.viewer.overlays.AbstractOverlay;
import qupath.lib.gui.viewer.tools.PathTool;
import qupath.lib.gui.viewer.tools.PathTools;
import qupath.lib.images.ImageData;
import qupath.lib.regions.ImageRegion;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.geom.Point2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;

/**
 * The two viewer tools. Point: click segments the nucleus under the cursor; Shift-click adds a
 * positive point to the last nucleus, Alt-click (Option on a Mac) a negative one. Box: drag a box
 * around a nucleus.
 */
final class PromptTools {

    private PromptTools() {
    }

    /**
     * @param qupath     the QuPath instance (its active viewer gets the clicks)
     * @param controller where prompts go
     * @return the point tool
     */
    static PathTool pointTool(QuPathGUI qupath, PromptController controller) {
        EventHandler<MouseEvent> handler = e -> {
            if (e.getEventType() != MouseEvent.MOUSE_CLICKED || e.getButton() != MouseButton.PRIMARY || !e.isStillSincePress())
                return;
            QuPathViewer viewer = qupath.getViewer();
            if (viewer == null || viewer.getImageData() == null)
                return;
            Point2D p = viewer.componentPointToImagePoint(e.getX(), e.getY(), null, false);
            if (!insideImage(viewer, p.getX(), p.getY()))
                return;
            boolean negative = e.isAltDown();
            controller.point(viewer, p.getX(), p.getY(), !negative, negative || e.isShiftDown());
            e.consume();
        };
        return PathTools.createTool(handler, UiResources.getString("tool.point"), PathoSamIcons.point());
    }

    /**
     * @param qupath     the QuPath instance
     * @param controller where prompts go
     * @return the box tool
     */
    static PathTool boxTool(QuPathGUI qupath, PromptController controller) {
        return PathTools.createTool(new BoxHandler(qupath, controller), UiResources.getString("tool.box"),
                PathoSamIcons.box());
    }

    private static boolean insideImage(QuPathViewer viewer, double x, double y) {
        var server = viewer.getServer();
        return server != null && x >= 0 && y >= 0 && x < server.getWidth() && y < server.getHeight();
    }

    /** Press, drag (the box is drawn as an overlay), release: one box prompt. */
    private static final class BoxHandler implements EventHandler<MouseEvent> {

        private final QuPathGUI qupath;
        private final PromptController controller;
        private QuPathViewer viewer;
        private BoxOverlay overlay;
        private Point2D start;

        BoxHandler(QuPathGUI qupath, PromptController controller) {
            this.qupath = qupath;
            this.controller = controller;
        }

        @Override
        public void handle(MouseEvent e) {
            if (e.getButton() != MouseButton.PRIMARY && e.getEventType() != MouseEvent.MOUSE_DRAGGED)
                return;
            if (e.getEventType() == MouseEvent.MOUSE_PRESSED) {
                viewer = qupath.getViewer();
                if (viewer == null || viewer.getImageData() == null)
                    return;
                start = viewer.componentPointToImagePoint(e.getX(), e.getY(), null, true);
                overlay = new BoxOverlay(viewer);
                viewer.getCustomOverlayLayers().add(overlay);
                e.consume();
            } else if (e.getEventType() == MouseEvent.MOUSE_DRAGGED && start != null) {
                overlay.rect = rect(e);
                viewer.repaint();
                e.consume();
            } else if (e.getEventType() == MouseEvent.MOUSE_RELEASED && start != null) {
                Rectangle2D r = rect(e);
                viewer.getCustomOverlayLayers().remove(overlay);
                viewer.repaint();
                start = null;
                PixelRect box = PixelRect.fromCorners((int) Math.floor(r.getMinX()), (int) Math.floor(r.getMinY()),
                        (int) Math.ceil(r.getMaxX()), (int) Math.ceil(r.getMaxY()));
                // A click without a drag is not a box; nuclei are more than a few pixels wide.
                if (box.width() >= 3 && box.height() >= 3)
                    controller.box(viewer, box);
                e.consume();
            }
        }

        private Rectangle2D rect(MouseEvent e) {
            Point2D p = viewer.componentPointToImagePoint(e.getX(), e.getY(), null, true);
            return new Rectangle2D.Double(Math.min(start.getX(), p.getX()), Math.min(start.getY(), p.getY()),
                    Math.abs(p.getX() - start.getX()), Math.abs(p.getY() - start.getY()));
        }
    }

    /** Draws the box being dragged, in image coordinates. */
    private static final class BoxOverlay extends AbstractOverlay {

        private Rectangle2D rect;

        BoxOverlay(QuPathViewer viewer) {
            super(viewer.getOverlayOptions());
        }

        @Override
        public void paintOverlay(Graphics2D g2d, ImageRegion imageRegion, double downsampleFactor,
                                 ImageData<BufferedImage> imageData, boolean paintCompletely) {
            Rectangle2D r = rect;
            if (r == null)
                return;
            Graphics2D g = (Graphics2D) g2d.create();
            try {
                g.setStroke(new BasicStroke((float) (2 * downsampleFactor)));
                g.setColor(Color.YELLOW);
                g.draw(r);
            } finally {
                g.dispose();
            }
        }
    }
}
