"""A TCP listener on the host's 127.0.0.1 for the Network test (run.sh starts and stops it).

Usage: python3 listener.py PARENT_PID PORTFILE...
Binds 127.0.0.1 on a free port, writes the port to each PORTFILE (atomically), and greets every connection with
"hello from the host\n". It ends as soon as PARENT_PID (run.sh's $$) is no longer its parent, even if that happened
before it started, or after 30 minutes, so that a killed run.sh never leaves it behind.
"""
import os
import socket
import sys
import time

parent = int(sys.argv[1])
deadline = time.monotonic() + 30 * 60
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen(16)
server.settimeout(0.5)
port = server.getsockname()[1]
for path in sys.argv[2:]:
    with open(path + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.replace(path + ".tmp", path)
while os.getppid() == parent and time.monotonic() < deadline:
    try:
        conn, _ = server.accept()
    except socket.timeout:
        continue
    with conn:
        conn.sendall(b"hello from the host\n")
