package io.github.pathosam.client;

/**
 * A point prompt in level-0 pixels.
 *
 * @param x        x in level-0 pixels
 * @param y        y in level-0 pixels
 * @param positive true for "this is the object", false for "this is not"
 */
public record PromptPoint(double x, double y, boolean positive) {
}
