# The lab's workloads, shared by the guest (which runs them through blkfront, checking every byte it reads)
# and dom0 (which checks the image afterwards). One step per line: OP OFFSET LENGTH BLOCKSIZE BLKIO-FLAGS
#   data      write, then read back (guest); read back (dom0)
#   buffered  write through the page cache, sync, drop the cache, read back with O_DIRECT
#   fsync     write, fsync (a flush on the ring), read back
#   fua       O_DIRECT|O_DSYNC writes (FUA, or a flush after each, as blkfront negotiated), read back
#   discard   write, blkdiscard, expect zeroes (the file device punches a hole)
#   keep      dom0 wrote it before the guest started: read back only (read-only disks)
M=1048576
regions() {
  case "$1" in
    defaults|blkback)
      # O_DIRECT, sequential 512 B..4 MiB, then random 4 KiB..1 MiB, each size in its own 8 MiB region
      echo "data 0 $((256 * 1024)) 512 -d"
      r=1
      for bs in 4096 65536 1048576 4194304; do echo "data $((r * 8 * M)) $((4 * M)) $bs -d"; r=$((r + 1)); done
      for bs in 4096 65536 1048576; do echo "data $((r * 8 * M)) $((4 * M)) $bs -d -r"; r=$((r + 1)); done
      echo "buffered $((64 * M)) $((8 * M)) 65536" ;;
    flush)
      echo "fsync 0 $((8 * M)) 65536 -d"
      echo "fua $((8 * M)) $((4 * M)) 65536 -d"
      echo "data $((16 * M)) $M 65536 -d"
      echo "discard $((17 * M)) $((2 * M)) 1048576 -d"
      echo "data $((19 * M)) $M 65536 -d" ;;
    readonly)
      echo "keep 0 $((8 * M)) 1048576 -d" ;;
    writer)
      echo "data 0 $((16 * M)) 65536 -d" ;;
    *)
      echo "data 0 $((8 * M)) 65536 -d"
      echo "data $((8 * M)) $((8 * M)) 1048576 -d -r"
      echo "data $((16 * M)) $((2 * M)) 4096 -d -r"
      echo "buffered $((64 * M)) $((8 * M)) 65536" ;;
  esac
}
# check_regions WORKLOAD DEV SEED [BLKIO-FLAGS]: reads every region back; 1 at the first difference
check_regions() {
  regions "$1" > /tmp/check.$$
  while read -r op off len bs flags; do
    cbs=$M; [ "$len" -lt $M ] && cbs=$len
    case "$op" in
      discard) blkio zero "$2" -o "$off" -l "$len" -b $cbs $4 || { rm -f /tmp/check.$$; return 1; } ;;
      *) blkio verify "$2" -s "$3" -o "$off" -l "$len" -b $cbs $4 || { rm -f /tmp/check.$$; return 1; } ;;
    esac
  done < /tmp/check.$$
  rm -f /tmp/check.$$
}
