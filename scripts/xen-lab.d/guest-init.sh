#!/bin/sh
# The lab guest's /init (busybox): loads xen-blkfront with this test's parameters, runs the workload named on
# the kernel command line against /dev/xvda, verifies every byte it reads, prints one line
#   LAB-RESULT <name> PASS|FAIL <detail>
# on its console (dom0's xenconsoled logs it) and powers off. A watchdog makes a hung ring a FAIL, not a hang.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /workloads.sh
W=none BF= T=240 SEED=1
for a in $(cat /proc/cmdline); do
  case "$a" in
    lab.w=*) W=${a#lab.w=} ;;
    lab.bf=*) BF=$(echo "${a#lab.bf=}" | tr : ' ') ;;
    lab.t=*) T=${a#lab.t=} ;;
    lab.seed=*) SEED=${a#lab.seed=} ;;
  esac
done
# Each line also goes to the kernel log, which Xen's console shows too (earlyprintk=xen keep_bootcon).
say() { echo "LAB-$*"; echo "LAB-$*" > /dev/kmsg; }
# The watchdog is stopped before a result is printed: on a slow host it fired during poweroff, after a PASS.
result() { kill "$watchdog" 2>/dev/null; say "RESULT $W $*"; sync; poweroff -f; sleep 60; }
( sleep "$T"; say "RESULT $W FAIL watchdog: no result after ${T}s"; poweroff -f ) &
watchdog=$!
D=/dev/xvda
# shellcheck disable=SC2086
insmod /xen-blkfront.ko $BF || result FAIL "insmod xen-blkfront $BF failed"
wait_for() { # wait_for SECONDS COMMAND...: poll until COMMAND succeeds
  wend=$(($(cut -d. -f1 /proc/uptime) + $1)); shift
  while ! "$@" 2>/dev/null; do [ "$(cut -d. -f1 /proc/uptime)" -lt $wend ] || return 1; sleep 0.1; done
}
wait_for 300 test -b $D || result FAIL "no $D within 300s"
info() {
  q=$(ls /sys/block/xvda/mq 2>/dev/null | wc -l)
  echo "queues=$q max_segments=$(cat /sys/block/xvda/queue/max_segments)" \
    "max_hw_sectors_kb=$(cat /sys/block/xvda/queue/max_hw_sectors_kb) ro=$(cat /sys/block/xvda/ro)" \
    "sectors=$(cat /sys/block/xvda/size) discard_max=$(cat /sys/block/xvda/queue/discard_max_bytes)" \
    "write_cache=$(cat /sys/block/xvda/queue/write_cache | tr ' ' _) fua=$(cat /sys/block/xvda/queue/fua 2>/dev/null)"
}
io() { # io ARGS...: one blkio run; a failure ends the test with blkio's line
  out=$(blkio "$@" 2>&1) || result FAIL "$out"
  echo "$out"
}
say "INFO $W $(info)"
run_regions() { # runs every step of workload $1, then reads everything back once more
  regions "$1" > /tmp/regions
  while read -r op off len bs flags; do
    # shellcheck disable=SC2086
    case "$op" in
      data) io write $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags
            io verify $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags ;;
      buffered) io write $D -s "$SEED" -o "$off" -l "$len" -b "$bs"
            sync; echo 3 > /proc/sys/vm/drop_caches
            io verify $D -s "$SEED" -o "$off" -l "$len" -b $M -d ;;
      fsync) io write $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags -f
            io verify $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags ;;
      fua) io write $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags -u
            io verify $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags ;;
      discard) io write $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags
            [ "$(cat /sys/block/xvda/queue/discard_max_bytes)" != 0 ] || result FAIL "no discard: $(info)"
            out=$(blkdiscard -o "$off" -l "$len" $D 2>&1) || result FAIL "blkdiscard: $out"
            io zero $D -o "$off" -l "$len" -b "$bs" $flags ;;
      keep) io verify $D -s "$SEED" -o "$off" -l "$len" -b "$bs" $flags ;;
    esac
  done < /tmp/regions
  out=$(check_regions "$1" $D "$SEED" -d 2>&1) || result FAIL "read-back of everything: $out"
}
writer() { # writes and checks its region again and again, a new seed each pass, until dom0 leaves the stop
  # mark (scenarios.sh: stop_writer), and at least twice
  pass=0
  say "STARTED $W"
  while [ $pass -lt 2 ] || ! blkio verify $D -s 7 -o $((100 * M)) -l 4096 -b 4096 -d >/dev/null 2>&1; do
    pass=$((pass + 1)) SEED=$((SEED + 1))
    io write $D -s "$SEED" -o 0 -l $((16 * M)) -b 65536 -d >/dev/null
    io verify $D -s "$SEED" -o 0 -l $((16 * M)) -b 1048576 -d >/dev/null
    say "PASS $W $pass seed=$SEED"
  done
}
case "$W" in
  readonly)
    [ "$(cat /sys/block/xvda/ro)" = 1 ] || result FAIL "the disk is not read-only: $(info)"
    if out=$(blkio write $D -s 99 -o 0 -l 65536 -b 65536 -d 2>&1); then result FAIL "a write succeeded: $out"; fi
    say "WRITE-REFUSED $out"
    run_regions readonly
    result PASS "write refused ($out); $(info)" ;;
  reconnect)
    # A real reboot (the domain's on_reboot is "restart"): the first boot writes, leaves a mark and reboots;
    # the second boot, a new domain whose blkfront connects to the same image, finds the mark and reads back
    # everything the first boot wrote.
    MARK=$((120 * M))
    if blkio verify $D -s "$SEED" -o $MARK -l 4096 -b 4096 -d >/dev/null 2>&1; then
      out=$(check_regions reconnect $D "$SEED" -d 2>&1) || result FAIL "after the reboot: $out"
      result PASS "second boot read what the first wrote; seed=$SEED $(info)"
    fi
    run_regions reconnect
    io write $D -s "$SEED" -o $MARK -l 4096 -b 4096 -d >/dev/null
    say "REBOOTING $W"
    sync; reboot -f; sleep 60 ;;
  detach)
    run_regions detach
    say "READY $W"
    wait_for 240 sh -c "! test -e /sys/block/xvda" || result FAIL "the disk was not removed after detach"
    result PASS "disk removed after ctl detach" ;;
  writer)
    writer
    result PASS "passes=$pass seed=$SEED" ;;
  *)
    run_regions "$W"
    result PASS "$(info)" ;;
esac
