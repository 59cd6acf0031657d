package io.tapdisk4j.app.daemon;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.tapdisk4j.block.EventLoops;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The control socket: one request line per connection ("list --json"), answered by {@link ControlCommands}
 * and closed. Commands may block (pause drains a device), so they run on a virtual thread, not the loop.
 */
final class ControlServer implements AutoCloseable {

    private final Path path;
    private final Channel server;

    ControlServer(Path path, ControlCommands commands) throws IOException {
        this.path = path;
        Files.createDirectories(path.toAbsolutePath().getParent());
        if (Files.exists(path)) {
            if (ControlClient.listening(path)) {
                throw new IOException("another daemon already answers on " + path);
            }
            Files.delete(path);
        }
        try {
            server = new ServerBootstrap().group(EventLoops.shared())
                    .channel(EventLoops.serverDomainSocketChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new LineBasedFrameDecoder(4096),
                                    new StringDecoder(StandardCharsets.UTF_8),
                                    new StringEncoder(StandardCharsets.UTF_8),
                                    new SimpleChannelInboundHandler<String>() {
                                        @Override
                                        protected void channelRead0(ChannelHandlerContext ctx, String line) {
                                            Thread.ofVirtual().name("ctl").start(() -> {
                                                ControlResponse r = commands.execute(line);
                                                ctx.writeAndFlush(r.encode())
                                                        .addListener(ChannelFutureListener.CLOSE);
                                            });
                                        }

                                        @Override
                                        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                            ctx.writeAndFlush(new ControlResponse(false, cause.getMessage()).encode())
                                                    .addListener(ChannelFutureListener.CLOSE);
                                        }
                                    });
                        }
                    })
                    .bind(new DomainSocketAddress(path.toFile())).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted binding " + path, e);
        }
        // Pausing and detaching disks is an administrator's business.
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
    }

    Path path() {
        return path;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // a stale socket file is replaced by the next daemon
        }
    }
}
