# Sourced by scripts/xen-lab with $t (the tree to fill), $KVER, $XENBIN and copy_elves: the parts of dom0
# that come from Debian packages. Its hash is part of the cache key, so editing it rebuilds the base.
mkdir -p "$t"/{bin,sbin,usr/bin,usr/sbin,etc/xen,lib/modules/lab,proc,sys,dev,run,tmp,srv,var/lib/xen,var/log/xen}
cp /bin/busybox "$t/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$t/bin/$a" ] || ln -s busybox "$t/bin/$a"; done
copy_elves "$t" "$XENBIN"/xl "$XENBIN"/xenstored "$XENBIN"/xenconsoled "$XENBIN"/xen-init-dom0 \
  "$XENBIN"/libxl-save-helper /usr/bin/xenstore /usr/sbin/nbd-client
for l in /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 /lib/x86_64-linux-gnu/libgcc_s.so.1; do
  [ -f "$l" ] && { mkdir -p "$t$(dirname "$l")"; cp -L "$l" "$t$l"; break; }
done
for a in read write ls rm chmod watch list exists; do ln -s xenstore "$t/usr/bin/xenstore-$a"; done
m=/lib/modules/$KVER/kernel
for k in drivers/xen/xen-evtchn drivers/xen/xen-gntdev drivers/xen/xen-gntalloc drivers/xen/xen-privcmd \
         drivers/xen/xenfs/xenfs drivers/block/xen-blkback/xen-blkback drivers/block/loop drivers/block/nbd; do
  cp "$m/$k.ko" "$t/lib/modules/lab/"
done
mkdir -p "$t/lab"
cp "/boot/vmlinuz-$KVER" "$t/lab/vmlinuz"
echo 'autoballoon="off"' > "$t/etc/xen/xl.conf"
echo 'root:x:0:0:root:/:/bin/sh' > "$t/etc/passwd"
echo 'root:x:0:' > "$t/etc/group"
