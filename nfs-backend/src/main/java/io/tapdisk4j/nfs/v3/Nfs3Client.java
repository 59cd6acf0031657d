package io.tapdisk4j.nfs.v3;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.tapdisk4j.nfs.rpc.RpcAuth;
import io.tapdisk4j.nfs.rpc.RpcClient;
import io.tapdisk4j.nfs.xdr.XdrEncoder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * NFS version 3 procedures (RFC 1813 section 3) over one or more RPC connections (libnfs's and Linux's
 * {@code nconnect}): calls are spread round-robin.
 */
public final class Nfs3Client implements AutoCloseable {

    public static final int PROGRAM = 100003;
    public static final int VERSION = 3;
    public static final int NULL = 0, GETATTR = 1, SETATTR = 2, LOOKUP = 3, ACCESS = 4, READ = 6, WRITE = 7,
            CREATE = 8, REMOVE = 12, RENAME = 14, READDIRPLUS = 17, FSSTAT = 18, FSINFO = 19, COMMIT = 21;
    private static final int MAX_DIR_ENTRIES = 1 << 20;

    private final List<RpcClient> connections;
    private final RpcAuth auth;
    private final ByteBufAllocator alloc;
    private final AtomicInteger next = new AtomicInteger();

    public Nfs3Client(List<RpcClient> connections, RpcAuth auth, ByteBufAllocator alloc) {
        if (connections.isEmpty()) {
            throw new IllegalArgumentException("no connections");
        }
        this.connections = List.copyOf(connections);
        this.auth = auth;
        this.alloc = alloc;
    }

    public List<RpcClient> connections() {
        return connections;
    }

    private <T> CompletableFuture<T> call(int proc, ByteBuf args, RpcClient.ReplyParser<T> parser) {
        RpcClient c = connections.get(Math.floorMod(next.getAndIncrement(), connections.size()));
        return c.call(PROGRAM, VERSION, proc, auth, args, parser);
    }

    private ByteBuf handleArgs(FileHandle fh, int extra) {
        ByteBuf b = alloc.buffer(72 + extra);
        fh.encode(b);
        return b;
    }

    public CompletableFuture<Void> nullProc() {
        return call(NULL, alloc.buffer(0), x -> null);
    }

    public CompletableFuture<Fattr3> getattr(FileHandle fh) {
        return call(GETATTR, handleArgs(fh, 0), Nfs3Replies::getattr);
    }

    /** SETATTR changing only the size (truncate or extend). */
    public CompletableFuture<Fattr3> setSize(FileHandle fh, long size) {
        ByteBuf b = handleArgs(fh, 48);
        XdrEncoder.writeBoolean(b, false); // mode
        XdrEncoder.writeBoolean(b, false); // uid
        XdrEncoder.writeBoolean(b, false); // gid
        XdrEncoder.writeBoolean(b, true);
        XdrEncoder.writeHyper(b, size);
        b.writeInt(0); // atime: DONT_CHANGE
        b.writeInt(0); // mtime: DONT_CHANGE
        XdrEncoder.writeBoolean(b, false); // no guard
        return call(SETATTR, b, Nfs3Replies::setattr);
    }

    public CompletableFuture<LookupResult> lookup(FileHandle dir, String name) {
        ByteBuf b = handleArgs(dir, name.length() + 8);
        XdrEncoder.writeString(b, name);
        return call(LOOKUP, b, x -> Nfs3Replies.lookup(x, name));
    }

    public CompletableFuture<Integer> access(FileHandle fh, int mask) {
        ByteBuf b = handleArgs(fh, 4);
        b.writeInt(mask);
        return call(ACCESS, b, Nfs3Replies::access);
    }

    /** Creates a regular file with permission bits {@code mode}; {@code verifier} is used only for EXCLUSIVE. */
    public CompletableFuture<LookupResult> create(FileHandle dir, String name, CreateMode how, int mode, long verifier) {
        ByteBuf b = handleArgs(dir, name.length() + 64);
        XdrEncoder.writeString(b, name);
        b.writeInt(how.ordinal());
        if (how == CreateMode.EXCLUSIVE) {
            XdrEncoder.writeHyper(b, verifier);
        } else {
            XdrEncoder.writeBoolean(b, true);
            b.writeInt(mode);
            XdrEncoder.writeBoolean(b, false);
            XdrEncoder.writeBoolean(b, false);
            XdrEncoder.writeBoolean(b, true);
            XdrEncoder.writeHyper(b, 0); // size 0
            b.writeInt(1); // atime: SET_TO_SERVER_TIME
            b.writeInt(1); // mtime: SET_TO_SERVER_TIME
        }
        return call(CREATE, b, x -> Nfs3Replies.create(x, name)).thenCompose(r -> r.handle() != null
                ? CompletableFuture.completedFuture(r) : lookup(dir, name));
    }

