package io.tapdisk4j.vhd;

import java.util.List;
import java.util.stream.Collectors;

/**
 * What {@code vdi info} reports. {@code allocated}: bytes holding data in this image alone (blocks of a
 * sparse VHD, data extents of a raw image); {@code chain}: this image first, then its parents.
 */
public record VdiInfo(String uri, String format, String type, long virtualSize, long allocated, long storageSize,
                      int blockSize, String uuid, String parent, List<String> chain) {

    /** No secret of any URI (a CHAP password) is shown: the output is redacted as a whole. */
    public String toJson() {
        return io.tapdisk4j.block.DeviceUri.redact("{\"uri\":" + q(uri) + ",\"format\":" + q(format) + ",\"type\":" + q(type)
                + ",\"virtual-size\":" + virtualSize + ",\"allocated\":" + allocated
                + ",\"storage-size\":" + storageSize + ",\"block-size\":" + blockSize
                + ",\"uuid\":" + q(uuid) + ",\"parent\":" + q(parent)
                + ",\"chain\":[" + chain.stream().map(VdiInfo::q).collect(Collectors.joining(",")) + "]}");
    }

    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append("uri:          ").append(uri).append('\n');
        b.append("format:       ").append(format).append(type == null ? "" : " (" + type + ")").append('\n');
        b.append("virtual size: ").append(virtualSize).append(" (").append(io.tapdisk4j.block.Sizes.format(virtualSize)).append(")\n");
        b.append("allocated:    ").append(allocated).append(" (").append(io.tapdisk4j.block.Sizes.format(allocated)).append(")\n");
        b.append("storage size: ").append(storageSize).append('\n');
        if (blockSize > 0) {
            b.append("block size:   ").append(blockSize).append('\n');
        }
        if (uuid != null) {
            b.append("uuid:         ").append(uuid).append('\n');
        }
        if (parent != null) {
            b.append("parent:       ").append(parent).append('\n');
        }
        b.append("chain:        ").append(String.join(" -> ", chain)).append('\n');
        return io.tapdisk4j.block.DeviceUri.redact(b.toString());
    }

    static String q(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
