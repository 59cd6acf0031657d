package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;

/**
 * One SCSI command on a connection, from its arrival to its response: what the initiator said about it
 * (tag, LUN, CDB, direction, expected length) and, for a write, the Data-Out gathered so far.
 */
final class Task {

    final int itt;
    final int cmdSN;
    final long lun;
    final byte[] cdb;
    final boolean read;
    final boolean write;
    final int expectedLength;
    /** Bytes of the session's buffer budget this task holds. */
    long budget;
    /** Set by ABORT TASK and resets: no response is sent when the device finishes. */
    boolean aborted;
    /** Data-Out gathered into one buffer (null until the first data arrives; writes only). */
    ByteBuf buffer;
    int received;
    /** Unsolicited data still expected (FirstBurstLength minus what came as immediate data). */
    int unsolicitedLeft;
    int nextDataSN;
    /** The R2T being answered: its transfer tag, end offset; -1 when none is outstanding. */
    int r2tTag = -1;
    int r2tEnd;
    int r2tCount;
    boolean executing;

    Task(int itt, int cmdSN, long lun, byte[] cdb, boolean read, boolean write, int expectedLength) {
        this.itt = itt;
        this.cmdSN = cmdSN;
        this.lun = lun;
        this.cdb = cdb;
        this.read = read;
        this.write = write;
        this.expectedLength = expectedLength;
    }

    void releaseBuffer() {
        if (buffer != null) {
            buffer.release();
            buffer = null;
        }
    }
}
