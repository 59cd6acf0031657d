package io.tapdisk4j.ring.xenstore;

/** Message types of {@code enum xsd_sockmsg_type} in xen/io/xs_wire.h, with their wire numbers. */
public enum XsType {
    CONTROL(0),
    DIRECTORY(1),
    READ(2),
    GET_PERMS(3),
    WATCH(4),
    UNWATCH(5),
    TRANSACTION_START(6),
    TRANSACTION_END(7),
    INTRODUCE(8),
    RELEASE(9),
    GET_DOMAIN_PATH(10),
    WRITE(11),
    MKDIR(12),
    RM(13),
    SET_PERMS(14),
    WATCH_EVENT(15),
    ERROR(16),
    IS_DOMAIN_INTRODUCED(17),
    RESUME(18),
    SET_TARGET(19),
    // 20 was XS_RESTRICT, removed from Xen.
    RESET_WATCHES(21),
    DIRECTORY_PART(22);

    private static final XsType[] BY_CODE = new XsType[23];

    static {
        for (XsType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;

    XsType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The type for a wire number, or null for a number Xen does not define (the peer gets EINVAL). */
    public static XsType of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
