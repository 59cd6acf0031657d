# The lab's scenarios, sourced by dom0's /init (busybox sh) from /lab. Every scenario prints exactly one
#   LAB-RESULT <scenario> PASS|FAIL <detail>
# line on dom0's console, after checking the guest's own result line and, once the guest is gone, dom0's
# image byte for byte. Every wait has a deadline. /lab/only may name a subset (comma separated).
. /lab/workloads.sh
JAVA_OPTS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -XX:+UseSerialGC -Xss1m"
# The host trained a class-data archive of the app's classes (scripts/xen-lab): the JVM loads them mapped.
[ -f /lab/app.jsa ] && JAVA_OPTS="$JAVA_OPTS -XX:SharedArchiveFile=/lab/app.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
CTL_OPTS="$JAVA_OPTS -XX:TieredStopAtLevel=1 -Xmx64m"
CONSOLE=/var/log/xen/console
ONLY=$(cat /lab/only 2>/dev/null)
now() { cut -d. -f1 /proc/uptime; }
seed_of() { echo $((0x$(echo "$1" | md5sum | cut -c1-8))); }  # a scenario's pattern seed, from its name
lab() { echo "LAB-$*"; }
wanted() { [ -z "$ONLY" ] || echo ",$ONLY," | grep -q ",$1,"; }
pass() { lab "RESULT $1 PASS $2"; }
fail() { lab "RESULT $1 FAIL $2"; }
wait_for() { # wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 when the deadline passes
  _end=$(($(now) + $1)); shift
  while ! "$@" >/dev/null 2>&1; do [ "$(now)" -lt $_end ] || return 1; sleep 0.2; done
}
# The daemon's control socket through the lab's C client (a JVM per command costs 20 s to minutes under
# emulation); the same command lines `tapdisk4j ctl` sends. jctl runs the real `tapdisk4j ctl`.
ctl() {
  timeout 150 /lab/ctl /run/tapdisk4j/control.sock "$@"; _rc=$?
  lab "CTL $* -> rc=$_rc"
  return $_rc
}
jctl() {
  _t=$(now)
  lab "JCTL $* ..."
  # shellcheck disable=SC2086
  java $CTL_OPTS -jar /lab/tapdisk4j.jar ctl "$@"; _rc=$?
  lab "JCTL $* -> rc=$_rc in $(($(now) - _t))s"
  return $_rc
}
daemon_pid=
start_daemon() { # start_daemon [ARGS...]: one `tapdisk4j serve --xen`; waits for its control socket
  rm -f /run/tapdisk4j/control.sock
  _t=$(now)
  # shellcheck disable=SC2086
  java $JAVA_OPTS -XX:TieredStopAtLevel=1 -Xmx384m -XX:MaxDirectMemorySize=512m -jar /lab/tapdisk4j.jar serve --xen --drain-timeout 10 \
    "$@" >> /var/log/tapdisk4j.log 2>&1 &
  daemon_pid=$!
  if wait_for 900 test -S /run/tapdisk4j/control.sock; then
    lab "DAEMON started pid $daemon_pid in $(($(now) - _t))s"
  else
    lab "DAEMON did not start within 900s"; tail -20 /var/log/tapdisk4j.log
    return 1
  fi
}
stop_daemon() { # SIGTERM and wait for the process to end (bounded)
  kill "$daemon_pid" 2>/dev/null
  wait_for 60 sh -c "! kill -0 $daemon_pid" || { lab "DAEMON did not stop; killing"; kill -9 "$daemon_pid"; }
  wait "$daemon_pid" 2>/dev/null
}
# create_guest NAME WORKLOAD VCPUS BLKFRONT-PARAMS(colon separated) [SEED]: xl create -p; prints the domid
create_guest() {
  cat > "/tmp/$1.cfg" <<CFG
name = "$1"
kernel = "/lab/vmlinux"
ramdisk = "/lab/guest.cpio.gz"
memory = 160
vcpus = ${3:-1}
extra = "console=hvc0 earlyprintk=xen keep_bootcon loglevel=5 lab.w=$2 lab.bf=$4 lab.seed=${5:-1} lab.t=${GUEST_T:-900}"
on_poweroff = "destroy"
on_crash = "destroy"
on_reboot = "destroy"
CFG
  rm -f "$CONSOLE/guest-$1.log"
  xl create -p "/tmp/$1.cfg" >/dev/null 2>&1 || { xl create -p "/tmp/$1.cfg"; return 1; }
  xl domid "$1"
}
gone() { ! xl domid "$1" >/dev/null 2>&1; }
guest_line() { grep -a "^LAB-$2 " "$CONSOLE/guest-$1.log" 2>/dev/null | tail -1 | tr -d '\r'; }
# wait_guest NAME SECONDS: until the guest powered off (destroyed after the deadline); relays its lines
wait_guest() {
  if ! wait_for "$2" gone "$1"; then
    lab "GUEST $1 still running after $2s; destroying it"
    xl destroy "$1"
  fi
  [ -f "$CONSOLE/guest-$1.log" ] || lab "GUEST $1: no console log; $CONSOLE has: $(ls $CONSOLE | tr '\n' ' ')"
  grep -a '^LAB-\|blkfront\|xen-blkfront\|blk_\|I/O error\|WARNING\|BUG' "$CONSOLE/guest-$1.log" 2>/dev/null | tr -d '\r' \
    | sed "s/^/LAB-GUEST $1: /" | head -60
  guest_line "$1" RESULT | grep -q . || tail -n 25 "$CONSOLE/guest-$1.log" 2>/dev/null | tr -d '\r' \
    | sed "s/^/LAB-GUESTTAIL $1: /"
}
guest_passed() { guest_line "$1" RESULT | grep -q " PASS"; }
# launch SCENARIO WORKLOAD VCPUS BLKFRONT-PARAMS URI [ATTACH-ARGS...]: create paused, attach, unpause
launch() {
  _s=$1 _w=$2 _v=$3 _bf=$4 _uri=$5; shift 5
  _seed=$(seed_of "$_s")
  echo "$_w $_seed $_uri" > "/tmp/$_s.scenario"
  _d=$(create_guest "$_s" "$_w" "$_v" "$_bf" "$_seed") || { fail "$_s" "xl create failed"; return 1; }
  echo "$_d" > "/tmp/$_s.domid"
  ctl attach "$_d" xvda "$_uri" "$@" || { xl destroy "$_s"; fail "$_s" "ctl attach failed"; return 1; }
  xl unpause "$_s"
  lab "GUEST $_s domain $_d: $_w, $_v vCPU(s), blkfront ${_bf:-defaults}, $_uri $*"
}
domid_of() { cat "/tmp/$1.domid"; }
# image_check SCENARIO [SEED]: after the guest, read dom0's copy of the disk (raw: the file; vhd: through
# the daemon's nbd+unix export and dom0's kernel NBD client, scenario nbd-unix)
image_check() {
  read -r _w _seed _uri < "/tmp/$1.scenario"
  [ -n "${2:-}" ] && _seed=$2
  case "$_w" in writer*) _w=writer ;; esac
  case "$_uri" in
    file://*.raw) check_regions "$_w" "${_uri#file://}" "$_seed" ;;
    file://*.vhd) nbd_check "$1" "$_w" "$_seed" ;;
    *) echo "no dom0 check for $_uri"; return 1 ;;
  esac
}
# nbd_check SCENARIO WORKLOAD SEED (scenario 6): the daemon exports the VBD on a Unix socket, dom0's kernel
# NBD client makes it /dev/nbd0, and dom0 reads there what the guest wrote
nbd_check() {
  _d=$(domid_of "$1") _sock=/run/nbd-$1.sock
  ctl export "$_d/51712" "unix:$_sock" >/dev/null || { echo "ctl export failed"; return 1; }
  if ! _o=$(nbd-client -N "$_d-51712" -u "$_sock" /dev/nbd0 2>&1); then
    ctl unexport "$_d/51712" >/dev/null; echo "nbd-client: $_o"; return 1
  fi
  wait_for 30 test "$(cat /sys/block/nbd0/size 2>/dev/null || echo 0)" -gt 0
  _r=0; _o=$(check_regions "$2" /dev/nbd0 "$3" 2>&1) || _r=1
  if [ $_r = 0 ]; then
    pass nbd-unix "/dev/nbd0 ($(cat /sys/block/nbd0/size) sectors) from $_sock holds what guest $1 wrote"
  else
    fail nbd-unix "/dev/nbd0 from $_sock: $_o"
  fi
  nbd-client -d /dev/nbd0 >/dev/null 2>&1
  ctl unexport "$_d/51712" >/dev/null
  return $_r
}
# finish SCENARIO [SECONDS]: waits for the guest, detaches its disk (ctl detach), checks guest and image
finish() {
  wait_guest "$1" "${2:-600}"
  _d=$(domid_of "$1")
  lab "DEVICE $1: $(ctl list | awk -v d="$_d" '$1 == d')"
  if ! guest_passed "$1"; then
    grep "vbd3/$_d/" /var/log/tapdisk4j.log | tail -20 | sed "s/^/LAB-DAEMONLOG $1: /"
    fail "$1" "guest: $(guest_line "$1" RESULT)"; ctl detach "$_d" xvda; return
  fi
  _seed=$(guest_line "$1" RESULT | sed -n 's/.*seed=\([0-9]*\).*/\1/p')
  _out=$(image_check "$1" "$_seed" 2>&1); _rc=$?
  ctl detach "$_d" xvda >/dev/null
  if [ $_rc = 0 ]; then
    pass "$1" "guest: $(guest_line "$1" RESULT | cut -d' ' -f4-); dom0: image verified"
  else
    fail "$1" "dom0 check: $_out"
  fi
}
new_image() { rm -f "$1"; truncate -s "${2:-128M}" "$1"; }
wait_line() { # wait_line SCENARIO WORD SECONDS: until the guest printed LAB-WORD
  wait_for "$3" sh -c "grep -aq '^LAB-$2 ' $CONSOLE/guest-$1.log"
}
daemon_alive() { kill -0 "$daemon_pid" 2>/dev/null; }
device_phase() { ctl list --json 2>/dev/null | tr '{' '\n' | grep "\"domain\":$1," | sed -n 's/.*"phase":"\([^"]*\)".*/\1/p'; }

