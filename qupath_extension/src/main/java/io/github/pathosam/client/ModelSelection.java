package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.ClassInfo;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Picks a model out of a server's {@code GetInfo} answer and reads what a client needs from it:
 * working resolution, tiles and class colours. Clients never hard-code class names; they come from here.
 */
public final class ModelSelection {

    private ModelSelection() {
    }

    /**
     * @param info  the server's info
     * @param model a model name, or empty for the server's default model
     * @return the model
     * @throws PathoSamException with status NOT_FOUND and the names the server offers
     */
    public static ModelInfo select(ServerInfo info, String model) {
        for (ModelInfo m : info.getModelsList()) {
            if (model.isEmpty() ? m.getIsDefault() : m.getName().equals(model))
                return m;
        }
        if (model.isEmpty() && info.getModelsCount() > 0)
            return info.getModels(0);
        String offered = info.getModelsList().stream().map(ModelInfo::getName).collect(Collectors.joining(", "));
        throw new PathoSamException("NOT_FOUND", model.isEmpty()
                ? "the server offers no model"
                // Where to set the model is the client's to say (ErrorAdvice#chooseModel).
                : "the server has no model '" + model + "'; it offers: " + (offered.isEmpty() ? "none" : offered), null);
    }

    /**
     * @param model a model
     * @return class name to display colour (0xRRGGBB), in class-id order; empty when the model cannot classify
     */
    public static Map<String, Integer> classColours(ModelInfo model) {
        Map<String, Integer> colours = new LinkedHashMap<>();
        model.getClassesList().stream()
                .sorted(Comparator.comparingInt(ClassInfo::getId))
                .forEach(c -> colours.put(c.getName(), c.getRgb() & 0xFFFFFF));
        return colours;
    }

    /**
     * @param model    the chosen model
     * @param classify the requested classification; empty for the server's default
     * @throws PathoSamException with status FAILED_PRECONDITION when classes are requested from a
     *         model that has no semantic decoder
     */
    public static void checkCanClassify(ModelInfo model, Optional<Boolean> classify) {
        if (classify.orElse(false) && !model.getHasSemanticDecoder())
            throw new PathoSamException("FAILED_PRECONDITION", "model '" + model.getName()
                    + "' cannot classify nuclei (it has no semantic decoder): turn classification off, or use "
                    + "vit_b_histopathology with its semantic decoder", null);
    }
}
