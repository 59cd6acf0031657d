package io.tapdisk4j.iscsi.target;

import io.tapdisk4j.iscsi.target.scsi.ScsiDispatcher;

/** What every connection of one target shares: configuration, sessions and the logical unit's dispatcher. */
record TargetContext(IscsiTargetConfig config, SessionRegistry sessions, ScsiDispatcher dispatcher) {
}