lab "SCENARIOS start $(now)"
start_daemon --allow-unsafe || { fail daemon "tapdisk4j serve --xen did not start"; return; }
export PATH=$PATH:/lab

# 1 + 7: blkfront's defaults (2 vCPUs: 2 queues, indirect descriptors), a larger ring, and Linux's blkback
# serving the same workload from a loop device, side by side
if wanted defaults; then
  new_image /srv/defaults.raw; launch defaults defaults 2 "" file:///srv/defaults.raw && finish defaults
fi
if wanted blkback; then . /lab/blkback.sh; blkback_launch && blkback_finish; fi
if wanted ring-order; then
  new_image /srv/ring-order.raw
  launch ring-order ring-order 1 max_ring_page_order=3:max_indirect_segments=11 file:///srv/ring-order.raw \
    && finish ring-order
fi

# 2 + 4: every data path on real gntdev, four guests at once on one daemon
for pair in "copy map-copy" "persistent unsafe-map"; do
  for p in $pair; do
    if wanted "datapath-$p"; then
      new_image "/srv/datapath-$p.raw"
      launch "datapath-$p" small 1 "" "file:///srv/datapath-$p.raw" --data-path "$p"
    fi
  done
  for p in $pair; do wanted "datapath-$p" && finish "datapath-$p"; done
