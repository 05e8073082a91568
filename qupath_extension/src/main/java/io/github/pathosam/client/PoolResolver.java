package io.github.pathosam.client;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.Status;
import io.grpc.StatusOr;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * Resolves a fixed list of servers for gRPC, so that its {@code round_robin} balancer spreads calls
 * over them. grpc-java resolves a DNS name ({@code dns:///}) to a pool by itself but has no resolver
 * for a list typed by a user; this is that resolver, nothing more: balancing, health checks and
 * reconnects stay gRPC's.
 *
 * <p>Each server becomes its own address group (all its IPs), with its own authority, so that TLS
 * checks each server's certificate against that server's name. A name that does not resolve is left
 * out with a warning while the others serve; when none resolves the channel reports UNAVAILABLE.
 */
final class PoolResolver extends NameResolver {

    /** Scheme of the channel targets this resolver answers; the servers travel in {@link #SERVERS}. */
    static final String SCHEME = "pathosam-pool";

    /** Channel argument with the servers of a pool target. */
    static final Args.Key<List<ServerAddress>> SERVERS = Args.Key.create("pathosam-pool-servers");

    private static final org.slf4j.Logger logger = org.slf4j.LoggerFactory.getLogger(PoolResolver.class);

    private static volatile boolean registered;

    private final List<ServerAddress> servers;
    private final Args args;
    private Listener2 listener;

    private PoolResolver(List<ServerAddress> servers, Args args) {
        this.servers = servers;
        this.args = args;
    }

    /** Makes the {@link #SCHEME} known to gRPC in this JVM (once; later calls do nothing). */
    static void register() {
        if (registered)
            return;
        synchronized (PoolResolver.class) {
            if (!registered) {
                NameResolverRegistry.getDefaultRegistry().register(new Provider());
                registered = true;
            }
        }
    }

    @Override
    public String getServiceAuthority() {
        return servers.get(0).toString();
    }

    @Override
    public void start(Listener2 listener) {
        this.listener = listener;
        resolve();
    }

    @Override
    public void refresh() {
        // gRPC asks again after a connection failure: a server's name may have moved.
        resolve();
    }

    @Override
    public void shutdown() {
    }

    private void resolve() {
        Executor offload = args.getOffloadExecutor();
        Runnable lookup = () -> {
            List<EquivalentAddressGroup> groups = new ArrayList<>();
            List<String> unresolved = new ArrayList<>();
            for (ServerAddress server : servers) {
                try {
                    List<SocketAddress> ips = new ArrayList<>();
                    for (InetAddress ip : InetAddress.getAllByName(server.host()))
                        ips.add(new InetSocketAddress(ip, server.port()));
                    groups.add(new EquivalentAddressGroup(ips, Attributes.newBuilder()
                            .set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, server.toString()).build()));
                } catch (UnknownHostException e) {
                    unresolved.add(server.toString());
                }
            }
            if (!unresolved.isEmpty())
                logger.warn("PathoSAM server pool: cannot resolve {}; using the other servers", unresolved);
            StatusOr<List<EquivalentAddressGroup>> result = groups.isEmpty()
                    ? StatusOr.fromStatus(Status.UNAVAILABLE.withDescription("cannot resolve any server of the pool " + servers))
                    : StatusOr.fromValue(groups);
            args.getSynchronizationContext().execute(() -> listener.onResult2(
                    ResolutionResult.newBuilder().setAddressesOrError(result).build()));
        };
        // Name lookups block; gRPC's synchronization context must not.
        if (offload != null)
            offload.execute(lookup);
        else
            lookup.run();
    }

    /** Registered once per JVM; answers targets {@code pathosam-pool:///...} carrying {@link #SERVERS}. */
    private static final class Provider extends NameResolverProvider {

        @Override
        protected boolean isAvailable() {
            return true;
        }

        @Override
        protected int priority() {
            return 5;
        }

        @Override
        public String getDefaultScheme() {
            return SCHEME;
        }

        @Override
        public NameResolver newNameResolver(URI targetUri, Args args) {
            if (!SCHEME.equals(targetUri.getScheme()))
                return null;
            List<ServerAddress> servers = args.getArg(SERVERS);
            if (servers == null || servers.isEmpty())
                throw new IllegalArgumentException("a " + SCHEME + " target needs its servers as a channel argument");
            return new PoolResolver(List.copyOf(servers), args);
        }
    }
}
