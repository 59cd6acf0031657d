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
  spawn_daemon "$@"; wait_daemon
}
spawn_daemon() { # spawn_daemon [ARGS...]: starts `tapdisk4j serve --xen` in the background
  rm -f /run/tapdisk4j/control.sock
  daemon_t=$(now)
  # shellcheck disable=SC2086
  java $JAVA_OPTS -XX:TieredStopAtLevel=1 -Xmx384m -XX:MaxDirectMemorySize=512m -jar /lab/tapdisk4j.jar serve --xen --drain-timeout 10 \
    "$@" >> /var/log/tapdisk4j.log 2>&1 &
  daemon_pid=$!
}
wait_daemon() { # until the daemon's control socket is there
  if wait_for 900 test -S /run/tapdisk4j/control.sock; then
    lab "DAEMON started pid $daemon_pid in $(($(now) - daemon_t))s"
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
memory = 128
vcpus = ${3:-1}
extra = "console=hvc0 earlyprintk=xen keep_bootcon loglevel=5 lab.w=$2 lab.bf=$4 lab.seed=${5:-1} lab.t=${GUEST_T:-900}"
on_poweroff = "destroy"
on_crash = "destroy"
on_reboot = "${ON_REBOOT:-destroy}"
CFG
  rm -f "$CONSOLE/guest-$1.log"
  xl create -p "/tmp/$1.cfg" >/dev/null 2>&1 || { xl create -p "/tmp/$1.cfg"; return 1; }
  xl domid "$1"
}
gone() { ! xl domid "$1" >/dev/null 2>&1; }
xl_log() { echo "/var/log/xen/xl-$1.log"; }  # the log of the xl process that watches guest NAME
# built_domid NAME: the domain xl last finished building for NAME (it logs "Waiting for domain NAME (domid
# N) to die" once a domain is complete; its name is in xenstore long before that)
built_domid() { grep -a "Waiting for domain $1 (domid" "$(xl_log "$1")" 2>/dev/null | tail -1 \
  | sed 's/.*(domid \([0-9]*\)).*/\1/'; }
