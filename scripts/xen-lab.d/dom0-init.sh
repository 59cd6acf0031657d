#!/bin/sh
# The lab's dom0 /init: brings up the Xen control plane (modules, xenstored, xenconsoled), runs the scenarios
# in /lab/scenarios.sh and prints XENLAB-END, at which the host stops QEMU.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin:/opt/jdk/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run/xenstored /run/xen /var/log/xen/console /var/lib/xen /srv
mount -t devpts devpts /dev/pts
mount -t tmpfs -o size=1g tmpfs /srv
ln -s /run /var/run
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback loop nbd crct10dif_common crct10dif_generic crc-t10dif crc64 \
    crc64_rocksoft_generic crc64-rocksoft t10-pi crc32c_generic \
    scsi_common scsi_mod sd_mod scsi_transport_iscsi libiscsi libiscsi_tcp iscsi_tcp; do
  insmod /lib/modules/lab/$m.ko || echo "XENLAB-WARN insmod $m failed"
done
mount -t xenfs xenfs /proc/xen
ifconfig lo 127.0.0.1 up
xenstored --pid-file /run/xenstored.pid
n=100; while [ ! -S /run/xenstored/socket ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
xen-init-dom0
# dom0 serves every guest's I/O: weighted above the guests (as hosts do), so that many guests booting at
# once under emulation do not starve the backend they wait for
xl sched-credit2 -d Domain-0 -w 4096 >/dev/null 2>&1 || xl sched-credit -d Domain-0 -w 4096 >/dev/null 2>&1 \
  || echo "XENLAB-WARN could not raise dom0's scheduler weight"
xenconsoled --log=guest --log-dir=/var/log/xen/console || echo "XENLAB-WARN xenconsoled failed"
pidof xenconsoled >/dev/null || echo "XENLAB-WARN xenconsoled is not running"
echo "XENLAB-DOM0-READY $(cut -d' ' -f1 /proc/uptime)"
# A heartbeat on the console: when a run overruns its deadline, the serial log shows where it was.
( while sleep 30; do
    echo "XENLAB-HB $(cut -d' ' -f1 /proc/uptime) load $(cut -d' ' -f1-3 /proc/loadavg)" \
      "domains: $(xl list 2>/dev/null | awk 'NR > 2 { printf "%s(%s) ", $1, $5 }')" \
      "vbd3 states: $(for d in $(xenstore-list /local/domain/0/backend/vbd3 2>/dev/null); do
        printf '%s:be=%s,fe=%s ' "$d" "$(xenstore-read /local/domain/0/backend/vbd3/$d/51712/state 2>/dev/null)" \
          "$(xenstore-read /local/domain/$d/device/vbd/51712/state 2>/dev/null)"; done)"
  done ) &
hb=$!
cd /lab && . /lab/scenarios.sh
kill $hb
echo "XENLAB-END"
poweroff -f
