package io.github.pathosam.client;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** The window digests the server said it caches, most recent first out last (bounded LRU). */
final class PromptDigests {

    private final Set<String> digests;

    PromptDigests(int capacity) {
        digests = Collections.newSetFromMap(Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > capacity;
            }
        }));
    }

    boolean contains(String digest) {
        return digests.contains(digest);
    }

    void add(String digest) {
        if (digest != null && !digest.isEmpty())
            digests.add(digest);
    }

    void remove(String digest) {
        digests.remove(digest);
    }

    /**
     * The window digest as the proto defines it: hex sha256 over the ASCII text
     * {@code "{width}x{height}:"} followed by the RGB8 pixels, row-major.
     */
    static String digest(byte[] rgb, int width, int height) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update((width + "x" + height + ":").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(sha.digest(rgb));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
