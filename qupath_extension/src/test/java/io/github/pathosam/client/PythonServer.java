package io.github.pathosam.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts the real Python server, {@code PYTHON -m pathosam_server serve ... --device cpu}, on a
 * free loopback port for live tests, and stops it afterwards.
 *
 * <p>System properties (Maven passes them through Surefire): {@code pathosam.repo} (default
 * {@code ..}), {@code pathosam.python} (default {@code <repo>/.venv/bin/python}),
 * {@code pathosam.model} (default {@code <repo>/tests/fixtures/tiny_model/vit_t_synthetic.pt}, or a
 * random-weights checkpoint made under {@code target/} while that fixture does not exist).
 */
final class PythonServer implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);

    private final Process process;
    private final int port;
    private final Path log;

    private PythonServer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    static Path repo() {
        return Path.of(System.getProperty("pathosam.repo", "..")).toAbsolutePath().normalize();
    }

    static Path python() {
        String p = System.getProperty("pathosam.python");
        return p == null || p.isBlank() ? repo().resolve(".venv/bin/python") : Path.of(p);
    }

    static Path model() {
        String p = System.getProperty("pathosam.model");
        if (p != null && !p.isBlank())
            return Path.of(p);
        Path fixture = repo().resolve("tests/fixtures/tiny_model/vit_t_synthetic.pt");
        return Files.isRegularFile(fixture) ? fixture : randomModel();
    }

    /** Whether the tests run on a random-weights model: plumbing checks only, no quality claims. */
    static boolean isRandomModel() {
        return model().equals(randomModelPath());
    }

    /**
     * Model arguments shared by {@code serve} and {@code segment}: the checkpoint, and for the
     * random model its random semantic decoder (so that classes travel through the plumbing too).
     */
    static List<String> modelArgs() {
        List<String> args = new ArrayList<>(List.of("--model-path", model().toString()));
        if (isRandomModel())
            args.addAll(List.of("--semantic-decoder-path", randomSemanticPath().toString()));
        return args;
    }

    private static Path randomModelPath() {
        return Path.of("target", "pathosam-test-models", "random_vit_t.pt").toAbsolutePath();
    }

    private static Path randomSemanticPath() {
        return randomModelPath().resolveSibling("random_vit_t_semantic.pt");
    }

    /**
     * Until the trained fixture exists: a random-weights checkpoint made by the server's test
     * helpers ({@code pathosam_server._testing.checkpoints}), once per build folder.
     */
    private static synchronized Path randomModel() {
        Path model = randomModelPath();
        if (Files.isRegularFile(model) && Files.isRegularFile(randomSemanticPath()))
            return model;
        try {
            Files.createDirectories(model.getParent());
            runPython(Duration.ofSeconds(300), "-m", "pathosam_server._testing.checkpoints", model.toString(),
                    "--semantic", randomSemanticPath().toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating a random model", e);
        }
        return model;
    }

    /**
     * Starts a server and waits until its health check answers SERVING.
     *
     * @param extraArgs more {@code serve} arguments, e.g. {@code --token X}
     * @return the running server
     * @throws IllegalStateException with the server's output when it does not come up within 120 s
     */
    static PythonServer start(String... extraArgs) throws IOException, InterruptedException {
        checkFile(python(), "pathosam.python");
        checkFile(model(), "pathosam.model");
        int port = freePort();
        List<String> command = new ArrayList<>(List.of(python().toString(), "-m", "pathosam_server", "serve",
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--device", "cpu"));
        command.addAll(modelArgs());
        command.addAll(List.of(extraArgs));
        Path log = Files.createTempFile("pathosam-server-", ".log");
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(repo().toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().put("PYTHONPATH", repo().resolve("python_server").toString());
        builder.environment().put("PYTHONUNBUFFERED", "1");
        PythonServer server = new PythonServer(builder.start(), port, log);
        try {
            server.awaitServing(extraArgs);
        } catch (RuntimeException | InterruptedException e) {
            server.close();
            throw e;
        }
        return server;
    }

    private void awaitServing(String... extraArgs) throws InterruptedException {
        ClientOptions.Builder options = options();
        for (int i = 0; i + 1 < extraArgs.length; i++)
            if (extraArgs[i].equals("--token"))
                options.token(extraArgs[i + 1]);
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        try (PathoSamClient client = PathoSamClient.connect(options.build())) {
            while (true) {
                if (!process.isAlive())
                    throw new IllegalStateException("the Python server exited with status " + process.exitValue()
                            + ":\n" + output());
                try {
                    client.checkHealth();
                    return;
                } catch (PathoSamException e) {
                    if (System.nanoTime() > deadline)
                        throw new IllegalStateException("the Python server did not answer SERVING within "
                                + START_TIMEOUT.toSeconds() + " s (" + e.getMessage() + "):\n" + output(), e);
                }
                Thread.sleep(250);
            }
        }
    }

    /** @return options for this server (host, port), to be completed by the test */
    ClientOptions.Builder options() {
        return ClientOptions.builder().host("127.0.0.1").port(port).deadline(Duration.ofSeconds(60));
    }

    int port() {
        return port;
    }

    Process process() {
        return process;
    }

    /** @return everything the server printed so far */
    String output() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "<cannot read " + log + ": " + e + ">";
        }
    }

    /** Kills the server at once (SIGKILL), as a crash would. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    /** Stops the server gracefully (SIGTERM), forcibly after 15 s. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS))
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(log);
        } catch (IOException ignored) {
            // A leftover log in the temp folder is harmless.
        }
    }

    /**
     * Runs a Python command to completion in the repository root, with the server package on the path.
     *
     * @param timeout how long it may take
     * @param args    arguments after the interpreter
     * @return its combined output
     * @throws IllegalStateException with the output when it fails or times out
     */
    static String runPython(Duration timeout, String... args) throws IOException, InterruptedException {
        checkFile(python(), "pathosam.python");
        List<String> command = new ArrayList<>(List.of(python().toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile("pathosam-python-", ".log");
        try {
            ProcessBuilder builder = new ProcessBuilder(command).directory(repo().toFile())
                    .redirectErrorStream(true).redirectOutput(out.toFile());
            builder.environment().put("PYTHONPATH", repo().resolve("python_server").toString());
            Process p = builder.start();
            if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s: " + command
                        + "\n" + Files.readString(out));
            }
            String text = Files.readString(out);
            if (p.exitValue() != 0)
                throw new IllegalStateException("exit status " + p.exitValue() + ": " + command + "\n" + text);
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void checkFile(Path path, String property) {
        if (!Files.isRegularFile(path))
            throw new IllegalStateException(path + " does not exist: pass -D" + property + "=... (or -Dpathosam.live=false"
                    + " to skip the live tests)");
    }
}
