package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.iscsi.pdu.Pdu;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskTableTest {

    private static Task task(int lun) {
        return new Task(new ScsiCommand(lun, new byte[6], 0, null), new CompletableFuture<>());
    }

    @Test
    void tagsSkipThoseInUseHereAndElsewhere() {
        TaskTable table = new TaskTable();
        Task a = task(0);
        a.itt = table.allocate(itt -> false);
        assertEquals(1, a.itt);
        table.add(a);
        // Tag 2 belongs to a ping, say.
        int next = table.allocate(itt -> itt == 2);
        assertEquals(3, next);
    }

    @Test
    void tagsNeverZeroOrReservedAcrossTheWrap() {
        TaskTable table = new TaskTable(-3);
        Set<Integer> seen = new HashSet<>();
        // Across the wrap: 0xffffffff (-1) and 0 are skipped.
        assertEquals(-3, table.allocate(itt -> false));
        for (int i = 0; i < 3; i++) {
            int itt = table.allocate(x -> false);
            assertNotEquals(Pdu.RESERVED_TAG, itt);
            assertNotEquals(0, itt);
            assertTrue(seen.add(itt));
        }
        assertEquals(Set.of(-2, 1, 2), seen);
    }

    @Test
    void findsTasksByTagLunAndAge() {
        TaskTable table = new TaskTable();
        Task a = task(0);
        Task b = task(1);
        Task c = task(1);
        for (Task t : List.of(a, b, c)) {
            t.itt = table.allocate(x -> false);
            table.add(t);
        }
        a.sentNanos = 100;
        b.sentNanos = 900;
        c.sentNanos = 100;
        c.aborting = true;
        assertSame(b, table.get(b.itt));
        assertEquals(Set.of(b, c), new HashSet<>(table.onLun(1)));
        assertEquals(List.of(a), table.late(1000, 500), "late, and not already being aborted");
        assertTrue(table.holds(a));
        table.remove(a);
        assertFalse(table.holds(a));
        assertNull(table.get(a.itt));
        assertEquals(2, table.size());
        assertEquals(2, table.drain().size());
        assertTrue(table.isEmpty());
    }
}
