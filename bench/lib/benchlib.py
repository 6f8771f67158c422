#!/usr/bin/python3
"""Helpers of the benchmarks in bench/: statistics and tables, crun's config.json, and podman's
seccomp profile in the OCI format crun reads.

  benchlib.py series RESULTS WHO WHAT < SAMPLES     one timing per line, in microseconds
  benchlib.py value RESULTS WHO WHAT VALUE UNIT     a single measurement (memory, a total time)
  benchlib.py mem RESULTS WHO WHAT PER PID...       memory of processes (smaps_rollup), summed and
                                                    divided by PER (1: the sum; N: per container)
  benchlib.py vm-mem RESULTS WHO WHAT PID GUEST_MIB  a QEMU process's memory, its guest RAM apart
  benchlib.py overhead RESULTS WHO WHAT A B         A's median over B's (series named by WHAT),
                                                    in ms and in %
  benchlib.py qmp-rtt SOCKET N                      N round trips of QMP query-status, one a line (µs)
  benchlib.py table RESULTS [--minmax]              the results as Markdown tables (--minmax: the
                                                    median, the minimum and the maximum)
  benchlib.py delta RESULTS WHO WHAT A B           A's series against B's (named by WHAT), measured in
                                                    the same rounds: the difference of their medians,
                                                    and the median of the per-round differences A - B
                                                    with a bootstrap 90 % interval
  benchlib.py crun-config CONFIG CGROUPS-PATH [SECCOMP-PROFILE] [caps=all|podman] [nnp=true|false]
                          [limits=MEMORY-BYTES,CPU-QUOTA-US,CPU-PERIOD-US,PIDS]
  benchlib.py strace-cgroup TRACE...                where the time of `strace -f -T` traces goes in
                                                    cgroupfs: per kind of call, the median over the
                                                    traces of its summed time
  benchlib.py strace-top TRACE N TITLE             the N slowest system calls of `strace -f -T -tt`

RESULTS is a JSON-lines file; each line is one series or value, in the order they were measured.
Statistics are the median, the 90th percentile (nearest rank) and the minimum (or, for a few
samples, the median, the minimum and the maximum): no thresholds.
"""
import json
import math
import re
import socket
import sys
import time