rebuilt() { _b=$(built_domid "$1"); [ -n "$_b" ] && [ "$_b" != "$2" ]; }  # rebuilt NAME OLD-DOMID
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
launch() { prepare "$@" && go "$1"; }
# prepare: the paused domain only (needs no daemon); go SCENARIO: ctl attach, xl unpause
prepare() {
  _s=$1 _w=$2 _v=$3 _bf=$4 _uri=$5; shift 5
  _seed=$(seed_of "$_s")
  echo "$_w $_seed $_uri" > "/tmp/$_s.scenario"
  _d=$(create_guest "$_s" "$_w" "$_v" "$_bf" "$_seed") || { fail "$_s" "xl create failed"; return 1; }
  echo "$_uri $*" > "/tmp/$_s.attach"
  echo "$_d" > "/tmp/$_s.domid"
  lab "GUEST $_s domain $_d: $_w, $_v vCPU(s), blkfront ${_bf:-defaults}, $_uri $*"
}
go() {
  [ -f "/tmp/$1.attach" ] || return 0  # not prepared (not wanted), or no tapdisk4j disk (blkback)
  # shellcheck disable=SC2046
  ctl attach "$(domid_of "$1")" xvda $(cat "/tmp/$1.attach") || { xl destroy "$1"; fail "$1" "ctl attach failed"; return 1; }
  xl unpause "$1"
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
    file://*.vhd) nbd_check "$1" "$_w" "$_seed"; _r=$?; iscsi_check "$1" "$_w" "$_seed"; return $_r ;;
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
# iscsi_check SCENARIO WORKLOAD SEED (issue 21): the daemon exports the VBD over iSCSI on 127.0.0.1, Linux's
# kernel initiator (open-iscsi: iscsiadm, iscsid, iscsi_tcp) logs in, and dom0 reads the guest's data from
# the SCSI disk it gets. Prints its own result line (iscsi-kernel); returns 0.
iscsi_check() {
  wanted iscsi-kernel || return 0
  _d=$(domid_of "$1") _port=3260
  _uri=$(ctl export "$_d/51712" $_port --protocol iscsi 2>&1 | grep '^iscsi://')
  [ -n "$_uri" ] || { fail iscsi-kernel "ctl export $_d/51712 $_port --protocol iscsi failed"; return 0; }
  _iqn=$(echo "$_uri" | cut -d/ -f4)
  _o= _r=1 _sd=
  # iscsid in the foreground with its log in a file: dom0 has no syslog, and a failed login says why only there
  pgrep -x iscsid >/dev/null || { /sbin/iscsid -f -d 3 > /tmp/iscsid.log 2>&1 & }
  wait_for 30 test -S /run/iscsid.sock || wait_for 10 pgrep -x iscsid
  if ! _o=$(timeout 120 iscsiadm -m discovery -t sendtargets -p 127.0.0.1:$_port 2>&1); then _o="discovery: $_o"
  elif ! echo "$_o" | grep -q "$_iqn"; then _o="discovery did not list $_iqn: $_o"
  elif ! _o=$(timeout 120 iscsiadm -m node -T "$_iqn" -p 127.0.0.1:$_port --login 2>&1); then _o="login: $_o"
  elif ! wait_for 90 sh -c 'ls /sys/block | grep -q "^sd"'; then _o="no SCSI disk after login: $_o"
  else
    _sd=$(ls /sys/block | grep '^sd' | head -1)
    wait_for 30 test -b "/dev/$_sd"
    lab "ISCSI $_uri: /dev/$_sd $(cat /sys/block/$_sd/size) sectors, model $(cat /sys/block/$_sd/device/model 2>/dev/null)"
    _o=$(check_regions "$2" "/dev/$_sd" "$3" 2>&1) && _r=0
  fi
  if [ $_r = 0 ]; then pass iscsi-kernel "iscsiadm login to $_uri: /dev/$_sd holds what guest $1 wrote"
  else
    fail iscsi-kernel "$(echo "$_o" | tr '\n' ' ' | cut -c1-400)"
    dmesg | grep -i 'iscsi\|scsi\|sd ' | tail -15 | sed 's/^/LAB-DMESG /'
    grep -v '^$' /tmp/iscsid.log 2>/dev/null | tail -40 | sed 's/^/LAB-ISCSID /'
  fi
  timeout 60 iscsiadm -m node -T "$_iqn" -p 127.0.0.1:$_port --logout >/dev/null 2>&1
  ctl unexport "$_d/51712" >/dev/null
  return 0
}
# finish SCENARIO [SECONDS]: waits for the guest, detaches its disk (ctl detach), checks guest and image
finish() {
  wait_guest "$1" "${2:-600}"
  _d=$(domid_of "$1")
  lab "DEVICE $1: $(ctl list | awk -v d="$_d" '$1 == d')"
  if ! guest_passed "$1"; then
    grep "vbd3/$_d/" /var/log/tapdisk4j.log | tail -20 | sed "s/^/LAB-DAEMONLOG $1: /"
    tail -8 "$(xl_log "$1")" 2>/dev/null | sed "s/^/LAB-XL $1: /"
    fail "$1" "guest: $(guest_line "$1" RESULT)"; ctl detach "$_d" xvda; return
  fi
  _seed=$(guest_line "$1" RESULT | sed -n 's/.*seed=\([0-9]*\).*/\1/p')
  _out=$(image_check "$1" "$_seed" 2>&1); _rc=$?
  # the checks' own result lines (nbd-unix, iscsi-kernel) go to the console, the rest into this one's detail
  echo "$_out" | grep '^LAB-'
  _out=$(echo "$_out" | grep -v '^LAB-')
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
# device_phase DOMID: the phase of that domain's disk in the daemon (quietly, without a LAB-CTL line: polled)
device_phase() { timeout 30 /lab/ctl /run/tapdisk4j/control.sock list --json 2>/dev/null | tr '{' '\n' \
  | grep "\"domain\":$1," | sed -n 's/.*"phase":"\([^"]*\)".*/\1/p'; }
connected() { [ "$(device_phase "$1")" = connected ]; }

lab "SCENARIOS start $(now)"
# The daemon's JVM starts while xl builds the first guests (both take minutes of emulated CPU).
spawn_daemon --allow-unsafe
export PATH=$PATH:/lab
# The writers (lifecycle scenarios) loop until dom0 leaves this mark in their image (stop_writer).
STOP=$((100 * M))
stop_writer() { blkio write "/srv/$1.raw" -s 7 -o $STOP -l 4096 -b 4096 >/dev/null; }
passes() { guest_line "$1" PASS | cut -d' ' -f3; }  # the writer's last completed pass
# The guests run in parallel waves; daemon-restart, which stops the daemon under every guest, goes last.
w() { wanted "$1" || wanted "$2" || wanted "$3"; }
# prep SCENARIO: its image and its paused guest, when the scenario is wanted
prep() {
  case "$1" in
    defaults) wanted defaults && { new_image /srv/defaults.raw; prepare defaults defaults 2 "" file:///srv/defaults.raw; } ;;
    ring-order) wanted ring-order && { new_image /srv/ring-order.raw
      prepare ring-order ring-order 1 max_ring_page_order=3:max_indirect_segments=11 file:///srv/ring-order.raw; } ;;
    datapath-*) wanted "$1" && { new_image "/srv/$1.raw"
      prepare "$1" small 1 "" "file:///srv/$1.raw" --data-path "${1#datapath-}"; } ;;
    flush) wanted flush && { new_image /srv/flush.raw; prepare flush flush 1 "" file:///srv/flush.raw; } ;;
    vhd) w vhd nbd-unix iscsi-kernel && { cp /lab/empty.vhd /srv/vhd.vhd; prepare vhd vhd 1 "" file:///srv/vhd.vhd; } ;;
    readonly) w readonly readonly-image && { new_image /srv/readonly.raw
      blkio write /srv/readonly.raw -s "$(seed_of readonly)" -o 0 -l $((8 * M)) -b $M >/dev/null
      ro_sum=$(sha256sum /srv/readonly.raw | cut -c1-64)
      prepare readonly readonly 1 "" file:///srv/readonly.raw --mode r; } ;;
    # 5: a guest reboot (xl restarts the domain: on_reboot = "restart"); dom0 attaches the same image to the
    # new domain as a toolstack does, and the second boot's blkfront reads what the first wrote
    reconnect) wanted reconnect && { new_image /srv/reconnect.raw
      ON_REBOOT=restart; prepare reconnect reconnect 1 "" file:///srv/reconnect.raw; ON_REBOOT=; } ;;
    detach) wanted detach && { new_image /srv/detach.raw; prepare detach detach 1 "" file:///srv/detach.raw; } ;;
    blkback) wanted blkback && { . /lab/blkback.sh; blkback_launch; } ;;  # Linux's blkback: no daemon, no go
  esac
  return 0
}
# Waves of at most five guests: on 2 emulated cores more at once starve each other (soft lockups in their
# boot) past the lab's deadlines. The next wave is built while the last guests of this one are checked.
wave1="defaults ring-order datapath-copy datapath-map-copy"
wave2="datapath-persistent datapath-unsafe-map flush vhd blkback"
wave3="readonly reconnect detach"
for g in $wave1; do prep "$g"; done
wait_daemon || { fail daemon "tapdisk4j serve --xen did not start"; return; }
for g in $wave1; do go "$g"; done
lab "LAUNCHED wave 1 $(now)"
wanted defaults && finish defaults
wanted ring-order && finish ring-order
for g in $wave2; do prep "$g"; go "$g"; done
lab "LAUNCHED wave 2 $(now)"
for p in copy map-copy; do wanted "datapath-$p" && finish "datapath-$p"; done
for p in persistent unsafe-map; do wanted "datapath-$p" && finish "datapath-$p"; done
wanted blkback && blkback_finish
for g in $wave3; do prep "$g"; go "$g"; done
lab "LAUNCHED wave 3 $(now)"
wanted flush && finish flush
w vhd nbd-unix iscsi-kernel && finish vhd
if w readonly readonly-image; then
  finish readonly
  if [ "$(sha256sum /srv/readonly.raw | cut -c1-64)" = "$ro_sum" ]; then pass readonly-image "sha256 unchanged"
  else fail readonly-image "dom0's image changed"; fi
