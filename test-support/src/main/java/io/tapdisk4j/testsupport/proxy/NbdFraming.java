package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * NBD (fixed newstyle) framing, both directions of one connection. A simple reply to a READ carries the
 * read data but not its length, so the request side records every request's cookie, type and length for
 * the reply side. Anything the decoder does not recognise (oldstyle, bytes after STARTTLS, garbage) is
 * passed on as a "raw" frame, unframed from then on: the proxy never stalls a stream it cannot parse.
 */
final class NbdFraming implements Framing {

    static final NbdFraming INSTANCE = new NbdFraming();

    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    static final int EXTENDED_REPLY_MAGIC = 0x6e8a278c;
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_STARTTLS = 5;
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int FLAG_PAYLOAD_LEN = 1 << 5;
    static final String[] COMMANDS = {"READ", "WRITE", "DISC", "FLUSH", "TRIM", "CACHE", "WRITE_ZEROES",
            "BLOCK_STATUS", "RESIZE"};

    @Override
    public String name() {
        return "nbd";
    }

    @Override
    public ConnectionFraming newConnection() {
        State state = new State();
        return direction -> direction == Direction.TO_SERVER ? new RequestDecoder(state) : new ReplyDecoder(state);
    }

    static String command(int type) {
        return type < COMMANDS.length ? "NBD_CMD_" + COMMANDS[type] : "NBD_CMD_" + type;
    }

    record Pending(int type, long length) {
    }

    /** Shared by the two decoders of one connection (both run on the connection's event loop). */
    static final class State {
        final Map<Long, Pending> requests = new ConcurrentHashMap<>();
        volatile boolean noZeroes;
        volatile boolean exportNameSent;
    }

    static final class RequestDecoder extends ByteToMessageDecoder {
        private final State state;
        private boolean flagsSeen;
        private boolean raw;

        RequestDecoder(State state) {
            this.state = state;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            while (in.isReadable()) {
                if (raw) {
                    out.add(new Frame(in.readRetainedSlice(in.readableBytes()), "raw", -1));
                    return;
                }
                int r = in.readerIndex();
                if (!flagsSeen) {
                    if (in.readableBytes() < 4) {
                        return;
                    }
                    state.noZeroes = (in.getInt(r) & 2) != 0;
                    flagsSeen = true;
                    out.add(new Frame(in.readRetainedSlice(4), "client-flags", -1));
                    continue;
                }
                if (in.readableBytes() < 8) {
                    return;
                }
                if (in.getLong(r) == IHAVEOPT) {
                    if (in.readableBytes() < 16) {
                        return;
                    }
                    int option = in.getInt(r + 8);
                    long length = in.getUnsignedInt(r + 12);
                    if (length > Integer.MAX_VALUE - 16) {
                        raw = true;
                        continue;
                    }
                    if (in.readableBytes() < 16 + length) {
                        return;
                    }
                    out.add(new Frame(in.readRetainedSlice(16 + (int) length), "NBD_OPT_" + option, option));
                    if (option == OPT_EXPORT_NAME) {
                        state.exportNameSent = true;
                    } else if (option == OPT_STARTTLS) {
                        raw = true;
                    }
                    continue;
                }
                int magic = in.getInt(r);
                if (magic == REQUEST_MAGIC || magic == EXTENDED_REQUEST_MAGIC) {
                    boolean extended = magic == EXTENDED_REQUEST_MAGIC;
                    int header = extended ? 32 : 28;
                    if (in.readableBytes() < header) {
                        return;
                    }
                    int flags = in.getUnsignedShort(r + 4);
                    int type = in.getUnsignedShort(r + 6);
                    long cookie = in.getLong(r + 8);
                    long length = extended ? in.getLong(r + 24) : in.getUnsignedInt(r + 24);
                    boolean payload = type == CMD_WRITE || (extended && (flags & FLAG_PAYLOAD_LEN) != 0);
                    long total = header + (payload ? length : 0);
                    if (length < 0 || total > Integer.MAX_VALUE) {
                        raw = true;
                        continue;
                    }
                    if (in.readableBytes() < total) {
                        return;
                    }
                    state.requests.put(cookie, new Pending(type, length));
                    out.add(new Frame(in.readRetainedSlice((int) total), command(type), cookie));
                    continue;
                }
                raw = true;
            }
        }
    }

