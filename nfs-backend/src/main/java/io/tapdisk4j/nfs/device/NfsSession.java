package io.tapdisk4j.nfs.device;

import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.nfs.mount.MountClient;
import io.tapdisk4j.nfs.portmap.PortmapClient;
import io.tapdisk4j.nfs.rpc.RpcAuth;
import io.tapdisk4j.nfs.rpc.RpcClient;
import io.tapdisk4j.nfs.rpc.RpcClientConfig;
import io.tapdisk4j.nfs.rpc.RpcConnector;
import io.tapdisk4j.nfs.v3.FileHandle;
import io.tapdisk4j.nfs.v3.FsInfo;
import io.tapdisk4j.nfs.v3.LookupResult;
import io.tapdisk4j.nfs.v3.Nfs3Client;
import io.tapdisk4j.nfs.xdr.XdrException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A mounted NFS export: the NFS connections, the export's root handle and its FSINFO. The export is found
 * the libnfs way: the longest entry of the server's export list that is a prefix of the URL path, else MNT
 * of ever shorter prefixes; the rest of the path is walked with LOOKUP.
 */
public final class NfsSession implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(NfsSession.class);
    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(30);

    private final NfsUrl url;
    private final Nfs3Client nfs;
    private final String exportPath;
    private final FileHandle root;
    private final FsInfo fsinfo;

    private NfsSession(NfsUrl url, Nfs3Client nfs, String exportPath, FileHandle root, FsInfo fsinfo) {
        this.url = url;
        this.nfs = nfs;
        this.exportPath = exportPath;
        this.root = root;
        this.fsinfo = fsinfo;
    }

    /** Mounts the export holding {@code path} (an absolute path on the server). */
    public static NfsSession open(NfsUrl url, String path) throws IOException {
        EventLoopGroup group = EventLoops.shared();
        // A soft URL's timeo and retrans bound the setup too (portmap, MOUNT), as they bound I/O: with the server
        // down, a soft open fails after about timeo × (retrans + 1), not after every step's own retries.
        RpcClientConfig setup = url.soft()
                ? RpcClientConfig.defaults().withTimeout(url.timeout()).withSoft(url.softDeadline())
                : RpcClientConfig.defaults().withTimeout(Duration.ofSeconds(3)).withSoft(Duration.ofSeconds(10));
        int nfsPort = url.nfsPort();
        int mountPort = url.mountPort();
        if (nfsPort < 0 || mountPort < 0) {
            try (RpcClient pm = client(url, PortmapClient.PORT, "portmap", setup, group)) {
                PortmapClient portmap = new PortmapClient(pm, Buffers.allocator());
                if (nfsPort < 0) {
                    nfsPort = await(portmap.getPort(Nfs3Client.PROGRAM, Nfs3Client.VERSION), "portmapper GETPORT nfs");
                }
                if (mountPort < 0) {
                    mountPort = await(portmap.getPort(MountClient.PROGRAM, MountClient.VERSION), "portmapper GETPORT mount");
                }
            }
        }
        RpcAuth auth = RpcAuth.sys(url.uid(), url.gid());
        String export;
        FileHandle root;
        try (RpcClient mc = client(url, mountPort, "mount", setup, group)) {
            MountClient mount = new MountClient(mc, auth, Buffers.allocator());
            List<String> candidates = new ArrayList<>();
            try {
                String best = null;
                for (String e : await(mount.export(), "MOUNT EXPORT")) {
                    if (isPrefix(e, path) && (best == null || e.length() > best.length())) {
                        best = e;
                    }
                }
                if (best != null) {
                    candidates.add(best);
                }
            } catch (BlockDeviceException e) {
                if (url.soft() && unreachable(e)) {
                    throw e; // the server does not answer: trying each MNT candidate would only wait longer
                }
                LOG.debug("export list unavailable from {}: {}", url.host(), e.getMessage());
            }
            for (String p = path; ; p = parent(p)) {
                if (!candidates.contains(p)) {
                    candidates.add(p);
                }
                if (p.equals("/")) {
                    break;
                }
            }
            BlockDeviceException last = null;
            export = null;
            root = null;
            for (String c : candidates) {
                try {
                    root = await(mount.mnt(c), "MOUNT MNT " + c);
                    export = c;
                    break;
                } catch (BlockDeviceException e) {
                    if (url.soft() && unreachable(e)) {
                        throw e;
                    }
                    last = e;
                }
            }
            if (root == null) {
                throw new BlockDeviceException(last == null ? BlockError.EIO : last.error(), "no export of "
                        + url.host() + " holds " + path + (last == null ? "" : " (last refusal: " + last.getMessage() + ")"));
            }
        }
        RpcClientConfig io = RpcClientConfig.defaults().withTimeout(url.timeout());
        io = url.soft() ? io.withSoft(url.softDeadline()) : io.withHard();
        List<RpcClient> conns = new ArrayList<>();
        for (int i = 0; i < url.nconnect(); i++) {
            conns.add(client(url, nfsPort, "nfs" + (url.nconnect() > 1 ? "#" + i : ""), io, group));
        }
        Nfs3Client nfs = new Nfs3Client(conns, auth, Buffers.allocator());
        try {
            FsInfo info = await(nfs.fsinfo(root), "FSINFO");
            LOG.debug("mounted {}:{} (rtmax {}, wtmax {})", url.host(), export, info.rtmax(), info.wtmax());
            return new NfsSession(url, nfs, export, root, info);
        } catch (IOException | RuntimeException e) {
            nfs.close();
            throw e;
        }
    }

    /**
     * No answer (as opposed to a refusal, after which another export candidate may still work). Only a soft
     * URL gives up on it at once: it asked for the bound; a hard one keeps trying the other candidates.
     */
    private static boolean unreachable(BlockDeviceException e) {
        return e.error() == BlockError.ETIMEDOUT || e.error() == BlockError.ESHUTDOWN;
    }

    private static RpcClient client(NfsUrl url, int port, String what, RpcClientConfig config, EventLoopGroup group) {
        InetSocketAddress address = new InetSocketAddress(url.host(), port);
        RpcConnector tcp = RpcConnector.tcp(address, group);
        RpcConnector dom0Buffers = init -> tcp.connect(new io.netty.channel.ChannelInitializer<>() {
            @Override
            protected void initChannel(io.netty.channel.Channel ch) {
                // Replies (READ data handed to frontends) land in dom0's pooled direct memory.
                ch.config().setOption(ChannelOption.ALLOCATOR, Buffers.allocator());
                ch.pipeline().addLast(init);
            }
        });
        return new RpcClient(what + "@" + url.host() + ":" + port, dom0Buffers, config, Buffers.allocator(),
                group.next());
    }

    static boolean isPrefix(String export, String path) {
        if (export.equals("/")) {
            return true;
        }
        return path.equals(export) || path.startsWith(export + "/");
    }

    static String parent(String p) {
        int slash = p.lastIndexOf('/');
        return slash <= 0 ? "/" : p.substring(0, slash);
    }

    /** Waits for a setup step, unwrapping its failure into a BlockDeviceException. */
    public static <T> T await(CompletableFuture<T> f, String what) throws BlockDeviceException {
        try {
            return f.get(SETUP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            if (c instanceof BlockDeviceException b) {
                // Name the whole step (for example the full path being looked up), keeping the error kind.
                throw b.getMessage() != null && b.getMessage().startsWith(what) ? b
                        : new BlockDeviceException(b.error(), what + ": " + b.getMessage(), b);
            }
            if (c instanceof XdrException x) {
                throw new BlockDeviceException(BlockError.EIO, what + ": malformed reply: " + x.getMessage(), x);
            }
            throw new BlockDeviceException(BlockError.EIO, what + " failed: " + c, c);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new BlockDeviceException(BlockError.ETIMEDOUT, what + ": no answer within " + SETUP_TIMEOUT.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockError.EIO, what + " interrupted");
        }
    }

    public NfsUrl url() {
        return url;
    }

    public Nfs3Client nfs() {
        return nfs;
    }

    public FileHandle root() {
        return root;
    }

    public FsInfo fsinfo() {
        return fsinfo;
    }

    public String exportPath() {
        return exportPath;
    }

    /** LOOKUPs an absolute server path below the export, component by component. */
    public CompletableFuture<LookupResult> lookup(String absolutePath) {
        String rel = absolutePath.equals(exportPath) ? "" : absolutePath.substring(exportPath.equals("/") ? 1
                : exportPath.length() + 1);
        CompletableFuture<LookupResult> f = CompletableFuture.completedFuture(new LookupResult(root, null));
        if (rel.isEmpty()) {
            return f.thenCompose(r -> nfs.getattr(root).thenApply(a -> new LookupResult(root, a)));
        }
        for (String component : rel.split("/")) {
            if (component.isEmpty()) {
                continue;
            }
            f = f.thenCompose(dir -> nfs.lookup(dir.handle(), component));
        }
        return f;
    }

    @Override
    public void close() {
        nfs.close();
    }
}
