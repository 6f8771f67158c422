#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A terminal session killed with its jobs running:
#   exec-pty-kill.py TAG SUPCTL --socket SOCK exec -t UNIT -- sh
# starts `sleep 1TAG &` (a background job: a process group of its own in the session) and `sleep
# 2TAG` (the foreground job) in the unit's shell, checks with `supctl top UNIT` that both run,
# then kills supctl with SIGKILL (as a terminal closed by force). Prints "started" when both ran;
# the caller then checks that neither outlives supctl (the monitor cancels the exec, and the
# cancel takes the whole session, not only the shell).
import os
import pty
import select
import subprocess
import sys
import time

tag = sys.argv[1]
argv = sys.argv[2:]
supctl, sock, unit = argv[0], argv[2], argv[5]
pid, master = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)


def wait_for(needle, t=60):
    seen = b""
    end = time.monotonic() + t
    while needle not in seen and time.monotonic() < end:
        r, _, _ = select.select([master], [], [], 1)
        if r:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    return needle in seen


os.write(master, f"sleep 1{tag} & echo bg-$((1+1))\r".encode())
ok = wait_for(b"bg-2")
os.write(master, f"sleep 2{tag}\r".encode())
top = ""
end = time.monotonic() + 30
while time.monotonic() < end:
    top = subprocess.run([supctl, "--socket", sock, "top", unit], capture_output=True, text=True).stdout
    if f"sleep 1{tag}" in top and f"sleep 2{tag}" in top:
        break
    time.sleep(0.5)
print("started" if ok and f"sleep 1{tag}" in top and f"sleep 2{tag}" in top else "FAIL not started: " + top, flush=True)
os.kill(pid, 9)
os.waitpid(pid, 0)