    static final class ReplyDecoder extends ByteToMessageDecoder {
        private final State state;
        private boolean greetingSeen;
        private boolean exportInfoSeen;
        private boolean raw;

        ReplyDecoder(State state) {
            this.state = state;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            while (in.isReadable()) {
                if (raw) {
                    out.add(new Frame(in.readRetainedSlice(in.readableBytes()), "raw", -1));
                    return;
                }
                int r = in.readerIndex();
                if (!greetingSeen) {
                    if (in.readableBytes() < 18) {
                        return;
                    }
                    greetingSeen = true;
                    if (in.getLong(r) != NBDMAGIC || in.getLong(r + 8) != IHAVEOPT) {
                        raw = true; // oldstyle or not NBD at all
                        continue;
                    }
                    out.add(new Frame(in.readRetainedSlice(18), "greeting", -1));
                    continue;
                }
                if (state.exportNameSent && !exportInfoSeen) {
                    int length = state.noZeroes ? 10 : 134;
                    if (in.readableBytes() < length) {
                        return;
                    }
                    exportInfoSeen = true;
                    out.add(new Frame(in.readRetainedSlice(length), "export-info", -1));
                    continue;
                }
                if (in.readableBytes() < 4) {
                    return;
                }
                if (in.readableBytes() < 8 && in.getInt(r) == (int) (OPTION_REPLY_MAGIC >>> 32)) {
                    return; // the start of an option reply's 8-byte magic
                }
                if (in.readableBytes() >= 8 && in.getLong(r) == OPTION_REPLY_MAGIC) {
                    if (in.readableBytes() < 20) {
                        return;
                    }
                    int option = in.getInt(r + 8);
                    int type = in.getInt(r + 12);
                    long length = in.getUnsignedInt(r + 16);
                    if (length > Integer.MAX_VALUE - 20) {
                        raw = true;
                        continue;
                    }
                    if (in.readableBytes() < 20 + length) {
                        return;
                    }
                    out.add(new Frame(in.readRetainedSlice(20 + (int) length), "NBD_REP_" + (type & 0xffffffffL), option));
                    if (option == OPT_STARTTLS && type == 1) {
                        raw = true;
                    }
                    continue;
                }
                int magic = in.getInt(r);
                if (magic == SIMPLE_REPLY_MAGIC) {
                    if (in.readableBytes() < 16) {
                        return;
                    }
                    int error = in.getInt(r + 4);
                    long cookie = in.getLong(r + 8);
                    Pending p = state.requests.get(cookie);
                    long data = p != null && p.type == CMD_READ && error == 0 ? p.length : 0;
                    if (16 + data > Integer.MAX_VALUE) {
                        raw = true;
                        continue;
                    }
                    if (in.readableBytes() < 16 + data) {
                        return;
                    }
                    state.requests.remove(cookie);
                    out.add(new Frame(in.readRetainedSlice(16 + (int) data), "simple-reply", cookie));
                    continue;
                }
                if (magic == STRUCTURED_REPLY_MAGIC || magic == EXTENDED_REPLY_MAGIC) {
                    boolean extended = magic == EXTENDED_REPLY_MAGIC;
                    int header = extended ? 32 : 20;
                    if (in.readableBytes() < header) {
                        return;
                    }
                    int flags = in.getUnsignedShort(r + 4);
                    long cookie = in.getLong(r + 8);
                    long length = extended ? in.getLong(r + 24) : in.getUnsignedInt(r + 16);
                    if (length < 0 || header + length > Integer.MAX_VALUE) {
                        raw = true;
                        continue;
                    }
                    if (in.readableBytes() < header + length) {
                        return;
                    }
                    if ((flags & 1) != 0) {
                        state.requests.remove(cookie);
                    }
                    out.add(new Frame(in.readRetainedSlice(header + (int) length), "structured-reply", cookie));
                    continue;
                }
                raw = true;
            }
        }
    }
}
