package io.tapdisk4j.app;

import io.tapdisk4j.block.Sizes;
import picocli.CommandLine;

/** Sizes such as 256M or 1G for long options. */
final class LongSizeConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return Sizes.parse(value);
    }
}
