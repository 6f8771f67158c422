#!/usr/bin/python3
"""The conformance runner: each case's unit in process and in hyperv isolation, compared.

    run.py --supd SUPD --supctl SUPCTL --monitor SUP_MONITOR --guest-dir DIR [--probe SUP_PROBE]
           [--examples DIR] [--only NAME]... [--jobs N] [--keep]

conformance.sh calls it once the host is known to run both modes. One supd runs every case: each
case (tests/conformance/cases/NAME.yaml, NAME.steps; the examples, examples/*.yaml with
tests/conformance/examples/NAME.steps) becomes units NAME-process and NAME-hyperv, added to the
units directory by `supctl reload` as earlier cases end (at most --jobs cases at once: guests boot
under TCG on two cores). Both units go through the case's steps side by side; what each step
showed, the workload's log and the final `supctl status --json` are compared, after the
differences by design (by-design.json) are taken out. README.md says how to write a case.

Exit status: 0 when every case that ran matched, 1 otherwise. Python's standard library only.
"""

import argparse
import concurrent.futures
import difflib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
MODES = ("process", "hyperv")
# Long enough for a guest that boots behind a dozen others on a loaded two-core host; a case that
# needs it is slow, not failed, and no timing is a verdict.
WAIT_TIMEOUT = 600
POLL = 0.1