    public CompletableFuture<Void> remove(FileHandle dir, String name) {
        ByteBuf b = handleArgs(dir, name.length() + 8);
        XdrEncoder.writeString(b, name);
        return call(REMOVE, b, x -> Nfs3Replies.remove(x, name));
    }

    /** Renames {@code fromName} in {@code fromDir} to {@code toName} in {@code toDir}, replacing a file there. */
    public CompletableFuture<Void> rename(FileHandle fromDir, String fromName, FileHandle toDir, String toName) {
        ByteBuf b = handleArgs(fromDir, fromName.length() + toName.length() + 88);
        XdrEncoder.writeString(b, fromName);
        toDir.encode(b);
        XdrEncoder.writeString(b, toName);
        return call(RENAME, b, x -> Nfs3Replies.rename(x, fromName, toName));
    }

    public CompletableFuture<ReadResult> read(FileHandle fh, long offset, int count) {
        ByteBuf b = handleArgs(fh, 12);
        XdrEncoder.writeHyper(b, offset);
        XdrEncoder.writeUnsignedInt(b, count);
        return call(READ, b, x -> Nfs3Replies.read(x, count));
    }

    /**
     * Writes the readable bytes of {@code data}; takes over one reference of it (kept, with the rest of the
     * call, until the reply arrives, for retransmission).
     */
    public CompletableFuture<WriteResult> write(FileHandle fh, long offset, ByteBuf data, StableHow stable) {
        int len = data.readableBytes();
        ByteBuf head = handleArgs(fh, 20);
        XdrEncoder.writeHyper(head, offset);
        XdrEncoder.writeUnsignedInt(head, len);
        head.writeInt(stable.ordinal());
        head.writeInt(len);
        CompositeByteBuf args = alloc.compositeDirectBuffer(3);
        args.addComponent(true, head);
        args.addComponent(true, data);
        int pad = XdrEncoder.padding(len);
        if (pad > 0) {
            args.addComponent(true, alloc.buffer(pad).writeZero(pad));
        }
        return call(WRITE, args, Nfs3Replies::write);
    }

    /** COMMITs {@code [offset, offset+count)} (count 0: to the end of the file); returns the write verifier. */
    public CompletableFuture<Long> commit(FileHandle fh, long offset, int count) {
        ByteBuf b = handleArgs(fh, 12);
        XdrEncoder.writeHyper(b, offset);
        XdrEncoder.writeUnsignedInt(b, count);
        return call(COMMIT, b, Nfs3Replies::commit);
    }

    public CompletableFuture<FsInfo> fsinfo(FileHandle root) {
        return call(FSINFO, handleArgs(root, 0), Nfs3Replies::fsinfo);
    }

    public CompletableFuture<FsStat> fsstat(FileHandle root) {
        return call(FSSTAT, handleArgs(root, 0), Nfs3Replies::fsstat);
    }

    /** Every entry of a directory, following READDIRPLUS cookies until EOF. */
    public CompletableFuture<List<DirEntry>> readdirplus(FileHandle dir) {
        List<DirEntry> entries = new ArrayList<>();
        return readdirFrom(dir, 0, 0, entries).thenApply(v -> entries);
    }

    private CompletableFuture<Void> readdirFrom(FileHandle dir, long cookie, long verf, List<DirEntry> entries) {
        ByteBuf b = handleArgs(dir, 24);
        XdrEncoder.writeHyper(b, cookie);
        XdrEncoder.writeHyper(b, verf);
        b.writeInt(8192); // dircount
        b.writeInt(65536); // maxcount
        int before = entries.size();
        return call(READDIRPLUS, b, x -> Nfs3Replies.readdirplus(x, entries, MAX_DIR_ENTRIES)).thenCompose(page -> {
            if (page.eof() || entries.size() == before) {
                return CompletableFuture.completedFuture(null);
            }
            return readdirFrom(dir, entries.getLast().cookie(), page.cookieVerifier(), entries);
        });
    }

    @Override
    public void close() {
        connections.forEach(RpcClient::close);
    }
}
