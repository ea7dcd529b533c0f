#!/usr/bin/env python3
"""One guest connection -> 127.0.0.1:PORT, for QEMU's guestfwd=...-cmd:.

QEMU (libslirp) starts this once per guest connection to the forwarded address, with the
connection on stdin/stdout. It connects to 127.0.0.1:PORT (loopback only: the address is fixed
here, never taken from the command line) and copies bytes both ways, passing each side's EOF on,
until both directions are closed. The trailing TAG argument only names the test run, so the
harness can find and stop any relay that outlives its VM.

Why not guestfwd=...-tcp:127.0.0.1:PORT: that form opens ONE host connection when QEMU starts
and feeds every guest connection into it; after the first exchange (HTTP closes it) further
connections hang, and the service must already listen before QEMU starts.

Usage: fwd-relay.py PORT [TAG]
"""
import os
import select
import signal
import socket
import sys

LIFETIME = 600  # seconds; a relay never outlives a test


def shutdown_write(fd):
    try:
        socket.socket(fileno=os.dup(fd)).shutdown(socket.SHUT_WR)
    except OSError:
        os.close(fd)


def main():
    port = int(sys.argv[1])
    if not 0 < port < 65536:
        return 2
    signal.alarm(LIFETIME)
    # stderr is the guest connection too: nothing may be printed.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        host = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError:
        return 1
    host.settimeout(None)
    guest_in, guest_out = 0, 1
    open_in = {guest_in: True, host.fileno(): True}
    while any(open_in.values()):
        readable, _, _ = select.select([fd for fd, o in open_in.items() if o], [], [])
        for fd in readable:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            dst = host.fileno() if fd == guest_in else guest_out
            if not data:
                open_in[fd] = False
                if dst == host.fileno():
                    try:
                        host.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                else:
                    shutdown_write(guest_out)
                continue
            try:
                view = memoryview(data)
                while view:
                    n = os.write(dst, view)
                    view = view[n:]
            except OSError:
                return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
