#!/usr/bin/env python3
"""A hostile iSCSI initiator for scripts/iscsi-hostile-rss: for SECONDS it keeps opening connections that
(a) never finish their login (half a header, then nothing), (b) declare a 16 MiB data segment at login and
send part of it, (c) log in properly, start a 1 MiB WRITE with 256 KiB of immediate data, send half of the
next Data-Out and vanish. Prints one line of counts at the end.
  iscsi-hostile.py HOST PORT TARGET_IQN SECONDS [PARALLEL]"""
import random, socket, struct, sys, time

host, port, iqn, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
parallel = int(sys.argv[5]) if len(sys.argv) > 5 else 40
counts = {"stalled-logins": 0, "oversized": 0, "vanished-writes": 0, "refused": 0, "login-failed": 0}

def bhs(opcode, flags, data_len, rest):
    b = bytearray(48)
    b[0] = opcode
    b[1] = flags
    b[5:8] = data_len.to_bytes(3, "big")
    for off, val in rest:
        b[off:off + len(val)] = val
    return bytes(b)

def pad(d):
    return d + b"\0" * (-len(d) % 4)

def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out

def login(s, isid):
    keys = [b"InitiatorName=iqn.2026-12.test:hostile", b"TargetName=" + iqn.encode(), b"SessionType=Normal",
            b"AuthMethod=None", b"HeaderDigest=None", b"DataDigest=None", b"ImmediateData=Yes",
            b"InitialR2T=No", b"FirstBurstLength=262144", b"MaxBurstLength=1048576",
            b"MaxRecvDataSegmentLength=262144"]
    data = b"\0".join(keys) + b"\0"
    csg = 0
    for _ in range(4):
        flags = 0x80 | (csg << 2) | 3
        h = bhs(0x43, flags, len(data), [(8, isid), (16, struct.pack(">I", 1)), (24, struct.pack(">I", 1))])
        s.sendall(h + pad(data))
        r = recv_exact(s, 48)
        n = int.from_bytes(r[5:8], "big")
        recv_exact(s, n + (-n % 4))
        if r[36] != 0:
            raise ConnectionError("login refused %d/%d" % (r[36], r[37]))
        if r[1] & 0x80 and (r[1] & 3) == 3:
            return struct.unpack(">I", r[24:28])[0]
        csg = (r[1] & 3) if r[1] & 0x80 else csg
        data = b"\0"
    raise ConnectionError("login did not finish")

held = []
end = time.time() + seconds
while time.time() < end:
    kind = random.choice(["stall", "stall", "oversized", "vanish"])
    try:
        s = socket.create_connection((host, port), timeout=5)
    except OSError:
        counts["refused"] += 1
        time.sleep(0.05)
        continue
    try:
        if kind == "stall":
            s.sendall(bhs(0x43, 0x87, 100, [])[:20])  # half a Login Request header, then nothing
            counts["stalled-logins"] += 1
            held.append(s)
        elif kind == "oversized":
            s.sendall(bhs(0x43, 0x87, 0xffffff, []) + b"x" * 65536)  # a 16 MiB login segment, 64 KiB of it
            counts["oversized"] += 1
            held.append(s)
        else:
            isid = bytes([0x80, 0, 0]) + random.randbytes(3)
            statsn = login(s, isid)
            cdb = bytes([0x8a, 0]) + struct.pack(">Q", random.randrange(0, 1000) * 2048) + struct.pack(">I", 2048) + b"\0\0"
            cmd = bhs(0x01, 0x21, 262144, [(16, struct.pack(">I", 7)), (20, struct.pack(">I", 1 << 20)),
                                           (24, struct.pack(">I", 1)), (28, struct.pack(">I", statsn + 1)), (32, cdb)])
            s.sendall(cmd + b"\xab" * 262144)
            out = bhs(0x05, 0x00, 262144, [(16, struct.pack(">I", 7)), (20, struct.pack(">I", 0xffffffff)),
                                           (40, struct.pack(">I", 262144))])
            s.sendall(out + b"\xcd" * 131072)  # half the Data-Out, then gone
            counts["vanished-writes"] += 1
            s.close()
    except OSError as e:
        counts["login-failed" if kind == "vanish" else "refused"] += 1
        s.close()
    while len(held) > parallel:
        held.pop(0).close()
for s in held:
    s.close()
print(" ".join("%s=%d" % kv for kv in counts.items()))
