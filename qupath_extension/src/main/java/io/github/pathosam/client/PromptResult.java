package io.github.pathosam.client;

import java.util.List;

/**
 * The answer to a prompt call.
 *
 * @param nuclei          one nucleus per prompted object, in order
 * @param digest          sha256 (hex) of the window's pixels, which the server now caches
 * @param embeddingCached whether the server reused a cached embedding (skipped the encoder)
 */
public record PromptResult(List<NucleusResult> nuclei, String digest, boolean embeddingCached) {

    /** Copies the list. */
    public PromptResult {
        nuclei = List.copyOf(nuclei);
    }
}
