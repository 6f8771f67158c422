#!/usr/bin/python3
"""Checks schemas/unit.schema.json, the unit corpora in tests/units/ and supctl against each other.

usage: check-schema.py [--schema-only] SCHEMA SUPCTL UNITS_DIR [EXAMPLES_DIR]

  a) SCHEMA is a valid draft 2020-12 schema, every property has a description and every object
     schema says what it does with unknown keys;
  b) every unit in UNITS_DIR/valid/ (and every *.yaml in EXAMPLES_DIR) matches the schema and
     `SUPCTL validate DIR` accepts each directory as a whole (units are validated as a set, like
     supd's units directory: a unit that requires another is only valid beside it);
  c) every unit in UNITS_DIR/invalid/ is refused by the schema and by `SUPCTL validate FILE` (exit
     status 1), whose standard error holds each `# expect:` text of the file's header;
  d) the same for UNITS_DIR/invalid-parser-only/ (supctl only: PyYAML cannot see these mistakes)
     and for each set of units UNITS_DIR/invalid-sets/CASE/ (`SUPCTL validate CASE-DIR`);
  e) `SUPCTL validate --json --print DIR` gives every valid unit's canonical JSON, which matches
     the schema and has absolute host paths; written out as unit files, the canonical forms
     validate again to the same specs and hashes;
  f) with an empty image store (--state-dir), --print adds what a unit of dir: layers only runs
     ("run": its spec with the image's defaults applied: the unit's command, env, user and
     working_dir, else "0" and "/"), and for a unit with a tar:, oci: or registry: layer says on
     stderr that its image's defaults are not known yet, and still exits 0.

--schema-only skips every supctl call (SUPCTL may then be anything, e.g. "-") and instead checks
the corpora themselves: headers present, fixture paths present, file names usable as unit names,
valid/ consistent as a set and each invalid-sets/ case inconsistent.

A file's expectations come from its leading comment lines (`# mistake: ...`, `# expect: ...`), or,
for files whose header cannot be a comment (UTF-16, bytes that are not UTF-8), from a sidecar
NAME.expect beside NAME.yaml holding the same lines with or without the leading `#`.

Prints one line per check and a closing "N passed, N failed"; exits 1 if any check failed.
Needs only python3-jsonschema (>= 4.0, for draft 2020-12) and python3-yaml.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

UNIT_SUFFIXES = (".yaml", ".yml")
UNIT_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
SUPCTL_TIMEOUT = 60  # seconds; the billion-laughs file must not make supctl spin


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, what):
        self.passed += 1
        print("ok   %s" % what, flush=True)

    def fail(self, what, why):
        self.failed += 1
        print("FAIL %s: %s" % (what, why), flush=True)

    def check(self, what, problems):
        """Records one check: passes when problems is empty."""
        if problems:
            self.fail(what, "; ".join(problems))
        else:
            self.ok(what)


# ---- schema ------------------------------------------------------------------------------------

def lint_schema(schema):
    """Returns the places where the schema lacks a description or leaves unknown keys open.

    Walks the schemas that describe data (properties, $defs, items, branches of oneOf/anyOf), not
    the conditions of if/then/else/not/contains, which only test values already described. An
    object may leave closing to its variants: a discriminated union written as allOf of
    {if: {type: const}, then: closed object}, which gives editors better messages than oneOf."""
    problems = []

    def delegated(node):
        branches = node.get("allOf") or []
        return bool(branches) and all(isinstance(b, dict) and isinstance(b.get("then"), dict)
                                      and b["then"].get("additionalProperties") is False for b in branches)

    def walk(node, where):
        if not isinstance(node, dict):
            return
        props = node.get("properties")
        if node.get("type") == "object" or props is not None:
            if "additionalProperties" in node or "unevaluatedProperties" in node:
                pass
            elif delegated(node):
                for i, branch in enumerate(node["allOf"]):
                    walk(branch["then"], "%s.allOf[%d].then" % (where, i))
            else:
                problems.append("%s: object without additionalProperties" % where)
        for key, sub in (props or {}).items():
            if isinstance(sub, dict) and "description" not in sub:
                problems.append("%s.%s: no description" % (where, key))
            walk(sub, "%s.%s" % (where, key))
        for key, sub in node.get("$defs", {}).items():
            if isinstance(sub, dict) and "description" not in sub:
                problems.append("$defs.%s: no description" % key)
            walk(sub, "$defs.%s" % key)
        if isinstance(node.get("items"), dict):
            walk(node["items"], where + "[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], where + ".*")
        for key in ("prefixItems", "oneOf", "anyOf"):
            for i, sub in enumerate(node.get(key, [])):
                walk(sub, "%s.%s[%d]" % (where, key, i))

    walk(schema, "(root)")
    return problems


def instance_path(error):
    out = ""
    for part in error.absolute_path:
        out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(root)"


def schema_errors(validator, instance):
    """Returns the schema's complaints about instance, one string each."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    out = []
    for e in errors:
        best = jsonschema.exceptions.best_match([e])
        out.append("%s: %s" % (instance_path(best), best.message))
    return out


