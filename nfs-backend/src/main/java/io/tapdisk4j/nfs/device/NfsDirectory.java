package io.tapdisk4j.nfs.device;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.FormatProvider;
import io.tapdisk4j.nfs.v3.DirEntry;
import io.tapdisk4j.nfs.v3.Fattr3;
import io.tapdisk4j.nfs.v3.LookupResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Directory listings of an NFS storage repository ({@code sr ls}): name, size and image format of each file. */
public final class NfsDirectory {

    private static final Logger LOG = LoggerFactory.getLogger(NfsDirectory.class);

    /** One file of the directory; {@code format} is "vhd", "raw", or "?" when it could not be read. */
    public record Vdi(String name, long size, String format) {
    }

    private NfsDirectory() {
    }

    /** The regular files of {@code directory}, sorted by name, with size and probed format. */
    public static List<Vdi> list(String directory) throws IOException {
        DeviceUri uri = DeviceUri.parse(directory);
        NfsUrl url = NfsUrl.parse(uri);
        List<Vdi> out = new ArrayList<>();
        try (NfsSession session = NfsSession.open(url, url.path())) {
            LookupResult dir = NfsSession.await(session.lookup(url.path()), "LOOKUP " + url.path());
            List<DirEntry> entries = NfsSession.await(session.nfs().readdirplus(dir.handle()), "READDIRPLUS " + url.path());
            entries.sort(Comparator.comparing(DirEntry::name));
            for (DirEntry e : entries) {
                if (e.name().equals(".") || e.name().equals("..")) {
                    continue;
                }
                LookupResult file = e.handle() != null && e.attributes() != null
                        ? new LookupResult(e.handle(), e.attributes())
                        : NfsSession.await(session.nfs().lookup(dir.handle(), e.name()), "LOOKUP " + e.name());
                Fattr3 a = file.attributes() != null ? file.attributes()
                        : NfsSession.await(session.nfs().getattr(file.handle()), "GETATTR " + e.name());
                if (a.type() != Fattr3.NF3REG) {
                    continue;
                }
                String child = url.path().equals("/") ? "/" + e.name() : url.path() + "/" + e.name();
                try (NfsBlockDevice dev = new NfsBlockDevice(session, false, child, file.handle(), a.size(), true)) {
                    out.add(new Vdi(e.name(), a.size(), format(dev)));
                }
            }
        }
        return out;
    }

    /** The directory's entries as the server lists them (including "." and ".."). */
    static List<DirEntry> entries(DeviceUri directory) throws IOException {
        NfsUrl url = NfsUrl.parse(directory);
        try (NfsSession session = NfsSession.open(url, url.path())) {
            LookupResult dir = NfsSession.await(session.lookup(url.path()), "LOOKUP " + url.path());
            List<DirEntry> all = NfsSession.await(session.nfs().readdirplus(dir.handle()), "READDIRPLUS " + url.path());
            all.removeIf(e -> e.name().equals(".") || e.name().equals(".."));
            return all;
        }
    }

    /**
     * The image format: whatever format module on the class path recognises it, else a VHD footer check
     * ("conectix" in the last 512 bytes, or the first 512 for a dynamic disk's footer copy), else raw.
     */
    static String format(BlockDevice dev) {
        try {
            FormatProvider f = BlockDevices.loadDefault().probe(dev);
            if (f != null) {
                return f.name();
            }
            if (dev.size() >= 512 && (hasVhdCookie(dev, dev.size() - 512) || hasVhdCookie(dev, 0))) {
                return "vhd";
            }
            return "raw";
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot read {} to tell its format: {}", dev.describe(), e.toString());
            return "?";
        }
    }

    private static boolean hasVhdCookie(BlockDevice dev, long offset) throws IOException {
        ByteBuf b = NfsSession.await(dev.read(offset, 8), "READ " + dev.describe());
        try {
            return b.toString(StandardCharsets.US_ASCII).equals("conectix");
        } finally {
            b.release();
        }
    }
}
