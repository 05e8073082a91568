package io.github.pathosam.client;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.fail;

/** Watches a process's CPU time to tell whether it is still working. */
final class ProcessCpu {

    private ProcessCpu() {
    }

    static Duration cpu(Process process) {
        return process.toHandle().info().totalCpuDuration().orElseThrow(
                () -> new IllegalStateException("this platform does not report process CPU time"));
    }

    /**
     * Waits until the process uses less than a quarter of a core over one second.
     *
     * @param process the process
     * @param within  how long it may take to get there
     */
    static void assertGoesIdle(Process process, Duration within) throws InterruptedException {
        long end = System.nanoTime() + within.toNanos();
        double rate = Double.NaN;
        while (System.nanoTime() < end) {
            Duration before = cpu(process);
            Thread.sleep(1000);
            rate = (cpu(process).toNanos() - before.toNanos()) / 1e9;
            if (rate < 0.25)
                return;
        }
        fail("the server still used " + String.format("%.2f", rate) + " CPU-s per s after " + within.toSeconds() + " s");
    }
}
