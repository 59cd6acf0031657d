package io.tapdisk4j.nbd;

/** The numbers of the NBD protocol (the NBD project's doc/proto.md), in one place. */
public final class NbdProtocol {

    private NbdProtocol() {
    }

    public static final long NBDMAGIC = 0x4e42444d41474943L;
    public static final long IHAVEOPT = 0x49484156454F5054L;
    public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // Handshake flags (server) and client flags.
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    public static final int FLAG_NO_ZEROES = 1 << 1;

    // Options.
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;
    public static final int OPT_EXTENDED_HEADERS = 11;

    // Option reply types.
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    public static final int REP_ERR = 0x80000000;
    public static final int REP_ERR_UNSUP = REP_ERR | 1;
    public static final int REP_ERR_POLICY = REP_ERR | 2;
    public static final int REP_ERR_INVALID = REP_ERR | 3;
    public static final int REP_ERR_PLATFORM = REP_ERR | 4;
    public static final int REP_ERR_TLS_REQD = REP_ERR | 5;
    public static final int REP_ERR_UNKNOWN = REP_ERR | 6;
    public static final int REP_ERR_SHUTDOWN = REP_ERR | 7;
    public static final int REP_ERR_BLOCK_SIZE_REQD = REP_ERR | 8;
    public static final int REP_ERR_TOO_BIG = REP_ERR | 9;

    // Info types.
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // Transmission flags.
    public static final int TF_HAS_FLAGS = 1;
    public static final int TF_READ_ONLY = 1 << 1;
    public static final int TF_SEND_FLUSH = 1 << 2;
    public static final int TF_SEND_FUA = 1 << 3;
    public static final int TF_ROTATIONAL = 1 << 4;
    public static final int TF_SEND_TRIM = 1 << 5;
    public static final int TF_SEND_WRITE_ZEROES = 1 << 6;
    public static final int TF_SEND_DF = 1 << 7;
    public static final int TF_CAN_MULTI_CONN = 1 << 8;
    public static final int TF_SEND_RESIZE = 1 << 9;
    public static final int TF_SEND_CACHE = 1 << 10;
    public static final int TF_SEND_FAST_ZERO = 1 << 11;

    // Commands.
    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;

    // Command flags.
    public static final int CMD_FLAG_FUA = 1;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    public static final int CMD_FLAG_DF = 1 << 2;
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // Structured reply chunks.
    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0;
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    public static final int REPLY_TYPE_OFFSET_HOLE = 2;
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    public static final int REPLY_TYPE_ERROR = (1 << 15) + 1;
    public static final int REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2;

    // Errors.
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    // base:allocation status flags.
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 1 << 1;

    public static final String BASE_ALLOCATION = "base:allocation";
    /** Prefix of qemu's dirty bitmap contexts, {@code qemu:dirty-bitmap:NAME} (value bit 0: dirty). */
    public static final String DIRTY_BITMAP = "qemu:dirty-bitmap:";

    /** Longest string (export name, description, context name) the protocol allows. */
    public static final int MAX_STRING = 4096;
    /** The default and conventional maximum payload (2^25). */
    public static final int DEFAULT_MAX_PAYLOAD = 32 * 1024 * 1024;
    public static final int REQUEST_HEADER = 28;
    public static final int SIMPLE_REPLY_HEADER = 16;
    public static final int STRUCTURED_REPLY_HEADER = 20;

    /** The NBD error number for a block-layer error, as the spec asks servers to map them. */
    public static int errno(io.tapdisk4j.block.BlockError e) {
        return switch (e) {
            case EPERM, EROFS, EACCES -> EPERM;
            case ENOMEM -> ENOMEM;
            case EINVAL -> EINVAL;
            case ENOSPC, EDQUOT, EFBIG -> ENOSPC;
            case EOVERFLOW -> EOVERFLOW;
            case ENOTSUP -> ENOTSUP;
            case ESHUTDOWN -> ESHUTDOWN;
            default -> EIO;
        };
    }

    /** The block-layer error for an NBD error number received from a server. */
    public static io.tapdisk4j.block.BlockError blockError(int errno) {
        return switch (errno) {
            case EPERM -> io.tapdisk4j.block.BlockError.EPERM;
            case ENOMEM -> io.tapdisk4j.block.BlockError.ENOMEM;
            case EINVAL -> io.tapdisk4j.block.BlockError.EINVAL;
            case ENOSPC -> io.tapdisk4j.block.BlockError.ENOSPC;
            case EOVERFLOW -> io.tapdisk4j.block.BlockError.EOVERFLOW;
            case ENOTSUP -> io.tapdisk4j.block.BlockError.ENOTSUP;
            case ESHUTDOWN -> io.tapdisk4j.block.BlockError.ESHUTDOWN;
            default -> io.tapdisk4j.block.BlockError.EIO;
        };
    }

    public static String optionName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "EXPORT_NAME";
            case OPT_ABORT -> "ABORT";
            case OPT_LIST -> "LIST";
            case OPT_STARTTLS -> "STARTTLS";
            case OPT_INFO -> "INFO";
            case OPT_GO -> "GO";
            case OPT_STRUCTURED_REPLY -> "STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT -> "LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT -> "SET_META_CONTEXT";
            case OPT_EXTENDED_HEADERS -> "EXTENDED_HEADERS";
            default -> "option " + option;
        };
    }

    public static String commandName(int type) {
        return switch (type) {
            case CMD_READ -> "READ";
            case CMD_WRITE -> "WRITE";
            case CMD_DISC -> "DISC";
            case CMD_FLUSH -> "FLUSH";
            case CMD_TRIM -> "TRIM";
            case CMD_CACHE -> "CACHE";
            case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
            default -> "command " + type;
        };
    }
}
