package qupath.ext.pathosam.ui;

import io.github.pathosam.client.Compatibility;
import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.RunPlan;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import javafx.application.Platform;
import javafx.beans.property.ReadOnlyObjectProperty;
import javafx.beans.property.SimpleObjectProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.ext.pathosam.ServerToken;
import qupath.ext.pathosam.StoredPreferences;

import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Whether the configured PathoSAM server answers, and with which model, device and working pixel
 * size. Checked in the background when QuPath starts, shortly after a server preference is
 * committed, on request, and after each run; never polled, so an idle QuPath sends nothing.
 */
final class ServerStatus {

    private static final Logger logger = LoggerFactory.getLogger(ServerStatus.class);

    /** A burst of committed preferences (e.g. address, then token) is checked once, this long after the last. */
    static final long DEBOUNCE_MILLIS = 400;

    /**
     * A snapshot for the status views.
     *
     * @param address   server address as configured
     * @param model     the model that would run (or the configured name when unknown)
     * @param device    the server's device, e.g. {@code cuda:0}; empty when unknown
     * @param connected true when the server answered, false when it did not, null while unknown
     * @param pixelSize the working pixel size in words (the model's, the preferences', or unknown); empty when unknown
     * @param detail    more information (versions, or what went wrong and what to do)
     */
    record State(String address, String model, String device, Boolean connected, String pixelSize, String detail) {
    }

    private final SimpleObjectProperty<State> state = new SimpleObjectProperty<>(
            new State(StoredPreferences.server().get(), StoredPreferences.model().get(), "", null, "", ""));
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pathosam-status");
        t.setDaemon(true);
        return t;
    });
    private ScheduledFuture<?> pending; // guarded by this

    /** @return the latest state; changes on the JavaFX thread */
    ReadOnlyObjectProperty<State> stateProperty() {
        return state;
    }

    /** Checks the server in the background now (one check at a time; a waiting one is replaced). */
    void refresh() {
        schedule(0);
    }

    /** Checks the server in the background a moment from now, once for a burst of calls. */
    void refreshSoon() {
        schedule(DEBOUNCE_MILLIS);
    }

    private synchronized void schedule(long delayMillis) {
        if (pending != null)
            pending.cancel(false);
        pending = executor.schedule(() -> {
            State s = check();
            Platform.runLater(() -> state.set(s));
        }, delayMillis, TimeUnit.MILLISECONDS);
    }

    private static State check() {
        String address = StoredPreferences.server().get();
        String modelName = StoredPreferences.model().get();
        try {
            DetectionSettings settings = StoredPreferences.applyTo(DetectionSettings.builder()).build();
            // The same plan a run makes, without an image: the model that would run, and whether it answers.
            RunPlan plan = RunPlan.fetch(settings, ServerToken.fallback(), Double.NaN);
            ServerInfo info = plan.server();
            ModelInfo model = plan.model();
            String detail = UiResources.format("status.detail", info.getServerVersion(),
                    info.getMicroSamVersion(), info.getTorchVersion(),
                    model.getHasSemanticDecoder() ? UiResources.getString("status.classifies")
                            : UiResources.getString("status.noClasses"));
            Compatibility compat = Compatibility.of(PathoSamExtension.clientVersion(), info.getServerVersion());
            if (!compat.compatible())
                logger.warn("PathoSAM: {}", compat.verdict());
            detail = detail + "\n" + UiResources.format(
                    compat.compatible() ? "status.compatible" : "status.incompatible", compat.verdict());
            return new State(settings.server().toString(), model.getName(), info.getDevice(), true,
                    pixelSize(settings, model), detail);
        } catch (RuntimeException e) {
            // Expected while no server runs or an address is wrong: the state says it; no stack trace.
            logger.debug("PathoSAM server check failed: {}", e.getMessage());
            return new State(address, modelName, "", false, "", UiResources.ADVICE.describe(e));
        }
    }

    /** The working pixel size in words: whose it is, and what it means when nobody knows it. */
    static String pixelSize(DetectionSettings settings, ModelInfo model) {
        double own = model.getWorkingPixelSizeUm();
        if (settings.pixelSizeUm().isPresent())
            return UiResources.format("status.pixelSizePrefs", um(settings.pixelSizeUm().get()),
                    own > 0 ? um(own) : UiResources.getString("status.pixelSizeNone"));
        return own > 0 ? UiResources.format("status.pixelSizeModel", um(own))
                : UiResources.getString("status.pixelSizeUnknown");
    }

    private static String um(double value) {
        return new DecimalFormat("0.###", DecimalFormatSymbols.getInstance(Locale.ROOT)).format(value) + " µm";
    }
}
