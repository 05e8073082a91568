package qupath.ext.pathosam.ui;

import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.ErrorAdvice;
import io.github.pathosam.client.NucleusResult;
import io.github.pathosam.client.PixelRect;
import io.github.pathosam.client.PromptInput;
import io.github.pathosam.client.PromptPoint;
import io.github.pathosam.client.PromptResult;
import io.github.pathosam.client.PromptWindows;
import io.github.pathosam.client.ScaleCheck;
import io.github.pathosam.client.ServerUnavailableException;
import javafx.scene.Cursor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.ext.pathosam.ImageServerTileSource;
import qupath.ext.pathosam.ServerToken;
import qupath.ext.pathosam.StoredPreferences;
import qupath.fx.dialogs.Dialogs;
import qupath.fx.utils.FXUtils;
import qupath.lib.gui.viewer.QuPathViewer;
import qupath.lib.images.ImageData;
import qupath.lib.objects.PathObject;
import qupath.lib.objects.hierarchy.PathObjectHierarchy;
import qupath.lib.regions.ImagePlane;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The state behind the point and box tools: the object being prompted (its points, box and current
 * detection) and the context window, which is reused while the prompts fit in it.
 *
 * <p>Requests run one at a time on a worker thread, in click order; each result replaces the
 * object's previous detection with one hierarchy event on the JavaFX thread, so QuPath's undo
 * takes back one click at a time. A click whose detection was undone starts a new object.
 */
final class PromptController {

