package io.github.pathosam.client;

/**
 * Whether this client and a server work together: the same rule as the Python side's
 * {@code pathosam_server.rpc.client.compatibility} (and {@code pathosam doctor}). The wire contract only grows
 * compatibly within a minor version line, so a client and a server of the same major.minor agree; others may
 * miss fields.
 *
 * @param compatible whether they work together
 * @param verdict    one sentence for the status indicator and logs
 */
public record Compatibility(boolean compatible, String verdict) {

    /**
     * @param clientVersion this client's version, e.g. {@code 0.1.0-SNAPSHOT}
     * @param serverVersion GetInfo's {@code server_version}
     * @return the verdict
     */
    public static Compatibility of(String clientVersion, String serverVersion) {
        if (serverVersion == null || serverVersion.isBlank())
            return new Compatibility(false, "the server did not say its version (older than 0.1?): update it");
        if (majorMinor(clientVersion).equals(majorMinor(serverVersion)))
            return new Compatibility(true,
                    "compatible (client " + clientVersion + ", server " + serverVersion + ")");
        return new Compatibility(false, "client " + clientVersion + " and server " + serverVersion
                + " differ in their minor version: update the older one so both run the same 0.x line");
    }

    private static String majorMinor(String version) {
        String[] parts = version.split("-", 2)[0].split("\\.");
        return parts.length >= 2 ? parts[0] + "." + parts[1] : parts[0];
    }
}
