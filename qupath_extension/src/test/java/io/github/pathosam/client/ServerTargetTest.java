package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServerTargetTest {

    @Test
    void oneAddressIsNotAPool() {
        ServerTarget t = ServerTarget.parse(" gpu1:6000 ");
        assertEquals(List.of(new ServerAddress("gpu1", 6000)), t.addresses());
        assertFalse(t.isPool());
        assertEquals("gpu1:6000", t.toString());
    }

    @Test
    void aCommaListIsAPoolInTheOrderGiven() {
        ServerTarget t = ServerTarget.parse("gpu2:1,gpu1 , [::1]:7000");
        assertEquals(List.of(new ServerAddress("gpu2", 1), new ServerAddress("gpu1", 50051), new ServerAddress("::1", 7000)),
                t.addresses());
        assertTrue(t.isPool());
        assertEquals("gpu2:1, gpu1:50051, [::1]:7000", t.toString());
        assertEquals(t, ServerTarget.parse(t.toString()));
    }

    @Test
    void aDnsNameIsAPoolOfItsRecords() {
        ServerTarget t = ServerTarget.parse("DNS:///pathosam.lab:50051");
        assertTrue(t.dns());
        assertTrue(t.isPool());
        assertEquals(new ServerAddress("pathosam.lab", 50051), t.dnsName().orElseThrow());
        assertEquals("dns:///pathosam.lab:50051", t.toString());
        assertEquals(t, ServerTarget.parse(t.toString()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " , ", "a:1,", "a:1,,b:2", "a:1, a:1", "a, a:50051", "dns:///a:1,b:2", "dns:///",
            "http://a:1", "a:1, http://b:2", "a:1, b:0", "a:1, 127."})
    void rejectsWithAHint(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerTarget.parse(text));
        assertTrue(e.getMessage().contains("server") || e.getMessage().contains("port") || e.getMessage().contains("dns"),
                e.getMessage());
    }

    @Test
    void clientOptionsAndSettingsCarryThePool() {
        ClientOptions o = ClientOptions.builder().servers("a:1, b:2").build();
        assertEquals("a:1, b:2", o.address());
        assertEquals("a", o.host());
        assertEquals(o.target(), o.toBuilder().build().target());
        // host/port replace an earlier pool: the last word wins.
        assertEquals("c:3", ClientOptions.builder().servers("a:1, b:2").host("c").port(3).build().address());
        DetectionSettings s = DetectionSettings.builder(x -> x).server("dns:///lab:9").build();
        assertEquals(ServerTarget.parse("dns:///lab:9"), s.server());
        assertEquals(s.server(), s.toClientOptions(1.0, 384, 64).target());
    }

    @Test
    void poolServiceConfigBalancesRoundRobinWithHealthChecks() {
        Map<String, ?> config = ChannelFactory.poolServiceConfig();
        assertEquals(List.of(Map.of("round_robin", Map.of())), config.get("loadBalancingConfig"));
        assertEquals(Map.of("serviceName", PathoSamClient.SERVICE_NAME), config.get("healthCheckConfig"));
        assertEquals(ChannelFactory.retryServiceConfig().get("methodConfig"), config.get("methodConfig"));
    }
}