def percentile(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def cmd_series(results, who, what):
    samples = [float(line) for line in sys.stdin if line.strip()]
    with open(results, "a") as f:
        f.write(json.dumps({"who": who, "what": what, "us": samples}) + "\n")


def cmd_value(results, who, what, value, unit):
    with open(results, "a") as f:
        f.write(json.dumps({"who": who, "what": what, "value": float(value), "unit": unit}) + "\n")


def smaps_rollup(pid):
    """Rss, Pss and private (Private_Clean + Private_Dirty) of a process, in KiB."""
    v = {}
    with open("/proc/%s/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                v[parts[0][:-1]] = int(parts[1])
    return v.get("Rss", 0), v.get("Pss", 0), v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)


def cmd_mem(results, who, what, per, *pids):
    tot = [0, 0, 0]
    for pid in pids:
        for k, x in enumerate(smaps_rollup(pid)):
            tot[k] += x
    per = max(1, int(per))
    with open(results, "a") as f:
        f.write(json.dumps({"who": who, "what": what, "n": len(pids), "per": per,
                            "rss": tot[0] / per, "pss": tot[1] / per, "private": tot[2] / per}) + "\n")


def cmd_vm_mem(results, who, what, pid, guest_mib):
    """QEMU's RSS and PSS, and what of its RSS is guest RAM: the anonymous mapping of exactly the
    guest's size (-m), resident as far as the guest has touched it (transparent huge pages make
    that 2 MiB at a time), and TCG's code cache (the anonymous executable mapping). KiB."""
    rss, pss, _ = smaps_rollup(pid)
    guest_kib = int(guest_mib) * 1024
    guest_rss = tcg_rss = 0
    size = perms = name = None
    with open("/proc/%s/smaps" % pid) as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                size = (int(m.group(2), 16) - int(m.group(1), 16)) // 1024
                perms, name = m.group(3), m.group(4)
            elif line.startswith("Rss:") and not name:
                kib = int(line.split()[1])
                if size == guest_kib and "x" not in perms:
                    guest_rss += kib
                elif "x" in perms:
                    tcg_rss += kib
    with open(results, "a") as f:
        f.write(json.dumps({"who": who, "what": what, "vm": {"rss": rss, "pss": pss, "guest": guest_kib,
                                                             "guest_rss": guest_rss, "tcg_rss": tcg_rss}}) + "\n")


def cmd_overhead(results, who, what, a, b):
    rows = {r["what"]: r for r in map(json.loads, open(results)) if "us" in r}
    ma, mb = statistics_median(rows[a]["us"]), statistics_median(rows[b]["us"])
    cmd_value(results, who, what + " (ms)", "%.2f" % ((ma - mb) / 1000), "ms")
    cmd_value(results, who, what + " (%)", "%.1f" % (100 * (ma - mb) / mb), "%")


def cmd_delta(results, who, what, a, b):
    """What A costs over B. The series are paired by round (one sample of each per round, in the
    same minute of the machine's load), so the per-round differences cancel much of the load that
    both saw; their median, with a percentile-bootstrap 90 % interval (fixed seed: the same samples
    give the same interval). The difference of the two medians is given beside it."""
    import random
    rows = {r["what"]: r for r in map(json.loads, open(results)) if "us" in r}
    xa, xb = rows[a]["us"], rows[b]["us"]
    if len(xa) != len(xb):
        sys.exit("delta: %r and %r have %d and %d samples, not one per round" % (a, b, len(xa), len(xb)))
    d = [x - y for x, y in zip(xa, xb)]
    rng = random.Random(1)
    boot = sorted(statistics_median([rng.choice(d) for _ in d]) for _ in range(2000))
    with open(results, "a") as f:
        f.write(json.dumps({"who": who, "what": what, "delta": {
            "medians": statistics_median(xa) - statistics_median(xb), "paired": statistics_median(d),
            "lo": boot[int(0.05 * len(boot))], "hi": boot[int(0.95 * len(boot)) - 1], "n": len(d)}}) + "\n")


def cmd_ratio(results, who, what, a, b):
    """A over B as a factor: the ratio of the medians, and the median of the per-round ratios (the
    series paired by round, as for delta) with a percentile-bootstrap 90 % interval."""
    import random
    rows = {r["what"]: r for r in map(json.loads, open(results)) if "us" in r}
    xa, xb = rows[a]["us"], rows[b]["us"]
    if len(xa) != len(xb):
        sys.exit("ratio: %r and %r have %d and %d samples, not one per round" % (a, b, len(xa), len(xb)))
    q = [x / y for x, y in zip(xa, xb)]
    rng = random.Random(1)
    boot = sorted(statistics_median([rng.choice(q) for _ in q]) for _ in range(2000))
    cmd_value(results, who, what + ": ratio of the medians", "%.3f" % (statistics_median(xa) / statistics_median(xb)), "×")
    cmd_value(results, who, what + ": median of the per-round ratios (90 %% interval %.3f … %.3f)" %
              (boot[int(0.05 * len(boot))], boot[int(0.95 * len(boot)) - 1]), "%.3f" % statistics_median(q), "×")


def cmd_qmp_rtt(path, n):
    """Capabilities negotiation, then n × query-status, each timed from the write to its reply
    (events in between are passed over)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    json.loads(f.readline())  # the greeting
    for i in range(int(n) + 1):
        cmd = "qmp_capabilities" if i == 0 else "query-status"
        t0 = time.monotonic_ns()
        f.write(json.dumps({"execute": cmd, "id": i}) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "error" in msg:
                sys.exit("QMP %s: %s" % (cmd, msg["error"].get("desc")))
            if msg.get("id") == i:
                break
        if i:
            print((time.monotonic_ns() - t0) // 1000)


def ms(us):
    return "%.2f" % (us / 1000)


def cmd_table(results, *opts):
    rows = [json.loads(line) for line in open(results) if line.strip()]
    series = [r for r in rows if "us" in r]
    values = [r for r in rows if "value" in r]
    mems = [r for r in rows if "rss" in r]
    vms = [r for r in rows if "vm" in r]
    deltas = [r for r in rows if "delta" in r]
    if "--minmax" in opts:
        head, stats = "median ms | min ms | max ms", (statistics_median, min, max)
    else:
        head, stats = "median ms | p90 ms | min ms", (statistics_median, lambda xs: percentile(xs, 90), min)
    out = []
    if series:
        out.append("| what | who | %s | n |" % head)
        out.append("|---|---|--:|--:|--:|--:|")
        for r in series:
            xs = r["us"]
            if not xs:
                out.append("| %s | %s | - | - | - | 0 |" % (r["what"], r["who"]))
                continue
            out.append("| %s | %s | %s | %d |" % (r["what"], r["who"], " | ".join(ms(f(xs)) for f in stats), len(xs)))
    if values:
        if series:
            out.append("")
        out.append("| what | who | value |")
        out.append("|---|---|--:|")
        for r in values:
            v = r["value"]
            text = ("%.0f" % v) if v == int(v) else ("%.2f" % v)
            out.append("| %s | %s | %s %s |" % (r["what"], r["who"], text, r["unit"]))
    if mems:
        if series or values:
            out.append("")
        out.append("| memory | who | processes | RSS KiB | PSS KiB | private KiB |")
        out.append("|---|---|--:|--:|--:|--:|")
        for r in mems:
            n = str(r["n"]) if r["per"] == 1 else "%d / %d" % (r["n"], r["per"])
            out.append("| %s | %s | %s | %.0f | %.0f | %.0f |" % (r["what"], r["who"], n, r["rss"], r["pss"],
                                                                r["private"]))
    if vms:
        if series or values or mems:
            out.append("")
        out.append("| QEMU | who | RSS MiB | PSS MiB | guest RAM (-m) MiB | RSS − guest RAM MiB "
                   "| guest RAM resident MiB | RSS − resident guest RAM (VM overhead) MiB | of it TCG code cache MiB |")
        out.append("|---|---|--:|--:|--:|--:|--:|--:|--:|")
        for r in vms:
            v = {k: x / 1024 for k, x in r["vm"].items()}
            out.append("| %s | %s | %.1f | %.1f | %.0f | %.1f | %.1f | %.1f | %.1f |" % (
                r["what"], r["who"], v["rss"], v["pss"], v["guest"], v["rss"] - v["guest"], v["guest_rss"],
                v["rss"] - v["guest_rss"], v["tcg_rss"]))
    if deltas:
        if series or values or mems or vms:
            out.append("")
        out.append("| difference | who | of the medians ms | median of the per-round differences ms "
                   "| its 90 % interval ms | rounds |")
        out.append("|---|---|--:|--:|--:|--:|")
        for r in deltas:
            v = r["delta"]
            out.append("| %s | %s | %+.2f | %+.2f | %+.2f … %+.2f | %d |" % (
                r["what"], r["who"], v["medians"] / 1000, v["paired"] / 1000, v["lo"] / 1000, v["hi"] / 1000,
                v["n"]))
    print("\n".join(out))


def statistics_median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


# ---- strace ---------------------------------------------------------------------------------

# Calls that wait for another process rather than work: among them recvmsg/recvfrom, where a
# parked container's init waits for its go (the whole park shows as one long recvmsg).
WAITING = {"epoll_wait", "epoll_pwait", "read", "recvmsg", "recvfrom", "wait4", "waitid", "rt_sigtimedwait", "poll",
           "ppoll", "pselect6"}


def strace_calls(trace):
    """The finished calls of an `strace -f -T -tt` trace, unfinished ones joined with their
    resumption: (pid, name, args, seconds or None, the file behind the first argument if it is an
    fd whose opening the trace shows)."""
    line_re = re.compile(r"^(?:(\d+)\s+)?(\d\d:\d\d:[0-9.]+)\s+(.*)$")
    fds, pending = {}, {}
    for raw in open(trace):
        m = line_re.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, rest = m.group(1) or "-", m.group(3)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
            continue
        r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
        if r:
            rest = pending.pop(pid, r.group(1) + "(") + r.group(2)
        c = re.match(r"(\w+)\((.*)\)\s+=\s+(-?\d+|0x[0-9a-f]+|\?)(.*?)(?:<([0-9.]+)>)?$", rest)
        if not c:
            continue
        name, args, ret, dur = c.group(1), c.group(2), c.group(3), c.group(5)
        if name in ("openat", "open") and ret.isdigit():
            p = re.search(r'"([^"]*)"', args)
            if p:
                fds[(pid, ret)] = p.group(1)
        fd = re.match(r"(\d+)(?:,|$)", args)
        where = fds.get((pid, fd.group(1))) if fd else None
        if name == "close" and fd:
            fds.pop((pid, fd.group(1)), None)
        yield pid, name, args, None if dur is None else float(dur), where


def cmd_strace_top(trace, n, title):
    """The slowest calls, with the file behind an fd where the trace shows it being opened. Calls
    that wait for something else (reads, polls) are left out: they are idle time, not work."""
    rows = []
    for pid, name, args, dur, where in strace_calls(trace):
        if dur is None or name in WAITING:
            continue
        shown = args if len(args) < 70 else args[:67] + "..."
        rows.append((dur, pid, "%s(%s)%s" % (name, shown, "  [%s]" % where if where else "")))
    rows.sort(key=lambda x: -x[0])
    print(title)
    for dur, pid, text in rows[: int(n)]:
        print("%8.2f ms  pid %-7s %s" % (dur * 1000, pid, text))


# ---- crun -----------------------------------------------------------------------------------

ARCHES = {"amd64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "x32": "SCMP_ARCH_X32"}


def podman_seccomp_to_oci(profile, caps):
    """What podman does with /usr/share/containers/seccomp.json for an amd64 container with the
    capabilities caps: keep the rules whose includes/excludes (arches, caps) apply."""
    arch = "SCMP_ARCH_X86_64"
    subs = []
    for m in profile.get("archMap", []):
        if m["architecture"] == arch:
            subs = m.get("subArchitectures", [])
    our_arches = {arch, *subs}
    out = {"defaultAction": profile["defaultAction"], "architectures": [arch, *subs], "syscalls": []}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]

    def applies(cond, want):
        arches = [ARCHES.get(a, a) for a in cond.get("arches", [])]
        c = cond.get("caps", [])
        if want:
            return (not arches or any(a in our_arches for a in arches)) and all(x in caps for x in c)
        return not ((arches and any(a in our_arches for a in arches)) or (c and any(x in caps for x in c)))

    for s in profile["syscalls"]:
        if not applies(s.get("includes") or {}, True) or not applies(s.get("excludes") or {}, False):
            continue
        rule = {"names": s["names"], "action": s["action"]}
        if s.get("errnoRet") is not None:
            rule["errnoRet"] = s["errnoRet"]
        if s.get("args"):
            rule["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")} for a in s["args"]]
        out["syscalls"].append(rule)
    return out


# The capability names of Linux, by number (include/uapi/linux/capability.h), for "all of them".
CAPS = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE"]

# podman's default capabilities (containers.conf default_capabilities), which are also sup's.
PODMAN_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP", "SETGID",
               "SETPCAP", "SETUID", "SYS_CHROOT"]


def cmd_crun_config(path, cgroups_path, seccomp="", *opts):
    """opts: caps=all (every capability in this process's bounding set) or caps=podman (podman's default
    set) instead of crun's default three; nnp=false; limits=MEMORY,QUOTA,PERIOD,PIDS in
    linux.resources (memory with swap off: memory+swap equal to the limit, as sup does)."""
    o = dict(x.split("=", 1) for x in opts)
    c = json.load(open(path))
    p = c["process"]
    p["terminal"] = False
    p["args"] = ["/bin/sh", "-c", "echo ready; exec sleep 1000"]
    p["env"] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]
    p.pop("rlimits", None)  # sup sets none unless asked
    if "caps" in o:
        if o["caps"] == "all":
            # Every capability this process may pass on: its bounding set, which here lacks
            # SYS_RESOURCE (capset fails for a set beyond it).
            bnd = int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", open("/proc/self/status").read(), re.M).group(1), 16)
            names = [n for i, n in enumerate(CAPS) if bnd >> i & 1]
        else:
            names = PODMAN_CAPS
        caps = ["CAP_" + n for n in names]
        p["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    if "nnp" in o:
        p["noNewPrivileges"] = o["nnp"] == "true"
    c["root"] = {"path": "rootfs", "readonly": False}
    c["hostname"] = "bench"
    # sup mounts proc, sysfs (read-only), a /dev tmpfs with devpts, shm and mqueue: crun's
    # defaults without the cgroupfs mount. crun's masked and read-only paths stay: sup masks and
    # makes read-only the same list, give or take two (rootfs.c), in every unit.
    c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    lx = c["linux"]
    lx["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
    lx["cgroupsPath"] = cgroups_path
    if "limits" in o:
        mem, quota, period, pids = (int(x) for x in o["limits"].split(","))
        res = lx.setdefault("resources", {})
        res["memory"] = {"limit": mem, "swap": mem}
        res["cpu"] = {"quota": quota, "period": period}
        res["pids"] = {"limit": pids}
    if seccomp:
        lx["seccomp"] = podman_seccomp_to_oci(json.load(open(seccomp)), set(p["capabilities"]["bounding"]))
    json.dump(c, open(path, "w"), indent=1)


# The calls of a start that touch cgroupfs, by kind. mkdir and rmdir of cgroups; opening a file of
# one; the write that moves a process in (cgroup.procs); a limit; any other write or read.
def cgroup_kind(name, path):
    base = path.rsplit("/", 1)[-1]
    if name in ("mkdir", "mkdirat"):
        return "mkdir (a cgroup in each hierarchy)"
    if name in ("rmdir", "unlinkat"):
        return "rmdir"
    if name in ("openat", "open"):
        return "open a cgroup file"
    if name in ("write", "pwrite64", "writev"):
        if base in ("cgroup.procs", "tasks"):
            return "write cgroup.procs (move the process in)"
        if base.startswith(("memory.", "cpu.", "pids.", "blkio.", "io.")):
            return "write a limit (memory.*, cpu.*, pids.*, blkio.*)"
        return "write another cgroup file"
    return "other calls on a cgroup file"


def cmd_strace_cgroup(*traces):
    """Per trace, the time of every call on a path under /sys/fs/cgroup (or an fd opened there),
    summed by kind; printed: per kind, the median over the traces of that sum and the calls in
    one trace; and per hierarchy, how long its cgroup.procs write and each limit's took."""
    per_trace, per_file = [], {}
    for trace in traces:
        kinds = {}
        for _, name, args, dur, where in strace_calls(trace):
            q = re.search(r'"(/sys/fs/cgroup/[^"]*)"', args)
            path = q.group(1) if q else where
            if dur is None or name == "close" or not path or not path.startswith("/sys/fs/cgroup/"):
                continue
            k = cgroup_kind(name, path)
            n, t = kinds.get(k, (0, 0.0))
            kinds[k] = (n + 1, t + dur)
            if k.startswith(("write a limit", "write cgroup.procs")):
                hier = path.split("/")[4] if path.count("/") > 4 else "?"
                per_file.setdefault("%s: %s" % (hier, path.rsplit("/", 1)[-1]), []).append(dur)
        per_trace.append(kinds)
    print("calls on cgroupfs during one start (strace -f -T of the monitor, %d traced starts: per kind the "
          "median of its summed time, and its calls in one start):" % len(traces))
    for k in sorted({k for t in per_trace for k in t}):
        sums = [t.get(k, (0, 0.0))[1] for t in per_trace]
        calls = statistics_median([t.get(k, (0, 0.0))[0] for t in per_trace])
        print("%8.2f ms  %3d calls  %s" % (statistics_median(sums) * 1000, calls, k))
    if per_file:
        print("the writes of limits and of cgroup.procs, per hierarchy (median, max and number of the writes "
              "over all traces):")
        for f in sorted(per_file, key=lambda f: (not f.endswith("cgroup.procs"), f)):
            xs = per_file[f]
            print("%8.3f ms  %8.3f ms  %3d  %s" % (statistics_median(xs) * 1000, max(xs) * 1000, len(xs), f))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"series": cmd_series, "value": cmd_value, "mem": cmd_mem, "vm-mem": cmd_vm_mem, "overhead": cmd_overhead,
     "qmp-rtt": cmd_qmp_rtt, "table": cmd_table, "crun-config": cmd_crun_config,
     "strace-top": cmd_strace_top, "delta": cmd_delta, "ratio": cmd_ratio, "strace-cgroup": cmd_strace_cgroup}[cmd](*args)


if __name__ == "__main__":
    main()
