#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Drives `supctl exec -t UNIT -- sh` from a pseudo-terminal, as an operator at a terminal would:
#   exec-pty.py TIMEOUT SUPCTL [SUPCTL OPTIONS...] exec -t UNIT -- sh
# and checks, in order, each named for what it stops:
#   tty           the command has a terminal of its own (a /dev/pts/N of the unit), not none
#   size          the window size at the start reaches it (33 rows, 101 columns)
#   resize        a resize of supctl's terminal reaches it (SIGWINCH, exec-resize: 40 x 120)
#   ctrl-c        ^C interrupts the shell's foreground job (sleep), not supctl, and the shell
#                 lives on and answers
#   exit          the shell's exit status is supctl's
# Prints "ok NAME" or "FAIL NAME: what came" for each; exits 0 only if all passed.
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time

timeout = float(sys.argv[1])
argv = sys.argv[2:]
failed = False


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


pid, master = pty.fork()
if pid == 0:
    set_size(0, 33, 101)
    os.execv(argv[0], argv)

seen = b""


def expect(name, needle, t=timeout):
    """Reads the terminal until needle shows (a bytes regex would be overkill)."""
    global seen, failed
    deadline = time.monotonic() + t
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"FAIL {name}: {needle!r} not seen in {t:.0f} s; the terminal showed {seen[-300:]!r}")
            failed = True
            return False
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                print(f"FAIL {name}: the terminal closed; it showed {seen[-300:]!r}")
                failed = True
                return False
            seen += chunk
    seen = seen[seen.index(needle) + len(needle):]
    print(f"ok {name}")
    return True


def send(s):
    os.write(master, s.encode())


# Markers are computed by the shell ($((...))), so that the echo of what was typed never matches.
send("tty; stty size; echo mark-$((20+1))\r")
expect("tty", b"/dev/pts/")
expect("size", b"33 101")
expect("tty-done", b"mark-21")
set_size(master, 40, 120)
time.sleep(0.5)
send("stty size; echo mark-$((30+1))\r")
expect("resize", b"40 120")
expect("resize-done", b"mark-31")
send("sleep 100; echo slept-$((40+1))\r")
time.sleep(2)
send("\x03")
send("echo alive-$((50+1))\r")
expect("ctrl-c", b"alive-51", t=min(timeout, 30))
if b"slept-41" in seen:
    print("FAIL ctrl-c: the sleep ran to its end")
    failed = True
send("exit 7\r")
deadline = time.monotonic() + timeout
status = None
while time.monotonic() < deadline:
    try:
        os.read(master, 4096)
    except OSError:
        pass
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
    time.sleep(0.1)
if status is None:
    print("FAIL exit: supctl did not end")
    os.kill(pid, 9)
    failed = True
elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7:
    print("ok exit")
else:
    print(f"FAIL exit: status {status:#x}, expected exit 7")
    failed = True
sys.exit(1 if failed else 0)
