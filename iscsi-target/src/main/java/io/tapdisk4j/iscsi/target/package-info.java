/**
 * The iSCSI target (RFC 7143): one target per export with the device as LUN 0. The pipeline of a
 * connection is the shared PDU decoder and encoder (iscsi-protocol), then {@link
 * io.tapdisk4j.iscsi.target.TargetLoginHandler} for the login phase, which hands over to {@link
 * io.tapdisk4j.iscsi.target.FullFeatureHandler}. SCSI commands go to the {@code scsi} package.
 */
package io.tapdisk4j.iscsi.target;
