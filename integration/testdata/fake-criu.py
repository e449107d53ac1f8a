#!/usr/bin/python3
"""A stand-in for `criu swrk 3` in husk's checkpoint tests, for the paths
where CRIU's absence or failure is the point: it answers a VERSION request
and fails every other one, and never dumps or restores anything.

FAKE_CRIU=exit1  exits 1 at once, answering nothing
FAKE_CRIU=old    answers VERSION with 2.9
FAKE_CRIU=fail   answers VERSION with 3.17.1; fails DUMP and RESTORE (a
                 RESTORE after one setup-namespaces notification of its
                 own pid, which husk must act on and acknowledge)
"""
import os
import socket
import sys

MODE = os.environ.get("FAKE_CRIU", "fail")
VERSION, NOTIFY, RESTORE = 10, 6, 2


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(tag, payload):
    """A length-delimited field (wire type 2)."""
    return varint(tag << 3 | 2) + varint(len(payload)) + payload


def main():
    if MODE == "exit1":
        sys.exit(1)
    if sys.argv[1:] != ["swrk", "3"]:
        sys.exit("fake criu: only 'swrk 3'")
    sock = socket.socket(fileno=3)
    request = sock.recv(1 << 16)
    # criu_req.type, field 1: 0x08 then the type (all below 128).
    kind = request[1]
    if kind == VERSION:
        major, minor = (2, 9) if MODE == "old" else (3, 17)
        version = b"\x08" + varint(major) + b"\x10" + varint(minor) + b"\x20\x01"
        sock.send(b"\x08" + varint(VERSION) + b"\x10\x01" + field(10, version))
        return
    if kind == RESTORE:
        notify = field(1, b"setup-namespaces") + b"\x10" + varint(os.getpid())
        sock.send(b"\x08" + varint(NOTIFY) + b"\x10\x01" + field(5, notify))
        ack = sock.recv(1 << 16)
        # criu_req{type: NOTIFY, notify_success: true}
        if ack != b"\x08\x06\x18\x01":
            sys.exit("fake criu: no acknowledgement of the notification")
    # success false, cr_errno 2, cr_errmsg
    sock.send(b"\x08" + varint(kind) + b"\x10\x00\x38\x02" + field(9, b"fake criu: nothing done"))
    sys.exit(1)


main()
