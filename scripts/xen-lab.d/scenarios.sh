# The lab's scenarios, sourced by dom0's /init (busybox sh) from /lab. Every scenario prints exactly one
#   LAB-RESULT <scenario> PASS|FAIL <detail>
# line on dom0's console, after checking the guest's own result line and, once the guest is gone, dom0's
# image byte for byte. Every wait has a deadline. /lab/only may name a subset (comma separated).
. /lab/workloads.sh
JAVA_OPTS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -XX:+UseSerialGC -Xss1m"
CTL_OPTS="$JAVA_OPTS -XX:TieredStopAtLevel=1 -Xmx64m"
CONSOLE=/var/log/xen/console
ONLY=$(cat /lab/only 2>/dev/null)
now() { cut -d. -f1 /proc/uptime; }
lab() { echo "LAB-$*"; }
wanted() { [ -z "$ONLY" ] || echo ",$ONLY," | grep -q ",$1,"; }
pass() { lab "RESULT $1 PASS $2"; }
fail() { lab "RESULT $1 FAIL $2"; }
wait_for() { # wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 when the deadline passes
  _n=$(($1 * 5)); shift
  while ! "$@" >/dev/null 2>&1; do _n=$((_n - 1)); [ $_n -gt 0 ] || return 1; sleep 0.2; done
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
  java $JAVA_OPTS -Xmx384m -XX:MaxDirectMemorySize=512m -jar /lab/tapdisk4j.jar serve --xen --drain-timeout 10 \
    "$@" >> /var/log/tapdisk4j.log 2>&1 &
  daemon_pid=$!
  if wait_for 180 test -S /run/tapdisk4j/control.sock; then
    lab "DAEMON started pid $daemon_pid in $(($(now) - _t))s"
  else
    lab "DAEMON did not start within 180s"; tail -20 /var/log/tapdisk4j.log
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
kernel = "/lab/vmlinuz"
ramdisk = "/lab/guest.cpio.gz"
memory = 160
vcpus = ${3:-1}
extra = "console=hvc0 quiet lab.w=$2 lab.bf=$4 lab.seed=${5:-1} lab.t=${GUEST_T:-300}"
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
  grep -a '^LAB-\|blkfront\|xen-blkfront\|blk_\|I/O error\|WARNING\|BUG' "$CONSOLE/guest-$1.log" 2>/dev/null | tr -d '\r' \
    | sed "s/^/LAB-GUEST $1: /" | head -60
}
guest_passed() { guest_line "$1" RESULT | grep -q " PASS"; }
# launch SCENARIO WORKLOAD VCPUS BLKFRONT-PARAMS URI [ATTACH-ARGS...]: create paused, attach, unpause
launch() {
  _s=$1 _w=$2 _v=$3 _bf=$4 _uri=$5; shift 5
  _seed=$(echo "$_s" | cksum | cut -d' ' -f1)
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
    *) echo "no dom0 check for $_uri"; return 1 ;;
  esac
}
# finish SCENARIO [SECONDS]: waits for the guest, detaches its disk (ctl detach), checks guest and image
finish() {
  wait_guest "$1" "${2:-600}"
  _d=$(domid_of "$1")
  lab "DEVICE $1: $(ctl list | awk -v d="$_d" '$1 == d')"
  if ! guest_passed "$1"; then fail "$1" "guest: $(guest_line "$1" RESULT)"; ctl detach "$_d" xvda; return; fi
  ctl detach "$_d" xvda >/dev/null
  _seed=$(guest_line "$1" RESULT | sed -n 's/.*seed=\([0-9]*\).*/\1/p')
  if _out=$(image_check "$1" "$_seed" 2>&1); then
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
if wanted defaults; then new_image /srv/defaults.raw; launch defaults defaults 2 "" file:///srv/defaults.raw; fi
if wanted ring-order; then
  new_image /srv/ring-order.raw
  launch ring-order ring-order 1 max_ring_page_order=3:max_indirect_segments=11 file:///srv/ring-order.raw
fi
if wanted blkback; then . /lab/blkback.sh; blkback_launch; fi
wanted defaults && finish defaults
wanted ring-order && finish ring-order
wanted blkback && blkback_finish

# 2 + 4: every data path on real gntdev, four guests at once on one daemon
for p in copy map-copy persistent unsafe-map; do
  if wanted "datapath-$p"; then
    new_image "/srv/datapath-$p.raw"
    launch "datapath-$p" small 1 max_indirect_segments=11 "file:///srv/datapath-$p.raw" --data-path "$p"
  fi
done
for p in copy map-copy persistent unsafe-map; do wanted "datapath-$p" && finish "datapath-$p"; done

lab "DAEMON log:"; grep -v '^\s*at \|^$' /var/log/tapdisk4j.log | tail -60 | sed 's/^/LAB-DAEMONLOG /'
stop_daemon
lab "SCENARIOS end $(now)"