fi
# Wave 4, the lifecycle writers: they loop until stopped, beside reconnect and detach.
w destroy-mid-io ffm-probe && { new_image /srv/destroy-mid-io.raw; launch destroy-mid-io writer 1 "" file:///srv/destroy-mid-io.raw; }
w pause-resume pause-held && { new_image /srv/pause-resume.raw; launch pause-resume writer 1 "" file:///srv/pause-resume.raw; }
wanted daemon-restart && { new_image /srv/daemon-restart.raw; launch daemon-restart writer 1 "" file:///srv/daemon-restart.raw; }
lab "LAUNCHED wave 4 $(now)"

if wanted reconnect; then
  _old=$(domid_of reconnect)
  # Only the domain xl finished building: attaching and unpausing it while xl still built it raced xl's
  # restart under load, and the domain died without a line on its console.
  if wait_line reconnect REBOOTING 600 && wait_for 180 rebuilt reconnect "$_old"; then
    _new=$(built_domid reconnect)
    ctl detach "$_old" xvda >/dev/null
    echo "$_new" > /tmp/reconnect.domid
    ctl attach "$_new" xvda file:///srv/reconnect.raw >/dev/null || fail reconnect "ctl attach to the rebooted domain failed"
    xl unpause reconnect 2>/dev/null
    lab "GUEST reconnect rebooted: domain $_old -> $_new, same image attached again"
    finish reconnect
  else
    tail -20 "$(xl_log reconnect)" 2>/dev/null | sed 's/^/LAB-XL reconnect: /'
    xl destroy reconnect 2>/dev/null; fail reconnect "no reboot: $(guest_line reconnect RESULT)"
  fi
fi

# 5: ctl detach while the guest runs: blkfront sees the backend close and removes its disk
if wanted detach; then
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

# 5 + FFM: the probe drives gntdev and evtchn into the hypervisor's errors against a live writer's ring
if wanted ffm-probe; then
  if wait_line destroy-mid-io STARTED 600; then
    _d=$(domid_of destroy-mid-io)
    _ref=$(xenstore-read /local/domain/$_d/device/vbd/51712/ring-ref 2>/dev/null \
      || xenstore-read /local/domain/$_d/device/vbd/51712/queue-0/ring-ref)
    # shellcheck disable=SC2086
    ( java $JAVA_OPTS -XX:TieredStopAtLevel=1 -cp /lab/tapdisk4j.jar:/lab/probe GrantProbe "$_d" "$_ref" \
        > /tmp/probe.out 2>&1; echo "rc=$?" >> /tmp/probe.out ) &
    probe=$!
  else
    fail ffm-probe "the writer never started"
  fi
fi
# ctl pause / resume while a guest writes: nothing is served while paused, the writer goes on afterwards
if w pause-resume pause-held; then
  if wait_line pause-resume STARTED 600; then
    _p=$(domid_of pause-resume)
    ctl pause "$_p/51712"
    _n1=$(passes pause-resume)
    _r1=$(ctl stats "$_p/51712" --json | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    sleep 5  # an observation window, not synchronization: nothing may be served while paused
    _r2=$(ctl stats "$_p/51712" --json | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    ctl resume "$_p/51712"
    lab "PAUSED pause-resume: requests $_r1 at pause, $_r2 5 s later; writer at pass ${_n1:-0}"
    # two more passes after resume: the second one started after it
    wait_for 600 sh -c "[ \"\$(grep -a '^LAB-PASS ' $CONSOLE/guest-pause-resume.log | tail -1 | cut -d' ' -f3)\" -ge $((${_n1:-0} + 2)) ]" \
      || lab "pause-resume: the writer did not go on after resume"
    stop_writer pause-resume
    finish pause-resume 600
    if [ -n "$_r1" ] && [ "$_r1" = "$_r2" ]; then pass pause-held "$_r1 requests at pause, none served while paused"
    else fail pause-held "requests served while paused: $_r1 -> $_r2"; fi
  else
    fail pause-resume "the writer did not start"; xl destroy pause-resume
  fi
fi
if wanted ffm-probe && [ -n "${probe:-}" ]; then
  wait_for 600 grep -q '^rc=' /tmp/probe.out
  sed 's/^/LAB-PROBEOUT /' /tmp/probe.out | grep -v 'LAB-PROBEOUT LAB-' | head -20
  grep '^LAB-PROBE' /tmp/probe.out
  if grep -q '^rc=0' /tmp/probe.out; then pass ffm-probe "$(grep -c '^LAB-PROBE ok' /tmp/probe.out) checks held"
  else fail ffm-probe "$(grep '^LAB-PROBE FAIL\|^rc=' /tmp/probe.out | tr '\n' ' ')"; fi
fi
# 5: destroyed in the middle of its I/O; the daemon must close the device and keep serving
if wanted destroy-mid-io; then
  _d=$(domid_of destroy-mid-io)
  if wait_line destroy-mid-io PASS 600; then
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
    xl destroy destroy-mid-io; fail destroy-mid-io "the writer never completed a pass"
  fi
elif wanted ffm-probe; then
  xl destroy destroy-mid-io
fi

# 5: the daemon restarts while its guest is paused (xl pause): the old daemon drains and unmaps, the new one
# finds the frontend still Connected, maps the same rings again and carries on from the ring's indices
if wanted daemon-restart; then
  if wait_line daemon-restart PASS 900; then
    xl pause daemon-restart
    _n1=$(passes daemon-restart)
    stop_daemon
    start_daemon --allow-unsafe || fail daemon-restart "the daemon did not start again"
    # The old daemon left the backend Closed; blkfront reads the state when it runs again, so the guest
    # stays paused until the new daemon has mapped its rings and written Connected (else it closes its disk)
    wait_for 300 connected "$(domid_of daemon-restart)" \
      || lab "daemon-restart: the new daemon did not reconnect within 300 s: $(device_phase "$(domid_of daemon-restart)")"
    xl unpause daemon-restart
    wait_for 600 sh -c "[ \"\$(grep -a '^LAB-PASS ' $CONSOLE/guest-daemon-restart.log | tail -1 | cut -d' ' -f3)\" -ge $((_n1 + 2)) ]" \
      || lab "daemon-restart: the writer did not go on after the restart"
    stop_writer daemon-restart
    finish daemon-restart 600
  else
    xl destroy daemon-restart; fail daemon-restart "the writer never completed a pass"
  fi
fi

lab "DAEMON log:"; grep -v '^\s*at \|^$' /var/log/tapdisk4j.log | tail -60 | sed 's/^/LAB-DAEMONLOG /'
stop_daemon
lab "SCENARIOS end $(now)"
