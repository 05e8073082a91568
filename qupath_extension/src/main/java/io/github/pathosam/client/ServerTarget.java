package io.github.pathosam.client;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a client sends its calls: one server, a fixed pool of servers, or a DNS name whose records
 * list the pool.
 *
 * <p>Users type it as one address ({@code gpu1:50051}), several separated by commas
 * ({@code gpu1:50051, gpu2:50051}) or {@code dns:///pathosam.lab:50051}. A pool is balanced by
 * gRPC's own {@code round_robin} policy with client-side health checks, so a server that stops or
 * reports NOT_SERVING gets no new work; see {@link PathoSamClient}.
 *
 * @param addresses the servers in the order given (for a DNS target: the one name to resolve)
 * @param dns       whether {@code addresses.get(0)} is a DNS name that resolves to the pool
 */
public record ServerTarget(List<ServerAddress> addresses, boolean dns) {

    /** Prefix of a DNS target, as gRPC writes it. */
    public static final String DNS_PREFIX = "dns:///";

    /**
     * @throws IllegalArgumentException for no address, a repeated one, or a DNS target with more than one name
     */
    public ServerTarget {
        addresses = List.copyOf(Objects.requireNonNull(addresses, "addresses"));
        if (addresses.isEmpty())
            throw new IllegalArgumentException("the server address is empty: use host:port, e.g. localhost:50051");
        if (dns && addresses.size() != 1)
            throw new IllegalArgumentException("a dns:/// target names one host:port, not " + addresses.size());
        if (new LinkedHashSet<>(addresses).size() != addresses.size())
            throw new IllegalArgumentException("the server " + repeated(addresses) + " is listed twice");
    }

    /**
     * @param address the one server
     * @return a target of that server alone
     */
    public static ServerTarget of(ServerAddress address) {
        return new ServerTarget(List.of(address), false);
    }

    /**
     * Parses what a user typed.
     *
     * @param text {@code host:port}, {@code host1:port1, host2:port2, ...} or {@code dns:///host:port}
     * @return the target
     * @throws IllegalArgumentException with a message that shows the expected forms
     */
    public static ServerTarget parse(String text) {
        String s = text == null ? "" : text.strip();
        if (s.regionMatches(true, 0, DNS_PREFIX, 0, DNS_PREFIX.length())) {
            String rest = s.substring(DNS_PREFIX.length()).strip();
            if (rest.contains(","))
                throw new IllegalArgumentException("a dns:/// target names one host:port; its DNS records list the servers");
            return new ServerTarget(List.of(ServerAddress.parse(rest)), true);
        }
        if (s.contains("://"))
            throw new IllegalArgumentException("write the server address as host:port (or several, comma-separated, "
                    + "or dns:///host:port), not '" + s + "'");
        List<ServerAddress> list = new ArrayList<>();
        for (String part : s.split(",", -1)) {
            if (part.isBlank() && !list.isEmpty())
                throw new IllegalArgumentException("empty entry in the server list '" + s
                        + "': separate host:port entries with single commas");
            list.add(ServerAddress.parse(part));
        }
        return new ServerTarget(list, false);
    }

    /** @return whether calls may go to more than one server (a list, or a DNS name) */
    public boolean isPool() {
        return dns || addresses.size() > 1;
    }

    /** @return the first (for one server or a DNS target: the only) address */
    public ServerAddress first() {
        return addresses.get(0);
    }

    /** @return the DNS name, when this is a DNS target */
    public Optional<ServerAddress> dnsName() {
        return dns ? Optional.of(first()) : Optional.empty();
    }

    /** @return the form {@link #parse} reads back, e.g. {@code gpu1:50051, gpu2:50051} */
    @Override
    public String toString() {
        if (dns)
            return DNS_PREFIX + first();
        StringBuilder sb = new StringBuilder();
        for (ServerAddress a : addresses)
            sb.append(sb.isEmpty() ? "" : ", ").append(a);
        return sb.toString();
    }

    private static ServerAddress repeated(List<ServerAddress> addresses) {
        List<ServerAddress> seen = new ArrayList<>();
        for (ServerAddress a : addresses) {
            if (seen.contains(a))
                return a;
            seen.add(a);
        }
        throw new AssertionError();
    }
}
