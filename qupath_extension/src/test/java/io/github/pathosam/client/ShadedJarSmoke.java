package io.github.pathosam.client;

/**
 * Runs in a separate JVM whose class path is the shaded extension jar plus QuPath's own libraries
 * (JTS, Gson, SLF4J) only: proves that the relocated gRPC / protobuf / Guava / Netty load and work.
 * Prints one line per step; {@link ShadedJarIT} checks them.
 */
public final class ShadedJarSmoke {

    private ShadedJarSmoke() {
    }

    /**
     * @param args the port of a server (or of nothing) or a comma-separated pool of host:port, and
     *             optionally "info" to call GetInfo
     */
    public static void main(String[] args) {
        ClientOptions options = args[0].contains(",") ? ClientOptions.builder().servers(args[0]).build()
                : ClientOptions.builder().port(Integer.parseInt(args[0])).build();
        try (PathoSamClient client = PathoSamClient.connect(options)) {
            client.checkHealth();
            System.out.println("HEALTH SERVING");
            if (args.length > 1 && args[1].equals("info"))
                System.out.println("MODELS " + client.getInfo().getModelsCount());
        } catch (PathoSamException e) {
            System.out.println("ERROR " + e.getMessage());
        }
    }
}
