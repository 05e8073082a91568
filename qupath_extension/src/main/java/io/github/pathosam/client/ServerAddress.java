package io.github.pathosam.client;

import java.util.Objects;

/**
 * A PathoSAM server's address as users type it: {@code host}, {@code host:port}, {@code [IPv6]:port}
 * or a bare IPv6 literal; the port defaults to {@link ClientOptions#DEFAULT_PORT}.
 *
 * @param host host name or address, without brackets
 * @param port port, 1-65535
 */
public record ServerAddress(String host, int port) {

    /**
     * Validates both parts.
     *
     * @throws IllegalArgumentException for an empty host, whitespace in it, a host of digits and dots
     *         that is not a complete IPv4 address (such as {@code 127.}, half typed), or a port outside 1-65535
     */
    public ServerAddress {
        Objects.requireNonNull(host, "host");
        if (host.isEmpty() || host.chars().anyMatch(Character::isWhitespace))
            throw new IllegalArgumentException("the server host must be a name or address, not '" + host + "'");
        // Such a host would go to DNS, fail there and leave a name-resolution stack trace in the log.
        if (host.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9')) && !isIpv4(host))
            throw new IllegalArgumentException("the server host '" + host
                    + "' is not a complete IPv4 address: use four numbers 0-255, e.g. 127.0.0.1");
        if (port < 1 || port > 65535)
            throw new IllegalArgumentException("the server port must be 1-65535, not " + port);
    }

    /**
     * Parses an address.
     *
     * @param text e.g. {@code localhost:50051}, {@code gpu1}, {@code [::1]:50051}, {@code ::1}
     * @return the address
     * @throws IllegalArgumentException with a message that shows the expected form
     */
    public static ServerAddress parse(String text) {
        String s = text == null ? "" : text.strip();
        if (s.isEmpty())
            throw new IllegalArgumentException("the server address is empty: use host:port, e.g. localhost:50051");
        if (s.contains("://"))
            // gRPC is not HTTP for the user: a pasted URL would silently pick the wrong port.
            throw new IllegalArgumentException("write the server address as host:port without a scheme, not '" + s + "'");
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0)
                throw new IllegalArgumentException("missing ']' in server address '" + s + "'");
            String rest = s.substring(close + 1);
            if (!rest.isEmpty() && !rest.startsWith(":"))
                throw new IllegalArgumentException("expected ':port' after ']' in server address '" + s + "'");
            return new ServerAddress(s.substring(1, close), rest.isEmpty() ? ClientOptions.DEFAULT_PORT : port(rest.substring(1), s));
        }
        int colon = s.indexOf(':');
        if (colon < 0)
            return new ServerAddress(s, ClientOptions.DEFAULT_PORT);
        if (s.indexOf(':', colon + 1) >= 0)
            return new ServerAddress(s, ClientOptions.DEFAULT_PORT); // a bare IPv6 literal
        return new ServerAddress(s.substring(0, colon), port(s.substring(colon + 1), s));
    }

    private static boolean isIpv4(String host) {
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4)
            return false;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || Integer.parseInt(p) > 255)
                return false;
        }
        return true;
    }

    private static int port(String digits, String whole) {
        try {
            return Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("the port in server address '" + whole + "' is not a number", e);
        }
    }

    /** @return {@code host:port}, with brackets around an IPv6 literal; {@link #parse} reads it back */
    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