def load_yaml(path):
    """PyYAML's reading of a unit file, or raises with a one-line message."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as e:
        raise ValueError("PyYAML cannot read it: %s" % str(e).replace("\n", " "))


# ---- corpora -----------------------------------------------------------------------------------

def unit_files(directory):
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.endswith(UNIT_SUFFIXES) and os.path.isfile(os.path.join(directory, f)))


def sidecar(path):
    stem = os.path.splitext(path)[0]
    for candidate in (stem + ".expect", path + ".expect"):
        if os.path.isfile(candidate):
            return candidate
    return None


def read_header(path):
    """Returns (mistakes, expects) from the file's sidecar or its leading comment lines."""
    side = sidecar(path)
    with open(side or path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    mistakes, expects = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#") and not side:
            break  # the header ends at the first line of YAML
        body = stripped.lstrip("#").strip()
        if body.startswith("mistake:"):
            mistakes.append(body[len("mistake:"):].strip())
        elif body.startswith("expect:"):
            # Only the one space after the colon is syntax; the text itself may start with ":".
            rest = body[len("expect:"):]
            expects.append(rest[1:] if rest.startswith(" ") else rest)
    return mistakes, [e for e in expects if e]


def header_problems(path):
    mistakes, expects = read_header(path)
    problems = []
    if not mistakes:
        problems.append("no '# mistake:' line")
    if not expects:
        problems.append("no '# expect:' line")
    return problems


def effective_name(path, unit):
    if isinstance(unit, dict) and "name" in unit:
        return unit["name"]
    return os.path.splitext(os.path.basename(path))[0]


def host_paths(unit):
    """Yields (YAML path, value) for every host path a unit names, skipping malformed parts."""
    if not isinstance(unit, dict):
        return
    image = unit.get("image")
    layers = image.get("layers") if isinstance(image, dict) else None
    for i, layer in enumerate(layers if isinstance(layers, list) else []):
        if isinstance(layer, dict):
            for kind in ("dir", "tar", "oci"):  # registry: names no host path
                if isinstance(layer.get(kind), str):
                    yield "image.layers[%d].%s" % (i, kind), layer[kind]
    mounts = unit.get("mounts")
    for i, mount in enumerate(mounts if isinstance(mounts, list) else []):
        if isinstance(mount, dict) and mount.get("type") == "bind" and isinstance(mount.get("source"), str):
            yield "mounts[%d].source" % i, mount["source"]
    security = unit.get("security")
    seccomp = security.get("seccomp") if isinstance(security, dict) else None
    if isinstance(seccomp, str) and seccomp not in ("default", "unconfined"):
        yield "security.seccomp", seccomp
    vm = unit.get("vm")
    kernel = vm.get("kernel") if isinstance(vm, dict) else None
    if isinstance(kernel, str) and kernel != "default":
        yield "vm.kernel", kernel


def missing_paths(path, unit):
    base = os.path.dirname(os.path.abspath(path))
    return ["%s: %s does not exist" % (where, value) for where, value in host_paths(unit)
            if not os.path.exists(os.path.join(base, value))]


PORT_RE = re.compile(r"^(?:(\[[^\]]*\]|[0-9.]+):)?([0-9]+):([0-9]+)(?:/(tcp|udp))?$")
WILDCARD = (None, "0.0.0.0", "[::]")


def user_namespace(unit):
    return (unit.get("security") or {}).get("user_namespace")


def set_problems(units):
    """The generation rules of docs/unit-format.md over {path: unit}: returns what breaks them."""
    problems = []
    by_name = {}
    for path, unit in units.items():
        name = effective_name(path, unit)
        if name in by_name:
            problems.append("%s and %s both define unit %s" % (by_name[name], os.path.basename(path), name))
        by_name[name] = os.path.basename(path)

    named = {effective_name(p, u): u for p, u in units.items() if isinstance(u, dict)}
    published = []
    for name, unit in sorted(named.items()):
        for spec in unit.get("ports") or []:
            m = PORT_RE.match(str(spec))
            if not m:
                continue
            ip, host, proto = m.group(1), int(m.group(2)), m.group(4) or "tcp"
            for other, oip, ohost, oproto in published:
                if (ohost, oproto) == (host, proto) and (ip == oip or ip in WILDCARD or oip in WILDCARD):
                    problems.append("%s and %s both publish %s port %d" % (other, name, proto, host))
            published.append((name, ip, host, proto))

    edges = {}
    for name, unit in named.items():
        targets = list(unit.get("requires") or [])
        share = unit.get("share") or {}
        for kind in ("ipc", "pid", "network"):
            if kind in share:
                targets.append(share[kind])
                target = named.get(share[kind])
                if isinstance(target, dict) and target.get("isolation") == "hyperv":
                    problems.append("%s shares the %s namespace of hyperv unit %s" % (name, kind, share[kind]))
                elif isinstance(target, dict) and "auto" in (user_namespace(unit), user_namespace(target)):
                    problems.append("%s shares the %s namespace of %s across user namespaces" % (name, kind, share[kind]))
        for t in targets:
            if t not in named:
                problems.append("%s needs %s, which is not in the set" % (name, t))
        edges[name] = [t for t in targets if t in named]

    state = {}  # name -> 1 while on the DFS stack, 2 when done

    def visit(n, trail):
        state[n] = 1
        for t in edges[n]:
            if state.get(t) == 1:
                problems.append("cycle: %s" % " -> ".join(trail[trail.index(t):] + [t]))
            elif t not in state:
                visit(t, trail + [t])
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n, [n])
    return problems


