package io.tapdisk4j.app;

import io.tapdisk4j.block.Sizes;
import picocli.CommandLine;

/** Sizes such as 4K, 64KiB, 1M for int options. */
final class SizeConverter implements CommandLine.ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
        long v = Sizes.parse(value);
        if (v > Integer.MAX_VALUE) {
            throw new CommandLine.TypeConversionException("size too large: " + value);
        }
        return (int) v;
    }
}
