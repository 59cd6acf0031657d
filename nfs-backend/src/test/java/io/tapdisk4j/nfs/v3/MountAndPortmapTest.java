package io.tapdisk4j.nfs.v3;

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
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.peers.GaneshaExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Portmapper GETPORT (rpcbind) and MOUNT v3 EXPORT, MNT, UMNT (ganesha) over real connections. */
@ExtendWith(GaneshaExtension.class)
class MountAndPortmapTest {

    private final Ganesha ganesha;

    MountAndPortmapTest(Ganesha ganesha) {
        this.ganesha = ganesha;
    }

    private static RpcClient client(int port) {
        return new RpcClient("test@" + port, RpcConnector.tcp(new InetSocketAddress("127.0.0.1", port), EventLoops.shared()),
                RpcClientConfig.defaults().withTimeout(Duration.ofSeconds(2)).withSoft(Duration.ofSeconds(10)),
                Buffers.allocator(), EventLoops.shared().next());
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void getportFindsGaneshaAndRefusesUnknownPrograms() throws Exception {
        ganesha.ensureRegistered();
        try (RpcClient rpc = client(PortmapClient.PORT)) {
            PortmapClient pm = new PortmapClient(rpc, Buffers.allocator());
            assertEquals(ganesha.nfsPort(), get(pm.getPort(Nfs3Client.PROGRAM, 3)));
            assertEquals(ganesha.mountPort(), get(pm.getPort(MountClient.PROGRAM, 3)));
            ExecutionException e = assertThrows(ExecutionException.class, () -> get(pm.getPort(399999, 1)));
            assertTrue(e.getCause().getMessage().contains("not registered"), e.getCause().getMessage());
        }
    }

    @Test
    void exportMntUmnt() throws Exception {
        try (RpcClient rpc = client(ganesha.mountPort())) {
            MountClient mount = new MountClient(rpc, RpcAuth.sys(0, 0), Buffers.allocator());
            List<String> exports = get(mount.export());
            assertTrue(exports.contains(ganesha.export().toString()), exports.toString());
            FileHandle root = get(mount.mnt(ganesha.export().toString()));
            assertTrue(root.bytes().length > 0);
            get(mount.umnt(ganesha.export().toString()));
            ExecutionException e = assertThrows(ExecutionException.class, () -> get(mount.mnt("/no/such/export")));
            BlockDeviceException b = assertInstanceOf(BlockDeviceException.class, e.getCause());
            assertTrue(b.getMessage().contains("MNT3ERR"), b.getMessage());
            assertTrue(b.error() != BlockError.ESTALE);
        }
    }
}
