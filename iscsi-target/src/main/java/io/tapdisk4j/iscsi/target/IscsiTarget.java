package io.tapdisk4j.iscsi.target;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.pdu.PduEncoder;
import io.tapdisk4j.iscsi.pdu.PduReadAllocator;
import io.tapdisk4j.iscsi.target.scsi.LogicalUnit;
import io.tapdisk4j.iscsi.target.scsi.ScsiDispatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An iSCSI target serving one device as LUN 0 on one portal.
 * <pre>
 *   IscsiTarget t = IscsiTarget.start(device, IscsiTargetConfig.of("iqn.2026-12.org.example:disk"), "127.0.0.1", 3260);
 * </pre>
 * Closing it closes the listening socket and every connection, not the device.
 */
public final class IscsiTarget implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(IscsiTarget.class);

    /**
     * The socket's send buffer. Left to autotuning it grows to 4 MiB, and at 32 reads of 128 KiB in flight
     * libiscsi's receive queue on loopback then drops segments (ss: retransmissions, 7 ms RTT), each drop
     * stalling the connection for a retransmission timeout: 270-700 MB/s. With 256 KiB the data waits in
     * Netty's outbound buffer instead: 570-2300 MB/s in the same alternating runs (null: device, loaded machine).
     */
    static final int SEND_BUFFER = Integer.getInteger("tapdisk4j.iscsi.sndbuf", 262144);

    private final TargetContext context;
    private final ChannelGroup open = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final AtomicInteger connections = new AtomicInteger();
    private static final long REFUSAL_LOG_INTERVAL_NANOS = 10_000_000_000L;
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong nextRefusalLog = new AtomicLong(System.nanoTime());
    private Channel listener;

    private IscsiTarget(TargetContext context) {
        this.context = context;
    }

    public static IscsiTarget start(BlockDevice device, IscsiTargetConfig config, String bind, int port)
            throws IOException {
        return start(device, config, bind, port, EventLoops.shared());
    }

    public static IscsiTarget start(BlockDevice device, IscsiTargetConfig config, String bind, int port,
                                    EventLoopGroup group) throws IOException {
        LogicalUnit lu = new LogicalUnit(device, config.readOnly(), config.targetName());
        TargetContext context = new TargetContext(config, new SessionRegistry(),
                new ScsiDispatcher(lu, config.targetName()));
        IscsiTarget t = new IscsiTarget(context);
        t.bind(group, bind, port);
        return t;
    }

    private void bind(EventLoopGroup group, String host, int port) throws IOException {
        IscsiTargetConfig config = context.config();
        ServerBootstrap b = new ServerBootstrap()
                .group(group, group)
                .channel(EventLoops.serverSocketChannel())
                .option(ChannelOption.SO_BACKLOG, 128)
                .childOption(ChannelOption.ALLOCATOR, Buffers.allocator())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(8 << 20, 64 << 20))
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        int n = connections.incrementAndGet();
                        ch.closeFuture().addListener(f -> connections.decrementAndGet());
                        if (n > config.maxConnections()) {
                            long refusedSince = refused.incrementAndGet();
                            long now = System.nanoTime();
                            long next = nextRefusalLog.get();
                            // A hostile client can open connections faster than a log can take lines:
                            // one line per interval, with the count, instead of one per refusal.
                            if (now - next >= 0 && nextRefusalLog.compareAndSet(next, now + REFUSAL_LOG_INTERVAL_NANOS)) {
                                refused.addAndGet(-refusedSince);
                                log.warn("refusing {}: {} connections already ({} refused since the last such line)",
                                        ch.remoteAddress(), config.maxConnections(), refusedSince);
                            }
                            ch.close();
                            return;
                        }
                        open.add(ch);
                        if (SEND_BUFFER > 0) {
                            ch.config().setOption(ChannelOption.SO_SNDBUF, SEND_BUFFER);
                        }
                        DigestSettings digests = new DigestSettings();
                        digests.maxRecvDataSegmentLength(config.maxRecvDataSegment());
                        // Responses completed within one read are written with one system call.
                        ch.pipeline().addLast("flush", new FlushConsolidationHandler(256, true));
                        PduDecoder decoder = PduDecoder.forTarget(digests);
                        // Large write data is read from the socket straight into a pooled buffer of its own.
                        decoder.placeWriteData(true);
                        ch.config().setRecvByteBufAllocator(new PduReadAllocator(decoder));
                        ch.pipeline().addLast("iscsi-decoder", decoder);
                        ch.pipeline().addLast("iscsi-encoder", new PduEncoder(digests));
                        ch.pipeline().addLast("iscsi-login", new TargetLoginHandler(context, digests));
                    }
                });
        try {
            listener = b.bind(new InetSocketAddress(host, port)).sync().channel();
        } catch (Exception e) {
            throw new IOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        log.info("iSCSI target {} listening on {}", config.targetName(), listener.localAddress());
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    public InetSocketAddress localAddress() {
        return (InetSocketAddress) listener.localAddress();
    }

    public String targetName() {
        return context.config().targetName();
    }

    public int connectionCount() {
        return connections.get();
    }

    public int sessionCount() {
        return context.sessions().size();
    }

    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        open.close().awaitUninterruptibly();
    }
}
