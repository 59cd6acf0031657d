package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.nfs.xdr.XdrEncoder;

import java.nio.charset.StandardCharsets;

/** The credential of an RPC call (RFC 5531 section 8 and 14): AUTH_NONE or AUTH_SYS. */
public sealed interface RpcAuth {

    int AUTH_NONE = 0;
    int AUTH_SYS = 1;

    /** Writes opaque_auth: flavor then body. */
    void encode(ByteBuf out);

    static RpcAuth none() {
        return None.INSTANCE;
    }

    static RpcAuth sys(int uid, int gid) {
        return new Sys(0, "tapdisk4j", uid, gid, new int[0]);
    }

    /** Encodes the empty AUTH_NONE verifier. */
    static void encodeNoneVerifier(ByteBuf out) {
        out.writeInt(AUTH_NONE);
        out.writeInt(0);
    }

    enum None implements RpcAuth {
        INSTANCE;

        @Override
        public void encode(ByteBuf out) {
            encodeNoneVerifier(out);
        }
    }

    /** AUTH_SYS (historically AUTH_UNIX): the server trusts the uid, gid and groups as sent. */
    record Sys(int stamp, String machineName, int uid, int gid, int[] groups) implements RpcAuth {
        public Sys {
            if (machineName.getBytes(StandardCharsets.UTF_8).length > 255) {
                throw new IllegalArgumentException("AUTH_SYS machine name longer than 255 bytes");
            }
            if (groups.length > 16) {
                throw new IllegalArgumentException("AUTH_SYS allows at most 16 groups");
            }
        }

        @Override
        public void encode(ByteBuf out) {
            out.writeInt(AUTH_SYS);
            int lengthAt = out.writerIndex();
            out.writeInt(0);
            out.writeInt(stamp);
            XdrEncoder.writeString(out, machineName);
            out.writeInt(uid);
            out.writeInt(gid);
            out.writeInt(groups.length);
            for (int g : groups) {
                out.writeInt(g);
            }
            out.setInt(lengthAt, out.writerIndex() - lengthAt - 4);
        }
    }
}
