# Sourced by scripts/xen-lab with $t (the tree to fill), $KVER, $XENBIN and copy_elves: the parts of dom0
# that come from Debian packages. Its hash is part of the cache key, so editing it rebuilds the base.
mkdir -p "$t"/{bin,sbin,usr/bin,usr/sbin,etc/xen,lib/modules/lab,proc,sys,dev,run,tmp,srv,var/lib/xen,var/log/xen}
cp /bin/busybox "$t/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$t/bin/$a" ] || ln -s busybox "$t/bin/$a"; done
copy_elves "$t" "$XENBIN"/xl "$XENBIN"/xenstored "$XENBIN"/xenconsoled "$XENBIN"/xen-init-dom0 \
  "$XENBIN"/libxl-save-helper /usr/bin/xenstore /usr/sbin/nbd-client /sbin/iscsiadm /sbin/iscsid
for l in /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 /lib/x86_64-linux-gnu/libgcc_s.so.1; do
  [ -f "$l" ] && { mkdir -p "$t$(dirname "$l")"; cp -L "$l" "$t$l"; break; }
done
for a in read write ls rm chmod watch list exists; do ln -s xenstore "$t/usr/bin/xenstore-$a"; done
m=/lib/modules/$KVER/kernel
for k in drivers/xen/xen-evtchn drivers/xen/xen-gntdev drivers/xen/xen-gntalloc drivers/xen/xen-privcmd \
         drivers/xen/xenfs/xenfs drivers/block/xen-blkback/xen-blkback drivers/block/loop drivers/block/nbd \
         crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64 crypto/crc64_rocksoft_generic \
         lib/crc64-rocksoft block/t10-pi crypto/crc32c_generic drivers/scsi/scsi_common drivers/scsi/scsi_mod \
         drivers/scsi/sd_mod drivers/scsi/scsi_transport_iscsi drivers/scsi/libiscsi drivers/scsi/libiscsi_tcp \
         drivers/scsi/iscsi_tcp; do
  cp "$m/$k.ko" "$t/lib/modules/lab/"
done
mkdir -p "$t/lab"
# The guests' kernel as a plain ELF: xl would otherwise unpack the bzImage's xz payload in dom0 for every
# guest, which under emulation takes tens of seconds each. (Offsets from the x86 boot protocol header.)
k=/boot/vmlinuz-$KVER
setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$k" | tr -d ' '); [ "$setup" = 0 ] && setup=4
set -- $(od -An -tu4 -j $((0x248)) -N8 "$k")
tail -c +$(( (setup + 1) * 512 + $1 + 1 )) "$k" | head -c "$2" | xz -dc > "$t/lab/vmlinux" 2>/dev/null || true
[ "$(head -c 4 "$t/lab/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || cp "$k" "$t/lab/vmlinux"
echo 'autoballoon="off"' > "$t/etc/xen/xl.conf"
# open-iscsi (issue 21's kernel initiator): its own config, an initiator name, and its database directories
mkdir -p "$t/etc/iscsi/nodes" "$t/etc/iscsi/send_targets" "$t/etc/iscsi/ifaces" "$t/run/lock/iscsi"
# dom0 has no systemd: iscsiadm starts iscsid itself; NOP-Out timeouts sized for emulated time
sed -e 's|^iscsid.startup = .*|iscsid.startup = /sbin/iscsid|' \
    -e 's|^\(node.conn\[0\].timeo.noop_out_[a-z]*\) = .*|\1 = 30|' /etc/iscsi/iscsid.conf > "$t/etc/iscsi/iscsid.conf"
echo 'InitiatorName=iqn.2026-12.io.tapdisk4j:xen-lab-dom0' > "$t/etc/iscsi/initiatorname.iscsi"
echo 'root:x:0:0:root:/:/bin/sh' > "$t/etc/passwd"
echo 'root:x:0:' > "$t/etc/group"
