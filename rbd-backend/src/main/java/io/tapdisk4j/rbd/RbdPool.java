package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** The images of a pool (and namespace), with size and used space: what {@code sr ls rbd://POOL} prints. */
public final class RbdPool {

    /** {@code used}: bytes in allocated RADOS objects (whole objects when the object map is valid), as {@code rbd du}. */
    public record Image(String name, long size, long used) {
    }

    /** rbd_image_spec_t: {char *id; char *name;}. */
    private static final long SPEC_SIZE = 16;

    private RbdPool() {
    }

    public static List<Image> list(String uri) throws BlockDeviceException {
        return list(DeviceUri.parse(uri));
    }

    public static List<Image> list(DeviceUri uri) throws BlockDeviceException {
        RbdUrl url;
        try {
            url = RbdUrl.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EINVAL, e.getMessage());
        }
        List<String> names = names(url);
        List<Image> out = new ArrayList<>();
        for (String name : names) {
            RbdUrl u = url.withImage(name, null);
            try (RbdImage image = RbdImage.open(RbdCluster.connect(u), true)) {
                long size = image.size();
                long used = 0;
                for (RbdDiff.Run r : image.diff(null, 0, size, image.fastDiff())) {
                    used += r.exists() ? r.length() : 0;
                }
                out.add(new Image(name, size, used));
            } catch (BlockDeviceException e) {
                if (e.error() != BlockError.EINVAL) { // removed while we listed: leave it out
                    throw e;
                }
            }
        }
        out.sort(Comparator.comparing(Image::name));
        return out;
    }

    private static List<String> names(RbdUrl url) throws BlockDeviceException {
        try (RbdCluster c = RbdCluster.connect(url); Arena a = Arena.ofConfined()) {
            MemorySegment max = a.allocate(ValueLayout.JAVA_LONG);
            for (long n = 64; ; n *= 4) {
                max.set(ValueLayout.JAVA_LONG, 0, n);
                MemorySegment specs = a.allocate(SPEC_SIZE * n, 8);
                int rc = (int) Native.Admin.RBD_LIST2.invokeExact(c.ioctx(), specs, max);
                if (rc == -RbdErrors.ERANGE) {
                    continue;
                }
                if (rc < 0) {
                    throw RbdErrors.op("cannot list the images of pool " + url.pool(), rc);
                }
                long count = max.get(ValueLayout.JAVA_LONG, 0);
                List<String> names = new ArrayList<>((int) count);
                for (long i = 0; i < count; i++) {
                    MemorySegment name = specs.get(ValueLayout.ADDRESS, i * SPEC_SIZE + 8);
                    names.add(name.reinterpret(Integer.MAX_VALUE).getString(0));
                }
                Native.Admin.RBD_IMAGE_SPEC_LIST_CLEANUP.invokeExact(specs, count);
                return names;
            }
        } catch (BlockDeviceException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
