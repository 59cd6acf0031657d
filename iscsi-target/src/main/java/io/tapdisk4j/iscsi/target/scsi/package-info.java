/**
 * The SCSI side of the iSCSI target: one logical unit over a {@code BlockDevice} (SBC-3 block commands,
 * SPC-4 primary commands), a dispatcher by opcode and a class per command family. Knows nothing of iSCSI:
 * a command comes in as a CDB with its Data-Out buffer, a result goes out as status, sense and Data-In.
 */
package io.tapdisk4j.iscsi.target.scsi;