done

# 3: flush and FUA, discard, a read-only VBD; 4 + 6: a VHD image, checked in dom0 through nbd+unix and the
# kernel's NBD client
if wanted flush; then new_image /srv/flush.raw; launch flush flush 1 "" file:///srv/flush.raw; fi
if wanted vhd; then cp /lab/empty.vhd /srv/vhd.vhd; launch vhd vhd 1 "" file:///srv/vhd.vhd; fi
wanted flush && finish flush
wanted vhd && finish vhd
if wanted readonly; then
  new_image /srv/readonly.raw
  blkio write /srv/readonly.raw -s "$(seed_of readonly)" -o 0 -l $((8 * M)) -b $M >/dev/null
  ro_sum=$(sha256sum /srv/readonly.raw | cut -c1-64)
  launch readonly readonly 1 "" file:///srv/readonly.raw --mode r
fi

# 5: blkfront reconnects (module reload: Closing, Closed, Initialising, Connected again)
if wanted reconnect; then new_image /srv/reconnect.raw; launch reconnect reconnect 1 "" file:///srv/reconnect.raw; fi
if wanted readonly; then
  finish readonly
  if [ "$(sha256sum /srv/readonly.raw | cut -c1-64)" = "$ro_sum" ]; then pass readonly-image "sha256 unchanged"
  else fail readonly-image "dom0's image changed"; fi
fi
wanted reconnect && finish reconnect

# 5: ctl detach while the guest runs: blkfront sees the backend close and removes its disk
if wanted detach; then
  new_image /srv/detach.raw
  launch detach detach 1 "" file:///srv/detach.raw
  if wait_line detach READY 600; then
    _o=$(ctl detach "$(domid_of detach)" xvda 2>&1) || lab "DETACH failed: $_o"
  fi
  wait_guest detach 300
  if guest_passed detach && check_regions detach /srv/detach.raw "$(cut -d' ' -f2 /tmp/detach.scenario)"; then
    pass detach "guest: $(guest_line detach RESULT | cut -d' ' -f4-); dom0: image verified"
  else
    fail detach "guest: $(guest_line detach RESULT)"
  fi
