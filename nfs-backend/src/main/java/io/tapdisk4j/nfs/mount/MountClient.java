package io.tapdisk4j.nfs.mount;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.nfs.rpc.RpcAuth;
import io.tapdisk4j.nfs.rpc.RpcClient;
import io.tapdisk4j.nfs.v3.FileHandle;
import io.tapdisk4j.nfs.xdr.XdrDecoder;
import io.tapdisk4j.nfs.xdr.XdrEncoder;
import io.tapdisk4j.nfs.xdr.XdrException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** MOUNT version 3 (RFC 1813 section 5): MNT, UMNT and EXPORT. */
public final class MountClient {

    public static final int PROGRAM = 100005;
    public static final int VERSION = 3;
    public static final int PROC_MNT = 1;
    public static final int PROC_UMNT = 3;
    public static final int PROC_EXPORT = 5;
    private static final int MNTPATHLEN = 1024;
    private static final int MNTNAMLEN = 255;
    /** Bounds a hostile server's linked lists. */
    private static final int MAX_LIST = 65536;

    private final RpcClient rpc;
    private final RpcAuth auth;
    private final ByteBufAllocator alloc;

    public MountClient(RpcClient rpc, RpcAuth auth, ByteBufAllocator alloc) {
        this.rpc = rpc;
        this.auth = auth;
        this.alloc = alloc;
    }

    /** The root file handle of the export at {@code path}. */
    public CompletableFuture<FileHandle> mnt(String path) {
        ByteBuf args = alloc.buffer(path.length() + 8);
        XdrEncoder.writeString(args, path);
        return rpc.call(PROGRAM, VERSION, PROC_MNT, auth, args, x -> parseMnt(x, path));
    }

    public static FileHandle parseMnt(XdrDecoder x, String path) throws BlockDeviceException {
        int status = x.readInt();
        if (status != 0) {
            throw new BlockDeviceException(MountStatus.error(status), "mount of " + path + " refused: "
                    + MountStatus.name(status));
        }
        FileHandle fh = FileHandle.decode(x);
        int flavors = x.readInt();
        if (flavors < 0 || flavors > 64) {
            throw new XdrException("mount reply lists " + flavors + " auth flavors");
        }
        x.skip(4 * flavors, "auth flavors");
        return fh;
    }

    public CompletableFuture<Void> umnt(String path) {
        ByteBuf args = alloc.buffer(path.length() + 8);
        XdrEncoder.writeString(args, path);
        return rpc.call(PROGRAM, VERSION, PROC_UMNT, auth, args, x -> null);
    }

    /** The exported directories. */
    public CompletableFuture<List<String>> export() {
        return rpc.call(PROGRAM, VERSION, PROC_EXPORT, auth, alloc.buffer(0), MountClient::parseExports);
    }

    public static List<String> parseExports(XdrDecoder x) {
        List<String> dirs = new ArrayList<>();
        while (x.readBoolean()) {
            if (dirs.size() >= MAX_LIST) {
                throw new XdrException("export list longer than " + MAX_LIST);
            }
            dirs.add(x.readString(MNTPATHLEN, "export directory"));
            int groups = 0;
            while (x.readBoolean()) {
                if (++groups > MAX_LIST) {
                    throw new XdrException("export group list longer than " + MAX_LIST);
                }
                x.readString(MNTNAMLEN, "export group");
            }
        }
        return dirs;
    }
}
