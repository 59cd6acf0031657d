package io.tapdisk4j.safety.hostile;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.BufferedOutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A deliberately minimal NBD client on a blocking socket, so that tests can be exactly as well-behaved or
 * as hostile as they mean to be: fixed newstyle handshake with NBD_OPT_GO, simple replies only.
 */
final class RawNbdClient implements AutoCloseable {

    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;

    final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;
    private long cookie = 1;
    long size;

    final java.nio.channels.SocketChannel channel;

    RawNbdClient(int port) throws IOException {
        channel = java.nio.channels.SocketChannel.open(
                new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        socket = channel.socket();
        socket.setSoTimeout(20_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    }

    /** Reads the server greeting and answers with client flags. */
    void greet(int clientFlags) throws IOException {
        if (in.readLong() != NBDMAGIC || in.readLong() != IHAVEOPT) {
            throw new IOException("not a newstyle NBD server");
        }
        in.readUnsignedShort();
        out.writeInt(clientFlags);
        out.flush();
    }

    void option(int option, byte[] data) throws IOException {
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    /** The whole handshake for export {@code name}; after it the connection is in transmission. */
    RawNbdClient handshake(String name) throws IOException {
        greet(3);
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] go = new byte[4 + n.length + 2];
        java.nio.ByteBuffer.wrap(go).putInt(n.length).put(n).putShort((short) 0);
        option(7, go);
        while (true) {
            if (in.readLong() != OPTION_REPLY_MAGIC) {
                throw new IOException("bad option reply magic");
            }
            in.readInt();
            int type = in.readInt();
            int length = in.readInt();
            byte[] data = new byte[length];
            in.readFully(data);
            if (type == 3 && length >= 12 && data[0] == 0 && data[1] == 0) {
                size = java.nio.ByteBuffer.wrap(data, 2, 8).getLong();
            }
            if (type == 1) {
                return this;
            }
            if (type < 0) {
                throw new IOException("option GO refused: reply type 0x" + Integer.toHexString(type));
            }
        }
    }

    long request(int flags, int type, long offset, int length, byte[] payload) throws IOException {
        long c = cookie++;
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(c);
        out.writeLong(offset);
        out.writeInt(length);
        if (payload != null) {
            out.write(payload);
        }
        return c;
    }

    void flushOut() throws IOException {
        out.flush();
    }

    /** Reads one simple reply; returns its error, filling {@code data} when the reply carries data. */
    int reply(long expectedCookie, byte[] data) throws IOException {
        if (in.readInt() != SIMPLE_REPLY_MAGIC) {
            throw new IOException("bad reply magic");
        }
        int error = in.readInt();
        long c = in.readLong();
        if (c != expectedCookie) {
            throw new IOException("reply to cookie " + c + ", expected " + expectedCookie);
        }
        if (error == 0 && data != null) {
            in.readFully(data);
        }
        return error;
    }

    int write(long offset, byte[] data) throws IOException {
        long c = request(0, 1, offset, data.length, data);
        flushOut();
        return reply(c, null);
    }

    byte[] read(long offset, int length) throws IOException {
        long c = request(0, 0, offset, length, null);
        flushOut();
        byte[] data = new byte[length];
        int error = reply(c, data);
        if (error != 0) {
            throw new IOException("read failed: error " + error);
        }
        return data;
    }

    /** True when the server closed the connection (EOF or reset) before sending anything more. */
    boolean closedByServer() throws IOException {
        try {
            return in.read() == -1;
        } catch (java.net.SocketException reset) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
