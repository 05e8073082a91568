package io.github.pathosam.client;

import org.locationtech.jts.geom.Geometry;

import java.util.List;
import java.util.Optional;

/**
 * The prompts for one object: points, a box, or both, and optionally its previous mask for refinement.
 *
 * @param points   point prompts, possibly empty
 * @param box      a box prompt in level-0 pixels, or null
 * @param previous the object's previous outline (level-0) to refine, or null
 */
public record PromptInput(List<PromptPoint> points, PixelRect box, Geometry previous) {

    /** Copies the points and checks that there is at least one prompt. */
    public PromptInput {
        points = List.copyOf(points);
        if (points.isEmpty() && box == null)
            throw new IllegalArgumentException("an object needs at least one point or a box");
    }

    /**
     * @param x level-0 x of a positive point
     * @param y level-0 y
     * @return a prompt with one positive point
     */
    public static PromptInput point(double x, double y) {
        return new PromptInput(List.of(new PromptPoint(x, y, true)), null, null);
    }

    /**
     * @param box level-0 box around the object
     * @return a prompt with one box
     */
    public static PromptInput box(PixelRect box) {
        return new PromptInput(List.of(), box, null);
    }

    /** @return the box, if any */
    public Optional<PixelRect> boxIfAny() {
        return Optional.ofNullable(box);
    }
}
