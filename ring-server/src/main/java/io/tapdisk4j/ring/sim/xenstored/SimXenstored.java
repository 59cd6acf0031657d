package io.tapdisk4j.ring.sim.xenstored;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.channel.unix.DomainSocketAddress;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.xenstore.XsDecoder;
import io.tapdisk4j.ring.xenstore.XsEncoder;
import io.tapdisk4j.ring.xenstore.XsMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The simulated hypervisor's xenstored: the xenstore wire protocol on a Unix stream socket
 * (DIR/xenstored.sock), serving real clients (xenstore-utils, libxenstore, pyxs) and tapdisk4j's own.
 */
public final class SimXenstored implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SimXenstored.class);

    private final Path socket;
    private final XsStore store = new XsStore();
    private final Channel server;
    private final ChannelGroup clients = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

    private SimXenstored(Path socket) throws IOException {
        this.socket = socket;
        if (Files.exists(socket)) {
            if (listening(socket)) {
                throw new IOException("a xenstored already listens on " + socket);
            }
            Files.delete(socket); // left behind by a process that died
        }
        try {
            server = new ServerBootstrap().group(EventLoops.shared())
                    .channel(EventLoops.serverDomainSocketChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new XsDecoder(), new XsEncoder(), new Connection());
                        }
                    })
                    .bind(new DomainSocketAddress(socket.toFile())).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted binding " + socket, e);
        } catch (RuntimeException e) {
            throw new IOException("cannot listen on " + socket + ": " + e.getMessage(), e);
        }
        log.info("simulated xenstored listening on {}", socket);
    }

    /** Starts a simulated xenstored on {@code socket} (a stale socket file from a dead process is replaced). */
    public static SimXenstored start(Path socket) throws IOException {
        return new SimXenstored(socket);
    }

    /** True when something accepts connections on {@code socket}. */
    public static boolean listening(Path socket) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public Path socket() {
        return socket;
    }

    /** Number of nodes in the tree. */
    public int nodes() {
        return store.size();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        clients.close().syncUninterruptibly(); // as when xenstored dies: every client sees its hang-up
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            log.warn("cannot remove {}: {}", socket, e.toString());
        }
    }

    /** One client connection: requests go to the store, answers and watch events come back. */
    private final class Connection extends SimpleChannelInboundHandler<XsMessage> implements XsStore.Client {

        private Channel channel;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            clients.add(channel);
            ctx.fireChannelActive();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, XsMessage msg) {
            store.handle(this, msg);
        }

        @Override
        public void deliver(XsMessage message) {
            channel.writeAndFlush(message);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            store.disconnect(this);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A framing error cannot be resynchronised: drop the client, as xenstored does.
            log.warn("xenstore client dropped: {}", cause.toString());
            ctx.close();
        }
    }
}
