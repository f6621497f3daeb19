#!/usr/bin/python3
# notify_listen.py SOCKET OUT: stand-in for systemd's notification socket.
# Binds an AF_UNIX datagram socket at SOCKET and appends every message it
# receives to OUT, one per line (fields separated by '|'), flushed at once
# so a test can wait on the file. Runs until killed.
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    out.write("LISTENING\n")
    while True:
        msg = sock.recv(4096).decode("utf-8", "replace")
        out.write(msg.replace("\n", "|") + "\n")
