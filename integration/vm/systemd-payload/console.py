#!/usr/bin/python3
"""The engine's side of a container's terminal, for checkpoint.sh: listens on
a console socket, takes the pty master that the runtime sends with
SCM_RIGHTS (on create, or from CRIU's orphan-pts-master on restore), then
types each line written to INPUT (a fifo) into the terminal and appends
what the terminal prints to LOG, until the terminal hangs up or the
process is sent SIGTERM.

    console.py SOCKET INPUT LOG

READY is printed to LOG's side file LOG.ready once the master is in hand,
with the name the runtime sent beside it.
"""
import array
import os
import select
import signal
import socket
import sys


def receive_master(path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    conn, _ = listener.accept()
    fds = array.array("i")
    msg, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    conn.close()
    listener.close()
    os.unlink(path)
    if len(fds) != 1:
        sys.exit(f"console.py: {len(fds)} fds with {msg!r} on {path}, want 1")
    return fds[0], msg.decode(errors="replace")


def main():
    path, input_path, log_path = sys.argv[1:4]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    master, name = receive_master(path)
    with open(log_path + ".ready", "w") as ready:
        ready.write(f"READY {name}\n")
    # Read-write: no EOF when the test's writer closes it between lines.
    typed = os.open(input_path, os.O_RDWR | os.O_NONBLOCK)
    with open(log_path, "ab", buffering=0) as log:
        while True:
            readable, _, _ = select.select([master, typed], [], [])
            if master in readable:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every slave fd is closed
                    return
                if not data:
                    return
                log.write(data)
            if typed in readable:
                os.write(master, os.read(typed, 4096))


if __name__ == "__main__":
    main()
