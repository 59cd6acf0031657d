package io.tapdisk4j.ring.hv;

/** GNTST_* values of xen/grant_table.h and the grant entry flags (GTF_*). */
public final class GrantStatus {
    public static final int OKAY = 0;
    public static final int GENERAL_ERROR = -1;
    public static final int BAD_DOMAIN = -2;
    public static final int BAD_GNTREF = -3;
    public static final int BAD_HANDLE = -4;
    public static final int BAD_VIRT_ADDR = -5;
    public static final int BAD_DEV_ADDR = -6;
    public static final int NO_DEVICE_SPACE = -7;
    public static final int PERMISSION_DENIED = -8;
    public static final int BAD_PAGE = -9;
    public static final int BAD_COPY_ARG = -10;
    public static final int ADDRESS_TOO_BIG = -11;
    public static final int EAGAIN = -12;

    public static final int GTF_INVALID = 0;
    public static final int GTF_PERMIT_ACCESS = 1;
    public static final int GTF_TYPE_MASK = 3;
    public static final int GTF_READONLY = 4;

    private static final String[] NAMES = {"GNTST_okay", "GNTST_general_error", "GNTST_bad_domain",
            "GNTST_bad_gntref", "GNTST_bad_handle", "GNTST_bad_virt_addr", "GNTST_bad_dev_addr",
            "GNTST_no_device_space", "GNTST_permission_denied", "GNTST_bad_page", "GNTST_bad_copy_arg",
            "GNTST_address_too_big", "GNTST_eagain"};

    private GrantStatus() {
    }

    public static String name(int status) {
        return status <= 0 && -status < NAMES.length ? NAMES[-status] : "GNTST_" + status;
    }
}
