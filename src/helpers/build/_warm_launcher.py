"""The kernel command of a warm kernel (:mod:`helpers.build.warm`): ask the zygote for a kernel, then stand for it.

Run as ``python -I -S _warm_launcher.py SOCKET ipykernel-arguments...`` by the kernel manager in place of
``python -m ipykernel_launcher ...``. It imports nothing but the standard library (it starts in a few tens of
milliseconds). It sends the zygote its arguments, working directory and environment, and its standard streams
(so the kernel writes where a kernel started here would), receives the forked kernel's process id, forwards
the signals the kernel manager sends (interrupt, terminate) to it, and exits when the kernel exits (the
zygote's connection closes). If this process is killed, the kernel sees its connection close and exits too.
"""
import json
import os
import signal
import socket
import sys
import time


def main(argv: list[str]) -> int:
    path, kernel_args = argv[0], argv[1:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + 120  # the zygote may still be importing
    while True:
        try:
            conn.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                print(f"warm kernel: no zygote at {path}", file=sys.stderr)
                return 1
            time.sleep(0.02)
    request = json.dumps({"argv": kernel_args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    socket.send_fds(conn, [len(request).to_bytes(8, "big") + request], [0, 1, 2])
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = conn.recv(64)
        if not chunk:
            print("warm kernel: the zygote closed the connection", file=sys.stderr)
            return 1
        reply += chunk
    pid = int(reply)

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    while True:  # the kernel holds the other end: EOF when it exits
        try:
            if not conn.recv(64):
                return 0
        except InterruptedError:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
