package io.tapdisk4j.nbd.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.nbd.DirectReads;
import io.tapdisk4j.nbd.NbdServerDecoder;
import io.tapdisk4j.nbd.NbdServerEncoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An NBD server exporting one or more block devices on a TCP address or a Unix socket.
 * <pre>
 *   NbdServer s = NbdServer.builder().export(new NbdExport("disk", null, device, false)).bindTcp("127.0.0.1", 10809).start();
 * </pre>
 * Closing the server closes the listening socket and every connection; it does not close the devices.
 *
 * <p>A server and all its connections run on one event loop of the group, so a multi-conn client's
 * connections to an export share one thread; servers (one per exported device in the daemon) spread over
 * the group. One loop with four connections' work stays busy, where two half-busy loops sleep and are woken
 * for nearly every request (nbdcopy -C 4 here: a ninth of the context switches, 40% less CPU on both sides).
 * The price: one export's connections together get one core (TLS included).
 */
public final class NbdServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);
    /**
     * Unsent bytes a connection's socket may hold. File-region replies cost the server almost nothing to
     * queue, so without a bound it queues megabytes, which the kernel then sends whenever the client's
     * acknowledgements open the window: on loopback, in the client's own system calls. Measured with
     * nbdcopy -C 4 here: the client's CPU per GiB fell from about 0.5 s to 0.3 s with 128 KiB, the server's
     * rose by less. The socket still keeps what is in flight; only the backlog behind it is bounded.
     */
    static final int NOTSENT_LOWAT = Integer.getInteger("tapdisk4j.nbd.notsentLowat", 128 * 1024);

    private final NbdExports exports;
    private final NbdServerLimits limits;
    private final NbdServerTls tls;
    private final AtomicInteger connections = new AtomicInteger();
    private final io.netty.channel.group.ChannelGroup open;
    private final EventLoop loop;
    private Channel listener;
    private Path socketPath;

    private NbdServer(NbdExports exports, NbdServerLimits limits, NbdServerTls tls, EventLoopGroup group) {
        this.exports = exports;
        this.limits = limits;
        this.tls = tls;
        this.loop = group.next();
        this.open = new io.netty.channel.group.DefaultChannelGroup(loop);
    }

    public static Builder builder() {
        return new Builder();
    }

    public NbdExports exports() {
        return exports;
    }

    /** The bound address (with the real port when bound to port 0). */
    public SocketAddress localAddress() {
        return listener.localAddress();
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    public int connectionCount() {
        return connections.get();
    }

    /** The event loop of the listening socket and of every connection. */
    EventLoop loop() {
        return loop;
    }

    /** The event loops the open connections run on (tests: always just {@link #loop()}). */
    Set<EventLoop> connectionLoops() {
        Set<EventLoop> loops = new HashSet<>();
        open.forEach(ch -> loops.add(ch.eventLoop()));
        return loops;
    }

    private NbdServer bind(SocketAddress address, boolean unix) throws IOException {
        ServerBootstrap b = new ServerBootstrap()
                .group(loop, loop)
                .channel(unix ? EventLoops.serverDomainSocketChannel() : EventLoops.serverSocketChannel())
                .option(ChannelOption.SO_BACKLOG, 128)
                .childOption(ChannelOption.ALLOCATOR, Buffers.allocator())
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(8 << 20, 64 << 20))
                .childOption(ChannelOption.MESSAGE_SIZE_ESTIMATOR, NbdReplySizes.INSTANCE)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        int n = connections.incrementAndGet();
                        ch.closeFuture().addListener(f -> connections.decrementAndGet());
                        if (n > limits.maxConnections()) {
                            log.warn("refusing {}: {} connections already", ch.remoteAddress(), limits.maxConnections());
                            ch.close();
                            return;
                        }
                        open.add(ch);
                        if (!unix) {
                            ch.config().setOption(ChannelOption.TCP_NODELAY, true);
                            if (ch instanceof EpollSocketChannel && NOTSENT_LOWAT > 0) {
                                ch.config().setOption(EpollChannelOption.TCP_NOTSENT_LOWAT, (long) NOTSENT_LOWAT);
                            }
                        }
                        NbdServerDecoder decoder = new NbdServerDecoder(
                                NbdServerDecoder.DEFAULT_MAX_OPTION_LENGTH, limits.maxPayload());
                        ch.config().setRecvByteBufAllocator(new DirectReads(decoder::directReadBuffer));
                        ch.pipeline().addLast("nbd-decoder", decoder);
                        ch.pipeline().addLast("nbd-encoder", NbdServerEncoder.INSTANCE);
                        ch.pipeline().addLast("nbd-negotiation", new NbdOptionNegotiation(exports, limits, tls));
                    }
                });
        try {
            listener = b.bind(address).sync().channel();
        } catch (Exception e) {
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
        log.info("NBD server listening on {} ({} exports)", listener.localAddress(), exports.all().size());
        return this;
    }

    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        open.close().awaitUninterruptibly();
        if (socketPath != null) {
            try {
                Files.deleteIfExists(socketPath);
            } catch (IOException e) {
                log.debug("cannot remove {}: {}", socketPath, e.toString());
            }
        }
    }

    public static final class Builder {
        private final NbdExports exports = new NbdExports();
        private NbdServerLimits limits = NbdServerLimits.DEFAULT;
        private NbdServerTls tls;
        private EventLoopGroup group;

        public Builder export(NbdExport e) {
            exports.add(e);
            return this;
        }

        public Builder limits(NbdServerLimits l) {
            limits = l;
            return this;
        }

        public Builder tls(NbdServerTls t) {
            tls = t;
            return this;
        }

        public Builder group(EventLoopGroup g) {
            group = g;
            return this;
        }

        private NbdServer build() {
            return new NbdServer(exports, limits, tls, group == null ? EventLoops.shared() : group);
        }

        public NbdServer bindTcp(String host, int port) throws IOException {
            return build().bind(new InetSocketAddress(host, port), false);
        }

        public NbdServer bindUnix(Path path) throws IOException {
            NbdServer s = build();
            s.socketPath = path;
            return s.bind(new DomainSocketAddress(path.toFile()), true);
        }
    }
}
