package io.tapdisk4j.block;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.Channel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The process's one Netty event loop group (epoll on Linux, NIO elsewhere), shared by every frontend and
 * backend so that a thousand devices do not mean a thousand threads.
 */
public final class EventLoops {

    private static volatile EventLoopGroup shared;

    private EventLoops() {
    }

    public static boolean epoll() {
        return Epoll.isAvailable();
    }

    public static IoHandlerFactory ioHandlerFactory() {
        return epoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    /** A new group of {@code threads} daemon threads named {@code name-N}. */
    public static EventLoopGroup newGroup(String name, int threads) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), ioHandlerFactory());
    }

    /** The shared group, created on first use with one thread per core. */
    public static EventLoopGroup shared() {
        EventLoopGroup g = shared;
        if (g == null) {
            synchronized (EventLoops.class) {
                g = shared;
                if (g == null) {
                    g = newGroup("tapdisk4j-io", Runtime.getRuntime().availableProcessors());
                    shared = g;
                }
            }
        }
        return g;
    }

    /**
     * Stops the shared group, if one was made, and waits up to {@code millis} for its threads to end. A CLI
     * command calls this before it exits: a thread waiting in epoll_wait is "in native" to the JVM, whose exit
     * then waits 300 ms for it (HotSpot's VM_Exit::wait_for_threads_in_native_to_block).
     */
    public static void shutdownShared(long millis) {
        EventLoopGroup g;
        synchronized (EventLoops.class) {
            g = shared;
            shared = null;
        }
        if (g != null) {
            g.shutdownGracefully(0, millis, java.util.concurrent.TimeUnit.MILLISECONDS)
                    .awaitUninterruptibly(millis);
        }
    }

    public static Class<? extends Channel> socketChannel() {
        return epoll() ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    public static Class<? extends ServerChannel> serverSocketChannel() {
        return epoll() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** Unix-domain sockets (NBD's nbd+unix, the control socket): epoll only. */
    public static Class<? extends Channel> domainSocketChannel() {
        requireEpoll();
        return EpollDomainSocketChannel.class;
    }

    public static Class<? extends ServerChannel> serverDomainSocketChannel() {
        requireEpoll();
        return EpollServerDomainSocketChannel.class;
    }

    private static void requireEpoll() {
        if (!epoll()) {
            throw new IllegalStateException("Unix-domain sockets need Netty's native epoll transport (Linux x86_64)",
                    Epoll.unavailabilityCause());
        }
    }
}