    private static final Logger logger = LoggerFactory.getLogger(PromptController.class);

    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "pathosam-prompt");
        t.setDaemon(true);
        return t;
    });
    private final ServerStatus status;

    // Touched on the worker thread only.
    private ImageData<BufferedImage> image;
    private PromptSession session;
    private PixelRect window;
    private final List<PromptPoint> points = new ArrayList<>();
    private PixelRect box;
    private PathObject current;

    PromptController(ServerStatus status) {
        this.status = status;
    }

    /**
     * A point prompt.
     *
     * @param viewer   the viewer clicked in
     * @param x        level-0 x
     * @param y        level-0 y
     * @param positive false for "not this" (Alt-click)
     * @param refine   true to add the point to the current object instead of starting a new one
     */
    void point(QuPathViewer viewer, double x, double y, boolean positive, boolean refine) {
        submit(viewer, PendingOverlay.point(viewer, x, y, positive), () -> {
            boolean canRefine = current != null && isInHierarchy(current, viewer.getHierarchy());
            if (!positive && !canRefine) {
                FXUtils.runOnApplicationThread(() -> Dialogs.showInfoNotification(
                        UiResources.getString("title"), UiResources.getString("prompt.negativeFirst")));
                return false;
            }
            if (!refine || !canRefine)
                startObject(null);
            points.add(new PromptPoint(x, y, positive));
            return true;
        });
    }

    /**
     * A box prompt: always a new object.
     *
     * @param viewer the viewer drawn in
     * @param rect   the box in level-0 pixels
     */
    void box(QuPathViewer viewer, PixelRect rect) {
        submit(viewer, PendingOverlay.box(viewer, rect), () -> {
            startObject(rect);
            return true;
        });
    }

    @FunctionalInterface
    private interface Step {
        /** Updates the prompts on the worker thread; false to send nothing. */
        boolean apply();
    }

    /**
     * Runs a prompt on the worker thread. Until it is answered, the viewer shows the prompt as a
     * pending outline and a busy cursor: the first prompt in a window waits for its embedding
     * (seconds on a CPU), later ones only for the prompt decoder.
     */
    private void submit(QuPathViewer viewer, PendingOverlay pending, Step step) {
        ImageData<BufferedImage> imageData = viewer.getImageData();
        if (imageData == null)
            return;
        ImagePlane plane = viewer.getImagePlane();
        viewer.setCursor(Cursor.WAIT);
        pending.show();
        worker.execute(() -> {
            try {
                if (image != imageData) {
                    // Another image: its own connection, window and objects.
                    closeSession();
                    window = null;
                    startObject(null);
                    image = imageData;
                }
                if (step.apply())
                    prompt(imageData, plane);
            } catch (RuntimeException e) {
                failed(e);
            } finally {
                FXUtils.runOnApplicationThread(() -> {
                    pending.hide();
                    viewer.setCursor(Cursor.DEFAULT);
                });
            }
        });
    }

    private void prompt(ImageData<BufferedImage> imageData, ImagePlane plane) {
        DetectionSettings settings = StoredPreferences.applyTo(DetectionSettings.builder()).build();
        // The settings' text leaves the token out (a secret), but another token needs another session.
        String key = settings + "|" + ServerToken.fallback();
        if (session == null || !session.key().equals(key)) {
            closeSession();
            window = null;
            session = PromptSession.open(imageData, settings, key);
            ScaleCheck scale = session.scale();
            if (scale.isWarning()) {
                logger.warn("PathoSAM prompts: {}", scale.describe());
                FXUtils.runOnApplicationThread(() -> Dialogs.showWarningNotification(UiResources.getString("title"),
                        UiResources.scaleWarning(scale)));
            }
        }
        window = session.windows().window(window, PromptWindows.bounds(points, box));
        PromptResult result = session.client().prompt(window, new ImageServerTileSource(imageData.getServer(), plane),
                List.of(new PromptInput(points, box, null)));
        logger.debug("PathoSAM prompt in {}: embedding {}", window, result.embeddingCached() ? "cached" : "computed");
        NucleusResult nucleus = result.nuclei().isEmpty() ? null : result.nuclei().get(0);
        PathObject detection = nucleus == null ? null : session.objects().create(nucleus, plane);
        if (detection == null) {
            // Say what to try with the prompt that was used.
            String advice = UiResources.getString(box != null && points.isEmpty() ? "prompt.nothingInBox"
                    : points.size() > 1 || box != null ? "prompt.nothingRefined" : "prompt.nothingAtClick");
            FXUtils.runOnApplicationThread(() -> Dialogs.showInfoNotification(UiResources.getString("title"), advice));
            return;
        }
        PathObject previous = current;
        current = detection;
        PathObjectHierarchy hierarchy = imageData.getHierarchy();
        // Wait for the swap, so that the next click already sees this detection in the hierarchy.
        FXUtils.callOnApplicationThread(() -> {
            replace(hierarchy, previous, detection);
            return null;
        });
    }

    /** Swaps the object's detection in one hierarchy event: one undo step per click. */
    private void replace(PathObjectHierarchy hierarchy, PathObject previous, PathObject detection) {
        if (previous != null && isInHierarchy(previous, hierarchy))
            hierarchy.removeObjectWithoutUpdate(previous, true);
        hierarchy.insertPathObject(detection, false);
        hierarchy.fireHierarchyChangedEvent(this);
    }

    /** Undo swaps the hierarchy's root, so an object is current only if it hangs below today's root. */
    private static boolean isInHierarchy(PathObject object, PathObjectHierarchy hierarchy) {
        PathObject p = object;
        while (p.getParent() != null)
            p = p.getParent();
        return p == hierarchy.getRootObject();
    }

    private void startObject(PixelRect newBox) {
        points.clear();
        box = newBox;
        current = null;
    }

    private void failed(RuntimeException e) {
        if (e instanceof ServerUnavailableException)
            closeSession();
        if (ErrorAdvice.isUnexpected(e))
            logger.error("PathoSAM prompt failed", e);
        else
            logger.warn("PathoSAM prompt failed: {}", e.getMessage());
        FXUtils.runOnApplicationThread(() -> Dialogs.showErrorNotification(
                UiResources.getString("title"), UiResources.ADVICE.describe(e)));
        status.refresh();
    }

    private void closeSession() {
        if (session != null) {
            session.close();
            session = null;
        }
    }
}