# ---- supctl ------------------------------------------------------------------------------------

def run_supctl(supctl, args):
    """Returns (exit status, stdout, stderr); status is a string when supctl did not exit normally."""
    try:
        p = subprocess.run([supctl, "validate"] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=SUPCTL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timed out after %ds" % SUPCTL_TIMEOUT, "", ""
    except OSError as e:
        return "cannot run: %s" % e, "", ""
    out = p.stdout.decode("utf-8", errors="replace")
    err = p.stderr.decode("utf-8", errors="replace")
    if p.returncode < 0:
        return "killed by signal %d" % -p.returncode, out, err
    return p.returncode, out, err


def excerpt(text, limit=300):
    text = " | ".join(line for line in text.splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit] + "..."


def expect_accepted(supctl, args):
    rc, _, err = run_supctl(supctl, args)
    if isinstance(rc, str):
        return ["supctl validate %s" % rc]
    if rc != 0:
        return ["supctl validate exited %s: %s" % (rc, excerpt(err))]
    return []


def expect_refused(supctl, args, expects):
    rc, _, err = run_supctl(supctl, args)
    if isinstance(rc, str):
        return ["supctl validate %s" % rc]
    if rc != 1:
        return ["supctl validate exited %s, not 1: %s" % (rc, excerpt(err))]
    missing = [e for e in expects if e not in err]
    if missing:
        return ["stderr lacks %s; it was: %s" % (", ".join(repr(m) for m in missing), excerpt(err))]
    return []


LAYER_SOURCES = ("dir", "tar", "oci", "registry")


def canonical_paths(unit):
    return ["%s is not absolute: %s" % (where, value) for where, value in host_paths(unit)
            if not value.startswith("/")]


def canonical_set(supctl, paths):
    """Runs `SUPCTL validate --json --print PATHS`: returns ({file: unit JSON}, problems).

    Units are validated as a set, as supd loads its units directory: a unit that requires another
    is only valid next to it."""
    with tempfile.TemporaryDirectory() as state:
        rc, out, err = run_supctl(supctl, ["--json", "--print", "--state-dir", state] + paths)
    if rc != 0:
        return {}, ["supctl validate --json --print exited %s: %s" % (rc, excerpt(out + err))]
    try:
        result = json.loads(out)
    except ValueError as e:
        return {}, ["--json output is not JSON: %s" % e]
    if result.get("valid") is not True or result.get("errors"):
        return {}, ["--json output says the set is not valid"]
    return {u["file"]: dict(u, stderr=err) for u in result["units"]}, []


def run_problems(unit):
    """(f): the "run" supctl gives a unit when the image store is empty."""
    spec, run = unit["spec"], unit.get("run")
    kinds = {kind for layer in spec["image"]["layers"] for kind in layer if kind in LAYER_SOURCES}
    if kinds != {"dir"}:
        problems = ["a run, although its image is in no store"] if run is not None else []
        if "%s: the image's defaults" % spec["name"] not in unit["stderr"]:
            problems.append("no note on stderr that its image's defaults are not known yet")
        return problems
    if run is None:
        return ["no run, although dir: layers have no defaults to wait for"]
    want = dict(spec, command=spec["command"] + spec.get("args", []), user=spec.get("user", "0"),
                working_dir=spec.get("working_dir", "/"))
    want.pop("args", None)
    return ["run differs from the spec at %s" % key for key in sorted(set(want) | set(run))
            if want.get(key) != run.get(key)]


def check_canonical(report, validator, supctl, directory, paths, label):
    """(e): each unit's --print form matches the schema, and the set of canonical forms, written
    out as unit files, is a fixed point of --print (same specs, same hashes)."""
    units, problems = canonical_set(supctl, [directory])
    if problems:
        report.fail(label, "; ".join(problems))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            unit = units.get(path)
            if unit is None:
                report.fail("%s %s" % (label, path), "not among the units supctl accepted")
                continue
            problems = schema_errors(validator, unit["spec"]) + canonical_paths(unit["spec"])
            report.check("%s %s" % (label, path), problems)
            report.check("run %s" % path, run_problems(unit))
            with open(os.path.join(tmp, "%s.yaml" % unit["name"]), "w") as f:
                json.dump(unit["spec"], f, indent=2)
        again, problems = canonical_set(supctl, [tmp])
        if not problems:
            by_name = {u["name"]: u for u in again.values()}
            for unit in units.values():
                other = by_name.get(unit["name"])
                if other is None or other["spec"] != unit["spec"] or other["hash"] != unit["hash"]:
                    problems.append("%s: --print of the canonical form differs from it" % unit["name"])
        report.check("%s %s: canonical forms are a fixed point" % (label, directory), problems)


# ---- main --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schema-only", action="store_true", help="skip every supctl call")
    ap.add_argument("schema")
    ap.add_argument("supctl")
    ap.add_argument("units_dir")
    ap.add_argument("examples_dir", nargs="?")
    args = ap.parse_args()
    report = Report()
    supctl = None if args.schema_only else args.supctl
    if supctl and not (os.path.isfile(supctl) and os.access(supctl, os.X_OK)):
        report.fail("supctl %s" % supctl, "not an executable file (use --schema-only to skip supctl)")
        return finish(report)

    # (a) the schema itself
    try:
        with open(args.schema) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        report.fail("schema %s" % args.schema, str(e).splitlines()[0])
        return finish(report)
    report.ok("schema %s is a valid draft 2020-12 schema" % args.schema)
    report.check("schema lint: descriptions and closed objects", lint_schema(schema))
    validator = jsonschema.Draft202012Validator(schema)

    # (b) valid units
    valid_dir = os.path.join(args.units_dir, "valid")
    valid = unit_files(valid_dir)
    if not valid:
        report.fail("valid", "no unit files in %s" % valid_dir)
    loaded = {}
    for path in valid:
        try:
            unit = load_yaml(path)
        except ValueError as e:
            report.fail("valid %s" % path, str(e))
            continue
        loaded[path] = unit
        problems = ["schema: " + e for e in schema_errors(validator, unit)]
        problems += missing_paths(path, unit)
        if not UNIT_NAME_RE.match(str(effective_name(path, unit))):
            problems.append("the file name is not a unit name and the file sets no name")
        report.check("valid %s" % path, problems)
    if len(loaded) == len(valid):
        report.check("valid set %s is consistent" % valid_dir, set_problems(loaded))
    if supctl:
        report.check("valid set %s: supctl validate DIR" % valid_dir, expect_accepted(supctl, [valid_dir]))

    examples = unit_files(args.examples_dir) if args.examples_dir else []
    if args.examples_dir and os.path.isdir(args.examples_dir) and not examples:
        print("note: no unit files in %s" % args.examples_dir)
    for path in examples:
        try:
            problems = ["schema: " + e for e in schema_errors(validator, load_yaml(path))]
        except ValueError as e:
            problems = [str(e)]
        report.check("example %s" % path, problems)
    if supctl and examples:
        report.check("examples %s: supctl validate DIR" % args.examples_dir,
                     expect_accepted(supctl, [args.examples_dir]))

    # (c) invalid units: the schema and supctl both refuse them
    invalid_dir = os.path.join(args.units_dir, "invalid")
    invalid = unit_files(invalid_dir)
    if not invalid:
        report.fail("invalid", "no unit files in %s" % invalid_dir)
    for path in invalid:
        problems = header_problems(path)
        try:
            unit = load_yaml(path)
            if validator.is_valid(unit):
                problems.append("the schema accepts it")
            problems += missing_paths(path, unit)  # a second mistake would blur the test
        except ValueError as e:
            problems.append(str(e))
        if supctl and not problems:
            problems += expect_refused(supctl, [path], read_header(path)[1])
        report.check("invalid %s" % path, problems)

    # (d) mistakes only a strict parser sees, and broken sets of units
    parser_dir = os.path.join(args.units_dir, "invalid-parser-only")
    parser_only = unit_files(parser_dir)
    if not parser_only:
        report.fail("invalid-parser-only", "no unit files in %s" % parser_dir)
    for path in parser_only:
        problems = header_problems(path)
        if supctl and not problems:
            problems += expect_refused(supctl, [path], read_header(path)[1])
        report.check("invalid-parser-only %s" % path, problems)

    sets_dir = os.path.join(args.units_dir, "invalid-sets")
    cases = sorted(os.path.join(sets_dir, d) for d in os.listdir(sets_dir)
                   if os.path.isdir(os.path.join(sets_dir, d))) if os.path.isdir(sets_dir) else []
    if not cases:
        report.fail("invalid-sets", "no cases in %s" % sets_dir)
    for case in cases:
        problems, expects, units = [], [], {}
        for path in unit_files(case):
            expects += read_header(path)[1]
            try:
                units[path] = load_yaml(path)
            except ValueError as e:
                problems.append("%s: %s" % (os.path.basename(path), e))
                continue
            # Each file is a good unit by itself: only the set is wrong.
            problems += ["%s: schema: %s" % (os.path.basename(path), e)
                         for e in schema_errors(validator, units[path])]
            problems += ["%s: %s" % (os.path.basename(path), m) for m in missing_paths(path, units[path])]
        if len(units) < 1:
            problems.append("no unit files")
        if not expects:
            problems.append("no '# expect:' line in any file")
        if not problems and not set_problems(units):
            problems.append("the set rules find nothing wrong with it")
        if supctl and not problems:
            problems += expect_refused(supctl, [case], expects)
        report.check("invalid-set %s" % case, problems)

    # (e) the canonical form
    if supctl:
        check_canonical(report, validator, supctl, valid_dir, valid, "canonical")
        if examples:
            check_canonical(report, validator, supctl, args.examples_dir, examples, "canonical")

    return finish(report)


def finish(report):
    print("%d passed, %d failed" % (report.passed, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