fi

# 5: two writers on one daemon: one is destroyed mid-I/O, the other is paused and resumed while it writes
if wanted destroy-mid-io || wanted pause-resume; then
  new_image /srv/destroy-mid-io.raw; new_image /srv/pause-resume.raw
  launch destroy-mid-io writer600 1 "" file:///srv/destroy-mid-io.raw
  launch pause-resume writer120 1 "" file:///srv/pause-resume.raw
  if wait_line destroy-mid-io STARTED 600 && wait_line pause-resume STARTED 600; then
    # 3 (FFM): the probe drives gntdev and evtchn into the hypervisor's errors against the live writer's ring
    _d=$(domid_of destroy-mid-io)
    _ref=$(xenstore-read /local/domain/$_d/device/vbd/51712/ring-ref 2>/dev/null \
      || xenstore-read /local/domain/$_d/device/vbd/51712/queue-0/ring-ref)
    # shellcheck disable=SC2086
    ( java $JAVA_OPTS -XX:TieredStopAtLevel=1 -cp /lab/tapdisk4j.jar:/lab/probe GrantProbe "$_d" "$_ref" \
        > /tmp/probe.out 2>&1; echo "rc=$?" >> /tmp/probe.out ) &
    _p=$(domid_of pause-resume)
    ctl pause "$_p/51712"
    _r1=$(ctl stats "$_p/51712" --json | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    sleep 20  # an observation window, not synchronization: nothing may be served while paused
    _r2=$(ctl stats "$_p/51712" --json | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    ctl resume "$_p/51712"
    lab "PAUSED pause-resume: requests $_r1 at pause, $_r2 20 s later"
    finish pause-resume 600
    if [ -n "$_r1" ] && [ "$_r1" = "$_r2" ]; then pass pause-held "$_r1 requests at pause, none served while paused"
    else fail pause-held "requests served while paused: $_r1 -> $_r2"; fi
    wait_for 600 grep -q '^rc=' /tmp/probe.out
    sed 's/^/LAB-PROBEOUT /' /tmp/probe.out | grep -v 'LAB-PROBEOUT LAB-' | head -20
    grep '^LAB-PROBE' /tmp/probe.out
    if grep -q '^rc=0' /tmp/probe.out; then pass ffm-probe "$(grep -c '^LAB-PROBE ok' /tmp/probe.out) checks held"
    else fail ffm-probe "$(grep '^LAB-PROBE FAIL\|^rc=' /tmp/probe.out | tr '\n' ' ')"; fi
    # 5: destroyed in the middle of its I/O; the daemon must close the device and keep serving
    wait_line destroy-mid-io PASS 300
    xl destroy destroy-mid-io
    if wait_for 120 sh -c "/lab/ctl /run/tapdisk4j/control.sock list | awk '\$1 == $_d' | grep -q CLOSED"; then
      _ph=closed
    else
      _ph="not closed: $(ctl list | awk -v d="$_d" '$1 == d')"
    fi
    if daemon_alive && [ "$_ph" = closed ] && ctl detach "$_d" xvda >/dev/null; then
      pass destroy-mid-io "guest destroyed mid-I/O; backend closed, released; daemon and dom0 kept serving"
    else
      fail destroy-mid-io "daemon alive: $(daemon_alive && echo yes || echo no); device $_ph"
    fi
  else
    fail destroy-mid-io "writers did not start"; xl destroy destroy-mid-io; xl destroy pause-resume
  fi
fi

# 5: the daemon restarts while its guest is paused (xl pause): the old daemon drains and unmaps, the new one
# finds the frontend still Connected, maps the same rings again and carries on from the ring's indices
if wanted daemon-restart; then
  new_image /srv/daemon-restart.raw
  launch daemon-restart writer60 1 "" file:///srv/daemon-restart.raw
  if wait_line daemon-restart PASS 900; then
    xl pause daemon-restart
    stop_daemon
    start_daemon --allow-unsafe || fail daemon-restart "the daemon did not start again"
    xl unpause daemon-restart
    finish daemon-restart 600
  else
    xl destroy daemon-restart; fail daemon-restart "the writer never completed a pass"
  fi
fi

lab "DAEMON log:"; grep -v '^\s*at \|^$' /var/log/tapdisk4j.log | tail -60 | sed 's/^/LAB-DAEMONLOG /'
stop_daemon
lab "SCENARIOS end $(now)"
