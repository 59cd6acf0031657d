# Scenario 7: Linux's own blkback (xen-blkback) serving the `defaults` workload from a loop device, as a
# reference in the same boot. The nodes are the ones xl's block hotplug script leaves: physical-device
# (major:minor in hex) is what blkback waits for.
blkback_launch() {
  new_image /srv/blkback.raw
  losetup /dev/loop0 /srv/blkback.raw || { fail blkback "losetup failed"; return 1; }
  _seed=$(seed_of blkback)
  echo "blkback $_seed file:///srv/blkback.raw" > /tmp/blkback.scenario
  _d=$(create_guest blkback blkback 2 "" "$_seed") || { fail blkback "xl create failed"; return 1; }
  echo "$_d" > /tmp/blkback.domid
  be=/local/domain/0/backend/vbd/$_d/51712 fe=/local/domain/$_d/device/vbd/51712
  xenstore-write $be/frontend $fe $be/frontend-id "$_d" $be/params /dev/loop0 $be/type phy $be/mode w \
    $be/online 1 $be/state 1 $be/dev xvda \
    $fe/backend $be $fe/backend-id 0 $fe/virtual-device 51712 $fe/device-type disk $fe/state 1
  xenstore-chmod -r /local/domain/0/backend/vbd/$_d n0 r"$_d"
  xenstore-chmod -r /local/domain/$_d/device/vbd n"$_d" r0
  xenstore-write $be/physical-device 7:0
  xl unpause blkback
  lab "GUEST blkback domain $_d: blkback, 2 vCPU(s), blkfront defaults, /dev/loop0 (kernel blkback)"
}
blkback_finish() {
  wait_guest blkback 600
  _d=$(cat /tmp/blkback.domid)
  lab "BLKBACK nodes: $(xenstore-ls /local/domain/0/backend/vbd/$_d/51712 2>/dev/null | tr '\n' ' ' | cut -c1-600)"
  xenstore-write /local/domain/0/backend/vbd/$_d/51712/online 0
  wait_for 30 sh -c "[ \$(xenstore-read /local/domain/0/backend/vbd/$_d/51712/state) = 6 ]"
  xenstore-rm /local/domain/0/backend/vbd/$_d
  losetup -d /dev/loop0
  if ! guest_passed blkback; then fail blkback "guest: $(guest_line blkback RESULT)"; return; fi
  if _out=$(check_regions blkback /srv/blkback.raw "$(cut -d' ' -f2 /tmp/blkback.scenario)" 2>&1); then
    pass blkback "guest: $(guest_line blkback RESULT | cut -d' ' -f4-); dom0: image verified"
  else
    fail blkback "dom0 check: $_out"
  fi
}
