package io.tapdisk4j.nfs.device;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.nfs.v3.StableHow;
import io.tapdisk4j.nfs.v3.WriteResult;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Uncommitted-write tracking and the verifier protocol, against a scripted server rather than ganesha. */
class CommitCoordinatorTest {

    /** Answers WRITE and COMMIT with the current verifier, at once or when told to. */
    static final class ScriptedServer implements CommitCoordinator.Server {
        long verifier = 7;
        boolean holdWrites;
        final Deque<Long> commitVerifiers = new ArrayDeque<>();
        final List<String> calls = new ArrayList<>();
        final List<Runnable> held = new ArrayList<>();

        @Override
        public CompletableFuture<WriteResult> write(long offset, ByteBuf data, StableHow how) {
            int n = data.readableBytes();
            calls.add("WRITE " + offset + " " + data.getByte(data.readerIndex()) + " " + how);
            data.release();
            CompletableFuture<WriteResult> f = new CompletableFuture<>();
            Runnable answer = () -> f.complete(new WriteResult(n, how, verifier));
            if (holdWrites) {
                held.add(answer);
            } else {
                answer.run();
            }
            return f;
        }

        @Override
        public CompletableFuture<Long> commit() {
            calls.add("COMMIT");
            Long v = commitVerifiers.poll();
            return CompletableFuture.completedFuture(v != null ? v : verifier);
        }

        void answerHeld() {
            List<Runnable> now = new ArrayList<>(held);
            held.clear();
            now.forEach(Runnable::run);
        }
    }

    private final ScriptedServer server = new ScriptedServer();
    private final CommitCoordinator commits = new CommitCoordinator(server, "test", Long.MAX_VALUE);

    private static ByteBuf block(int fill) {
        ByteBuf b = Buffers.direct(512);
        for (int i = 0; i < 512; i++) {
            b.writeByte(fill);
        }
        return b;
    }

    private static void done(CompletableFuture<?> f) throws Exception {
        f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void unstableWritesAreHeldUntilCommitReturnsTheirVerifier() throws Exception {
        ByteBuf data = block(1);
        done(commits.write(0, data, false));
        assertEquals(1, commits.uncommittedWrites());
        assertEquals(512, commits.uncommittedBytes());
        assertEquals(1, data.refCnt(), "the buffer is kept for a resend");
        done(commits.flush());
        assertEquals(0, commits.uncommittedWrites());
        assertEquals(0, data.refCnt(), "released once durable");
        assertEquals(List.of("WRITE 0 1 UNSTABLE", "COMMIT"), server.calls);
    }

    @Test
    void fuaWritesAreNotTrackedUnlessTheyOverlapAnUncommittedOne() throws Exception {
        done(commits.write(0, block(1), true));
        assertEquals(0, commits.uncommittedWrites(), "FILE_SYNC needs no COMMIT");
        done(commits.write(1024, block(2), false));
        done(commits.write(1024, block(3), true));
        assertEquals(2, commits.uncommittedWrites(), "a FUA write over an uncommitted one joins the replay order");
        assertEquals(List.of("WRITE 0 1 FILE_SYNC", "WRITE 1024 2 UNSTABLE", "WRITE 1024 3 FILE_SYNC"), server.calls);
        done(commits.flush());
        assertEquals(0, commits.uncommittedWrites());
    }

    @Test
    void aFailedWriteIsForgottenAndItsBufferReleased() throws Exception {
        CommitCoordinator failing = new CommitCoordinator(new CommitCoordinator.Server() {
            @Override
            public CompletableFuture<WriteResult> write(long offset, ByteBuf data, StableHow how) {
                data.release();
                return CompletableFuture.failedFuture(new BlockDeviceException(BlockError.EIO, "disk on fire"));
            }

            @Override
            public CompletableFuture<Long> commit() {
                throw new AssertionError("nothing to commit");
            }
        }, "failing", Long.MAX_VALUE);
        ByteBuf data = block(1);
        ExecutionException e = assertThrows(ExecutionException.class, () -> done(failing.write(0, data, false)));
        assertEquals(BlockError.EIO, BlockDeviceException.errorOf(e));
        assertEquals(0, failing.uncommittedWrites());
        assertEquals(0, data.refCnt());
        done(failing.flush());
    }

    @Test
    void aChangedWriteVerifierResendsEveryUncommittedWriteInIssueOrderBeforeNewWrites() throws Exception {
        done(commits.write(0, block(1), false));
        done(commits.write(512, block(2), false));
        server.verifier = 8; // the server restarted
        server.holdWrites = true;
        CompletableFuture<Void> third = commits.write(1024, block(3), false);
        server.answerHeld(); // the reply carries the new verifier: the resend starts
        assertFalse(commits.gate().isDone(), "new writes wait while the old ones go out again");
        while (!server.held.isEmpty()) {
            server.answerHeld();
        }
        done(third);
        assertTrue(commits.gate().isDone());
        assertEquals(List.of("WRITE 0 1 UNSTABLE", "WRITE 512 2 UNSTABLE", "WRITE 1024 3 UNSTABLE",
                "WRITE 0 1 UNSTABLE", "WRITE 512 2 UNSTABLE", "WRITE 1024 3 UNSTABLE"), server.calls);
        assertEquals(3, commits.resentWrites());
        server.holdWrites = false;
        done(commits.flush());
        assertEquals(0, commits.uncommittedWrites());
    }

    @Test
    void aCommitWithANewVerifierResendsThenCommitsAgain() throws Exception {
        done(commits.write(0, block(1), false));
        server.verifier = 9;
        server.commitVerifiers.add(9L); // the first COMMIT reveals the restart
        done(commits.flush());
        assertEquals(List.of("WRITE 0 1 UNSTABLE", "COMMIT", "WRITE 0 1 UNSTABLE", "COMMIT"), server.calls);
        assertEquals(1, commits.resentWrites());
        assertEquals(0, commits.uncommittedWrites());
    }

    @Test
    void aVerifierThatKeepsChangingFailsTheFlushAndKeepsTheData() throws Exception {
        done(commits.write(0, block(1), false));
        for (long v = 100; v < 100 + CommitCoordinator.MAX_FLUSH_ROUNDS; v++) {
            server.commitVerifiers.add(v);
        }
        ExecutionException e = assertThrows(ExecutionException.class, () -> done(commits.flush()));
        assertEquals(BlockError.EIO, BlockDeviceException.errorOf(e));
        assertEquals(1, commits.uncommittedWrites(), "nothing is dropped that is not durable");
        assertEquals(1, commits.releaseAll());
    }

    @Test
    void heldBytesPastTheLimitStartABackgroundCommit() throws Exception {
        CommitCoordinator bounded = new CommitCoordinator(server, "bounded", 1024);
        done(bounded.write(0, block(1), false));
        assertEquals(List.of("WRITE 0 1 UNSTABLE"), server.calls);
        done(bounded.write(512, block(2), false));
        assertEquals("COMMIT", server.calls.getLast(), "1 KiB held: COMMIT without a flush");
        assertEquals(0, bounded.uncommittedWrites());
    }

    @Test
    void aClosingDeviceStartsNoBackgroundCommit() throws Exception {
        CommitCoordinator bounded = new CommitCoordinator(server, "closing", 512);
        bounded.closing();
        done(bounded.write(0, block(1), false));
        assertEquals(List.of("WRITE 0 1 UNSTABLE"), server.calls);
        assertEquals(1, bounded.releaseAll());
    }
}
