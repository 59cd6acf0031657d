package io.tapdisk4j.rbd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The librados and librbd calls tapdisk4j makes, bound with the FFM API (signatures from Debian's librbd-dev
 * headers, librados.h and librbd.h of Ceph 16). Handles are {@code void *}; sizes are 64-bit (LP64 only).
 * Loading fails with a message naming the Debian package when the libraries are missing.
 */
final class Native {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBS = load();

    // One holder class per group of calls, initialised on first use: each distinct signature costs a generated
    // stub class and its method-handle forms when first linked. All 44 calls used to be linked together, 17
    // stubs in 0.08 s of a traced `vdi info rbd://` (2026-12-07); a command now links only the groups it uses
    // (vdi info: 13). The fields stay static final, so the calls are as fast as before.

    /** librados: the cluster connection and I/O contexts. */
    static final class Rados {
        static final MethodHandle RADOS_CREATE2 = h("rados_create2", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG);
        static final MethodHandle RADOS_CONF_READ_FILE = h("rados_conf_read_file", JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle RADOS_CONF_SET = h("rados_conf_set", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RADOS_CONF_GET = h("rados_conf_get", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG);
        static final MethodHandle RADOS_CONNECT = h("rados_connect", JAVA_INT, ADDRESS);
        static final MethodHandle RADOS_SHUTDOWN = hv("rados_shutdown", ADDRESS);
        static final MethodHandle RADOS_IOCTX_CREATE = h("rados_ioctx_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RADOS_IOCTX_DESTROY = hv("rados_ioctx_destroy", ADDRESS);
        static final MethodHandle RADOS_IOCTX_SET_NAMESPACE = hv("rados_ioctx_set_namespace", ADDRESS, ADDRESS);

        private Rados() {
        }
    }

    /** librbd: opening an image, its size, features and allocation. */
    static final class Image {
        static final MethodHandle RBD_OPEN = h("rbd_open", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_OPEN_READ_ONLY = h("rbd_open_read_only", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_CLOSE = h("rbd_close", JAVA_INT, ADDRESS);
        static final MethodHandle RBD_GET_SIZE = h("rbd_get_size", JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle RBD_GET_FEATURES = h("rbd_get_features", JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle RBD_GET_FLAGS = h("rbd_get_flags", JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle RBD_STAT = h("rbd_stat", JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
        static final MethodHandle RBD_DIFF_ITERATE2 = h("rbd_diff_iterate2", JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG,
                JAVA_BYTE, JAVA_BYTE, ADDRESS, ADDRESS);

        private Image() {
        }
    }

    /** librbd: asynchronous I/O and its completions. */
    static final class Aio {
        static final MethodHandle RBD_AIO_CREATE_COMPLETION = h("rbd_aio_create_completion", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_AIO_GET_RETURN_VALUE = h("rbd_aio_get_return_value", JAVA_LONG, ADDRESS);
        static final MethodHandle RBD_AIO_RELEASE = hv("rbd_aio_release", ADDRESS);
        static final MethodHandle RBD_AIO_READ = h("rbd_aio_read", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS);
        static final MethodHandle RBD_AIO_WRITE = h("rbd_aio_write", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS);
        static final MethodHandle RBD_AIO_DISCARD = h("rbd_aio_discard", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
        static final MethodHandle RBD_AIO_WRITE_ZEROES = h("rbd_aio_write_zeroes", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS,
                JAVA_INT, JAVA_INT);
        static final MethodHandle RBD_AIO_FLUSH = h("rbd_aio_flush", JAVA_INT, ADDRESS, ADDRESS);

        private Aio() {
        }
    }

    /** librbd: creating, removing, listing and resizing images; snapshots and clones. */
    static final class Admin {
        static final MethodHandle RBD_CREATE = h("rbd_create", JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
        static final MethodHandle RBD_REMOVE = h("rbd_remove", JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle RBD_RENAME = h("rbd_rename", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_LIST2 = h("rbd_list2", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_IMAGE_SPEC_LIST_CLEANUP = hv("rbd_image_spec_list_cleanup", ADDRESS, JAVA_LONG);
        static final MethodHandle RBD_RESIZE2 = h("rbd_resize2", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_BOOLEAN, ADDRESS, ADDRESS);
        static final MethodHandle RBD_SNAP_CREATE = h("rbd_snap_create", JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle RBD_SNAP_PROTECT = h("rbd_snap_protect", JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle RBD_SNAP_IS_PROTECTED = h("rbd_snap_is_protected", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_SNAP_EXISTS = h("rbd_snap_exists", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_SNAP_LIST = h("rbd_snap_list", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle RBD_SNAP_LIST_END = hv("rbd_snap_list_end", ADDRESS);
        static final MethodHandle RBD_IMAGE_OPTIONS_CREATE = hv("rbd_image_options_create", ADDRESS);
        static final MethodHandle RBD_IMAGE_OPTIONS_DESTROY = hv("rbd_image_options_destroy", ADDRESS);
        static final MethodHandle RBD_CLONE3 = h("rbd_clone3", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);

        private Admin() {
        }
    }

    /** {@code void (*rbd_callback_t)(rbd_completion_t cb, void *arg)}. */
    static final FunctionDescriptor COMPLETION_CALLBACK = FunctionDescriptor.ofVoid(ADDRESS, ADDRESS);
    /** {@code librbd_progress_fn_t}: {@code int (*)(uint64_t offset, uint64_t total, void *ptr)}. */
    static final FunctionDescriptor PROGRESS_CALLBACK = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS);
    /** {@code int (*cb)(uint64_t offset, size_t length, int exists, void *arg)} of rbd_diff_iterate2. */
    static final FunctionDescriptor DIFF_CALLBACK = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS);

    static final long FEATURE_LAYERING = 1L;
    static final long FEATURE_OBJECT_MAP = 1L << 3;
    static final long FEATURE_FAST_DIFF = 1L << 4;
    static final long FLAG_FAST_DIFF_INVALID = 1L << 1;

    private Native() {
    }

    /** An upcall stub for {@code target} (a static method) that lives as long as the process. */
    static MemorySegment upcall(MethodHandles.Lookup owner, String name, MethodType type, FunctionDescriptor descriptor) {
        try {
            MethodHandle target = owner.findStatic(owner.lookupClass(), name, type);
            return LINKER.upcallStub(target, descriptor, Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static SymbolLookup load() {
        try {
            SymbolLookup rados = SymbolLookup.libraryLookup("librados.so.2", Arena.global());
            SymbolLookup rbd = SymbolLookup.libraryLookup("librbd.so.1", Arena.global());
            return rbd.or(rados);
        } catch (IllegalArgumentException e) {
            throw new UnsupportedOperationException("rbd:// needs Ceph's client libraries: apt-get install librbd1 librados2", e);
        }
    }

    private static MethodHandle h(String name, java.lang.foreign.MemoryLayout ret, java.lang.foreign.MemoryLayout... args) {
        return LINKER.downcallHandle(symbol(name), FunctionDescriptor.of(ret, args));
    }

    private static MethodHandle hv(String name, java.lang.foreign.MemoryLayout... args) {
        return LINKER.downcallHandle(symbol(name), FunctionDescriptor.ofVoid(args));
    }

    private static MemorySegment symbol(String name) {
        return LIBS.find(name).orElseThrow(() -> new UnsupportedOperationException(
                name + " is missing from librbd/librados: Ceph 16 (pacific) or newer is needed"));
    }
}
