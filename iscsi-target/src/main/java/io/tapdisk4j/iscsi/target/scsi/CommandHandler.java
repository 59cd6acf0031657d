package io.tapdisk4j.iscsi.target.scsi;

import java.util.concurrent.CompletableFuture;

/** Executes the commands of one family; may throw {@link ScsiException} or complete exceptionally with it. */
@FunctionalInterface
public interface CommandHandler {
    CompletableFuture<ScsiResult> execute(ScsiRequest request);
}
