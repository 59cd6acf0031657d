package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockDeviceViewTest {

    @Test
    void readOnlyViewSeesTheOwnersWritesRefusesItsOwnAndClosingItKeepsTheDeviceOpen() throws Exception {
        BlockDevice owner = BlockDevices.loadDefault().open("memory:?size=1M");
        BlockDevice view = BlockDeviceView.shared(owner, true);
        assertTrue(view.has(Capability.READ_ONLY));
        owner.write(0, Buffers.direct(512).writeZero(511).writeByte(7), false).get(10, TimeUnit.SECONDS);
        ByteBuf seen = view.read(0, 512).get(10, TimeUnit.SECONDS);
        try {
            assertEquals(7, seen.getByte(511));
        } finally {
            seen.release();
        }
        ByteBuf data = Buffers.direct(512).writeZero(512);
        ExecutionException e = assertThrows(ExecutionException.class, () -> view.write(0, data, false).get(10, TimeUnit.SECONDS));
        assertEquals(BlockError.EROFS, BlockDeviceException.errorOf(e));
        assertEquals(0, data.refCnt());
        assertEquals(BlockError.EROFS, BlockDeviceException.errorOf(assertThrows(ExecutionException.class,
                () -> view.discard(0, 512, false).get(10, TimeUnit.SECONDS))));
        view.close();
        ByteBuf still = owner.read(0, 512).get(10, TimeUnit.SECONDS);
        still.release();
        owner.close();
    }
}