class Setup:
    """What every case shares: the tools, the supd, the test's directories and the by-design list."""

    def __init__(self, args):
        self.supd, self.supctl, self.monitor = args.supd, args.supctl, args.monitor
        self.top = tempfile.mkdtemp(prefix="supconf.")
        self.units = os.path.join(self.top, "units")
        self.staging = os.path.join(self.top, "staging")
        self.data = os.path.join(self.top, "data")
        for d in (self.units, self.staging, self.data):
            os.makedirs(d)
        self.socket = os.path.join(self.top, "run", "supd.sock")
        self.guest_dir = args.guest_dir
        self.examples = args.examples
        self.images = os.path.join(args.examples, "images")
        with open(os.path.join(HERE, "by-design.json")) as f:
            self.design = json.load(f)
        with open(os.path.join(HERE, "findings.json")) as f:
            self.findings = json.load(f)["known"]
        self.probe_layer = self.make_probe_layer(args.probe)
        self.reload_lock = threading.Lock()
        self.print_lock = threading.Lock()
        self.supd_proc = None

    def make_probe_layer(self, probe):
        """A layer with /probe/sup-probe (static), for the cases that need more than busybox."""
        layer = os.path.join(self.top, "probe-layer")
        os.makedirs(os.path.join(layer, "probe"))
        if probe:
            shutil.copy(probe, os.path.join(layer, "probe", "sup-probe"))
        return layer

    def ctl(self, *argv, timeout=WAIT_TIMEOUT + 60):
        p = subprocess.run([self.supctl, "--socket", self.socket, *argv], capture_output=True,
                           text=True, errors="replace", timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def start_supd(self):
        env = dict(os.environ, SUP_VM_BOOT_TIMEOUT=str(WAIT_TIMEOUT))
        self.supd_log = open(os.path.join(self.top, "supd.log"), "ab")
        self.supd_proc = subprocess.Popen(
            [self.supd, "--units", self.units, "--state-dir", os.path.join(self.top, "state"),
             "--run-dir", os.path.join(self.top, "run"), "--monitor", self.monitor,
             "--guest-dir", self.guest_dir], stdout=self.supd_log, stderr=subprocess.STDOUT,
            env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(self.socket) and self.ctl("status", timeout=10)[0] == 0:
                return
            time.sleep(POLL)
        raise SystemExit("supd did not start: " + self.tail_supd_log())

    def stop_supd(self):
        if self.supd_proc and self.supd_proc.poll() is None:
            self.supd_proc.terminate()
            try:
                self.supd_proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.supd_proc.kill()
                self.supd_proc.wait()

    def tail_supd_log(self):
        with open(os.path.join(self.top, "supd.log"), errors="replace") as f:
            return "".join(f.readlines()[-20:])

    def add_units(self, files):
        """Moves the staged unit files into the units directory and has supd load them."""
        with self.reload_lock:
            for f in files:
                os.rename(f, os.path.join(self.units, os.path.basename(f)))
            rc, out, err = self.ctl("reload")
            if rc != 0:
                # A rejected generation would hold every later case back: take these out again.
                for f in files:
                    os.rename(os.path.join(self.units, os.path.basename(f)), f)
                return "supctl reload: exit %d: %s%s" % (rc, out, err)
        return None

    def say(self, text):
        with self.print_lock:
            print(text, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Unit:
    """One twin of a case: NAME-MODE, its unit file, the host ports it publishes."""

    def __init__(self, case, mode):
        self.case, self.mode = case, mode
        self.name = "%s-%s" % (case.name, mode)
        self.ports = {}        # container port -> host port
        self.observed = []     # (label, value) in step order
        self.skipped = None    # why this twin cannot exist (by design), or None


class Case:
    def __init__(self, name, template, steps_file, kind, peers=()):
        self.name, self.template, self.kind = name, template, kind
        self.steps = []
        if steps_file and os.path.exists(steps_file):
            with open(steps_file) as f:
                for n, line in enumerate(f, 1):
                    line = line.strip()
                    if line and not line.startswith("#"):
                        self.steps.append((n, line))
        with open(template) as f:
            self.text = f.read()
        m = re.search(r"^# pending: (.*)$", self.text, re.M)
        self.pending = m.group(1) if m else None
        # The first comment block says what the case shows.
        self.title = " ".join(l[1:].strip() for l in self.text.splitlines()
                              if l.startswith("# ") and not l.startswith("# pending:"))[:200]
        self.peers = peers     # other cases' names this one's units refer to (requires, share)
        self.units = {m: Unit(self, m) for m in MODES}


def twin_text(setup, case, unit, group_names):
    """The unit file of one twin: the template with its name and isolation, the placeholders
    filled in, references to the group's other units renamed, the by-design transforms applied."""
    text = case.text
    base = os.path.dirname(case.template)
    text = re.sub(r"^(name|isolation):.*\n", "", text, flags=re.M)
    # Relative layer paths resolve against the unit file's directory, which is now another one.
    text = re.sub(r"^(\s*-?\s*(?:dir|oci|tar):\s*[\"']?)(?![/@])([^\"'\s]+)",
                  lambda m: m.group(1) + os.path.join(base, m.group(2)), text, flags=re.M)

    def port(m):
        hp = free_port()
        unit.ports[m.group(3)] = hp
        return '%s%d:%s' % (m.group(1) or "", hp, m.group(3))
    # Host ports: a free one per twin (two units of one supd may not publish the same port).
    text = re.sub(r"^ports:.*$", lambda m: re.sub(r'(\[[0-9a-fA-F:.]*\]:|\d+\.\d+\.\d+\.\d+:)?(@PORT@|\d+):(\d+)(?=[/"\'])',
                                                  port, m.group(0)), text, flags=re.M)
    data = os.path.join(setup.data, unit.name)
    os.makedirs(data, exist_ok=True)
    for k, v in (("@IMAGES@", setup.images), ("@PROBE@", setup.probe_layer), ("@DATA@", data),
                 ("@VOLUME@", "conf-" + unit.name)):
        text = text.replace(k, v)
    def rename(m):
        return re.sub(r"(?<=[\[{ ,:])(%s)(?=[\]}, ]|$)" % "|".join(map(re.escape, group_names)),
                      lambda n: "%s-%s" % (n.group(1), unit.mode), m.group(0))
    text = re.sub(r"^(requires|share):.*$", rename, text, flags=re.M)
    for t in setup.design["twin_transforms"]:
        if t["mode"] == unit.mode:
            text = re.sub(t["drop_line"] + r".*\n", "", text, flags=re.M)
    return "name: %s\nisolation: %s\n%s" % (unit.name, unit.mode, text)


# --- what a unit shows -------------------------------------------------------------------------

def status_of(setup, unit):
    rc, out, err = setup.ctl("status", "--json", unit.name, timeout=30)
    if rc != 0:
        return None
    return json.loads(out)[0]


def normalize(setup, unit, text):
    """The twin's own name (and its peers') as the case's, the substitutions by design."""
    # One pass, longest first: web-hyperv-hyperv is web-hyperv, which is not then web.
    names = {unit.name: "UNIT"}
    names.update(("%s-%s" % (p, unit.mode), p) for p in unit.case.peers)
    text = re.sub("|".join(map(re.escape, sorted(names, key=len, reverse=True))),
                  lambda m: names[m.group(0)], text)
    for s in setup.design["text_substitutions"]:
        text = re.sub(s["re"], s["with"], text)
    return text


def log_lines(setup, unit):
    """The unit's log as `supctl logs` shows it, without time stamps and the lines by design."""
    rc, out, err = setup.ctl("logs", unit.name, "-n", "100000", timeout=30)
    lines = []
    passing = {}     # a state passed through by design: the state before it
    for line in out.splitlines():
        line = line.split(" ", 1)[1] if " " in line else line
        m = re.match(r"^sup ([a-z]+) -> ([a-z]+)$", line)
        if m and m.group(2) in setup.design["states_passed_through"]["states"]:
            passing[m.group(2)] = m.group(1)
            continue
        if m and m.group(1) in passing:
            line = "sup %s -> %s" % (passing.pop(m.group(1)), m.group(2))
        if any(re.search(d["re"], line) for d in setup.design["log_lines_dropped"]):
            continue
        lines.append(normalize(setup, unit, line))
    return lines


def status_fields(setup, unit, st):
    """The status record, flattened to dotted keys, with the fields by design compared as the list
    says: "ignore" (left out), "presence" (set or null)."""
    if st is None:
        return {"(status)": "no such unit"}
    flat = {}

    def walk(prefix, v):
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(prefix + "." + k if prefix else k, x)
        else:
            flat[prefix] = v
    walk("", st)
    rules = setup.design["status_fields"]
    out = {}
    for k, v in flat.items():
        rule = next((r for r in rules if k == r["field"] or k.startswith(r["field"] + ".")), None)
        if rule and rule["compare"] == "ignore":
            continue
        if rule and rule["compare"] == "presence":
            v = "(set)" if v is not None else None
        if isinstance(v, str):
            v = normalize(setup, unit, v)
        out[k] = v
    return out


def wait_until(setup, unit, what, cond):
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        got = cond()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            st = status_of(setup, unit) or {}
            return "timed out waiting for %s (state %s, reason %s)" % (what, st.get("state"), st.get("reason"))
        time.sleep(POLL)


def step(setup, unit, line):
    """Runs one step on one twin; returns what it showed (compared with the other twin's)."""
    words = shlex.split(line)
    verb, rest = words[0], words[1:]
    if verb == "wait" and rest and rest[0] in ("running", "healthy"):
        argv = ["wait", unit.name, "--timeout", "%ds" % WAIT_TIMEOUT]
        if rest[0] == "healthy":
            argv.append("--healthy")
        rc, out, err = setup.ctl(*argv)
        return "exit %d: %s" % (rc, normalize(setup, unit, (out + err).strip()))
    if verb == "wait" and rest and rest[0] in ("exited", "state"):
        want = ("exited", "failed") if rest[0] == "exited" else tuple(rest[1].split("|"))

        def cond():
            st = status_of(setup, unit)
            return st["state"] if st and st["state"] in want else None
        return "state " + wait_until(setup, unit, "state " + "|".join(want), cond)
    if verb == "wait" and rest and rest[0] == "health":
        def cond():
            st = status_of(setup, unit)
            h = (st or {}).get("health") or {}
            return h.get("status") if h.get("status") == rest[1] else None
        return "health " + wait_until(setup, unit, "health " + rest[1], cond)
    if verb == "clock":
        # The workload's wall clock read between two readings of the host's: in the window or not
        # (how far off it is, is a number that differs run by run; whether it is off, is not).
        before = time.time_ns()
        # busybox date has no %N: the probe prints CLOCK_REALTIME in ns ("realtime=N").
        rc, out, err = setup.ctl("exec", unit.name, "--", "/probe/sup-probe", "clock")
        after = time.time_ns()
        try:
            t = int(out.strip().removeprefix("realtime="))
        except ValueError:
            return "exit %d: %s%s" % (rc, out, err)
        return "the clock is %s" % ("the host's" if before <= t <= after else
                                   "off (%+.3f s)" % ((t - (before if t < before else after)) / 1e9))
    if verb == "wait" and rest and rest[0] == "log":
        text = " ".join(rest[1:])
        return wait_until(setup, unit, "log line " + text,
                          lambda: "seen" if any(text in l for l in log_lines(setup, unit)
                                                if l.startswith(("stdout ", "stderr "))) else None)
    if verb == "exec":
        opts = rest[:rest.index("--")] if "--" in rest else []
        cmd = rest[rest.index("--") + 1:] if "--" in rest else rest
        rc, out, err = setup.ctl("exec", unit.name, *opts, "--", *cmd)
        return "exit %d\nstdout:\n%s\nstderr:\n%s" % (rc, normalize(setup, unit, out), normalize(setup, unit, err))
    if verb in ("start", "stop", "restart"):
        rc, out, err = setup.ctl(verb, unit.name)
        return "exit %d: %s" % (rc, normalize(setup, unit, (out + err).strip()))
    if verb in ("http", "http6"):
        cport = rest[0]
        path = rest[1] if len(rest) > 1 else "/"
        if cport not in unit.ports:
            return "no published port for container port %s" % cport
        host = "127.0.0.1" if verb == "http" else "[::1]"
        try:
            with urllib.request.urlopen("http://%s:%d%s" % (host, unit.ports[cport], path), timeout=30) as r:
                return "HTTP %d\n%s" % (r.status, r.read().decode(errors="replace"))
        except urllib.error.HTTPError as e:
            return "HTTP %d" % e.code
        except OSError as e:
            return "error: %s" % e
    if verb == "status":
        return status_fields(setup, unit, status_of(setup, unit))
    raise ValueError("unknown step: " + line)


def run_twin(setup, unit):
    case = unit.case
    steps = case.steps or [(0, "wait exited")]
    for n, line in steps:
        label = "step %d: %s" % (n, line) if n else line
        if line.startswith("timed "):
            continue
        if line == "logs":
            add_logs(setup, unit, label)
        else:
            unit.observed.append((label, step(setup, unit, line)))
    unit.observed.append(("final status", status_fields(setup, unit, status_of(setup, unit))))
    add_logs(setup, unit, "log")


def add_logs(setup, unit, label):
    """The log as two sequences, the workload's lines (stdout and stderr in their order) and sup's:
    how the two interleave is timing (a health check's verdict against a heartbeat line)."""
    lines = log_lines(setup, unit)
    # Lines the workload prints on a clock (a `timed` step): how many depends on timing; that there
    # were some does not.
    for n, line in unit.case.steps:
        if line.startswith("timed "):
            rx = shlex.split(line)[1]
            seen = any(re.search(rx, l) for l in lines)
            lines = [l for l in lines if not re.search(rx, l)]
            if seen:
                lines.append("(lines matching %s)" % rx)
    unit.observed.append((label + ": workload", [l for l in lines if not l.startswith("sup ")]))
    unit.observed.append((label + ": sup", [l for l in lines if l.startswith("sup ")]))


def stop_if_running(setup, unit):
    """A service keeps running otherwise (and a guest its CPU)."""
    st = status_of(setup, unit)
    if st and st["state"] not in ("stopped", "exited", "failed"):
        setup.ctl("stop", unit.name)


# --- the comparison ----------------------------------------------------------------------------

def fmt(v):
    if isinstance(v, list):
        return "\n".join(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True)


def without_known(setup, case, label, v):
    """v without the lines of known findings (findings.json) for this case and label; and the
    findings that took lines out."""
    hits = []
    for k in setup.findings:
        if k["case"] == case.name and re.search(k["label"], label) and isinstance(v, list):
            kept = [l for l in v if not re.search(k["line"], l)]
            if kept != v:
                hits.append(k["finding"])
            v = kept
    return v, hits


def compare(setup, case):
    """The mismatches of a case: (label, process value, hyperv value, diff lines); and the known
    findings (findings.json) that were all there was to a mismatch."""
    p, h = case.units["process"], case.units["hyperv"]
    found, known = [], []
    for (label, pv), (_, hv) in zip(p.observed, h.observed):
        if pv != hv:
            pk, pk_hits = without_known(setup, case, label, pv)
            hk, hk_hits = without_known(setup, case, label, hv)
            if pk == hk:
                known += [f for f in pk_hits + hk_hits if f not in known]
                continue
        if isinstance(pv, dict) and isinstance(hv, dict):
            for k in sorted(set(pv) | set(hv)):
                if pv.get(k, "(absent)") != hv.get(k, "(absent)"):
                    found.append(("%s: %s" % (label, k), fmt(pv.get(k, "(absent)")), fmt(hv.get(k, "(absent)")), None))
        elif pv != hv:
            a, b = fmt(pv).splitlines(), fmt(hv).splitlines()
            diff = list(difflib.unified_diff(a, b, "process", "hyperv", lineterm="", n=2))[2:]
            found.append((label, fmt(pv), fmt(hv), diff))
    return found, known


def report(setup, case, found, known, seconds):
    lines = []
    if not found:
        lines.append("ok   %s (%.0f s)" % (case.name, seconds))
    else:
        lines.append("FAIL %s: %d mismatch%s" % (case.name, len(found), "es" if len(found) > 1 else ""))
    lines.extend("     known finding (findings.json): " + k for k in known)
    if found:
        for label, pv, hv, diff in found:
            if diff is not None and (pv.count("\n") or hv.count("\n")):
                lines.append("     %s (- process, + hyperv):" % label)
                lines.extend("       " + l for l in diff)
            else:
                lines.append("     %s: process %s, hyperv %s" % (label, pv, hv))
        lines.append("     (%s)" % case.title)
    setup.say("\n".join(lines))


# --- the cases and their groups ----------------------------------------------------------------

def load_cases(setup, only):
    cases = []
    cdir = os.path.join(HERE, "cases")
    for f in sorted(os.listdir(cdir)):
        if f.endswith(".yaml"):
            name = f[:-5]
            cases.append(Case(name, os.path.join(cdir, f), os.path.join(cdir, name + ".steps"), "case"))
    # The examples as they are in the tree; their units refer to each other (requires, share) and
    # so run as one group.
    names = sorted(f[:-5] for f in os.listdir(setup.examples) if f.endswith(".yaml"))
    for name in names:
        cases.append(Case(name, os.path.join(setup.examples, name + ".yaml"),
                          os.path.join(HERE, "examples", name + ".steps"), "example",
                          peers=[n for n in names if n != name]))
    if only:
        cases = [c for c in cases if c.name in only]
    skips = setup.design["skipped"]
    for c in cases:
        for s in skips:
            if s["case"] == c.name:
                c.units[s["mode"]].skipped = s["why"]
    return cases


def validate(setup, units):
    """`supctl validate` of the staged files of one mode of a group: "ok" or what it said."""
    rc, out, err = setup.ctl("validate", *[os.path.join(setup.staging, u.name + ".yaml") for u in units], timeout=60)
    return "ok" if rc == 0 else "exit %d: %s" % (rc, "\n".join(normalize(setup, u, (out + err).strip()) for u in units[:1]))


def run_group(setup, cases):
    """Stages, validates and loads a group's units, then runs every twin's steps side by side."""
    names = [c.name for c in cases]
    started = time.monotonic()
    live = []
    for mode in MODES:
        units = [c.units[mode] for c in cases if not c.units[mode].skipped]
        for u in units:
            with open(os.path.join(setup.staging, u.name + ".yaml"), "w") as f:
                f.write(twin_text(setup, u.case, u, names))
        if not units:
            continue
        verdict = validate(setup, units)
        for u in units:
            u.observed.append(("supctl validate", verdict))
        if verdict == "ok":
            live += units
    error = setup.add_units([os.path.join(setup.staging, u.name + ".yaml") for u in live]) if live else None
    if error:
        for u in live:
            u.observed.append(("load", error))
        live = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(live))) as pool:
        for f in [pool.submit(run_twin, setup, u) for u in live]:
            f.result()
        # Only once the whole group is done: a unit that another one requires is stopped before it.
        for f in [pool.submit(stop_if_running, setup, u) for u in live]:
            f.result()
    results = []
    for c in cases:
        skipped = [m for m in MODES if c.units[m].skipped]
        if skipped:
            setup.say("skip %s (%s): %s" % (c.name, ", ".join(skipped), c.units[skipped[0]].skipped))
            continue
        found, known = compare(setup, c)
        report(setup, c, found, known, time.monotonic() - started)
        results.append((c, found))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--supd", required=True)
    ap.add_argument("--supctl", required=True)
    ap.add_argument("--monitor", required=True)
    ap.add_argument("--guest-dir", required=True)
    ap.add_argument("--probe")
    ap.add_argument("--examples", default=os.path.join(HERE, "..", "..", "examples"))
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("SUP_CONFORMANCE_JOBS", "4")))
    ap.add_argument("--keep", action="store_true", default=os.environ.get("SUP_TEST_KEEP") == "1")
    args = ap.parse_args()
    args.examples = os.path.realpath(args.examples)

    setup = Setup(args)
    cases = load_cases(setup, args.only)
    run_pending = os.environ.get("SUP_CONFORMANCE_PENDING") == "1"
    pending = [c for c in cases if c.pending and not run_pending]
    for c in pending:
        setup.say("pending %s: %s" % (c.name, c.pending))
    cases = [c for c in cases if c not in pending]
    if not args.probe:
        for c in cases:
            if "@PROBE@" in c.text:
                for u in c.units.values():
                    u.skipped = u.skipped or "no sup-probe in this build"
    groups = [[c] for c in cases if c.kind == "case"]
    examples = [c for c in cases if c.kind == "example"]
    if examples:
        groups.insert(0, examples)   # the longest first

    started = time.monotonic()
    setup.start_supd()
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for f in [pool.submit(run_group, setup, g) for g in groups]:
                results += f.result()
    finally:
        setup.stop_supd()
    bad = [c.name for c, found in results if found]
    print("%d/%d cases matched in %.0f s; %d pending; supd and the units' logs: %s" % (
        len(results) - len(bad), len(results), time.monotonic() - started, len(pending),
        setup.top if args.keep else "removed (SUP_TEST_KEEP=1 keeps them)"))
    if bad:
        print("mismatches in: " + " ".join(bad))
    if not args.keep:
        shutil.rmtree(setup.top, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
