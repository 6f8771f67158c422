#!/usr/bin/python3
"""Checks the man pages the build made from docs/man/ against what they document.

usage: check-man.py SUPD SUPCTL SCHEMA SUPD.8 SUPCTL.1 SUP.UNIT.5

  a) man(1) renders each page (man -l, all of groff's warnings on) with nothing on stderr: a
     table too wide, a line groff cannot break, a macro pandoc got wrong;
  b) supd(8) names every option of `supd --help`;
  c) supctl(1) names every command, subcommand and option of `supctl --help`;
  d) sup.unit(5) names every key of the unit schema (every "properties" name, at any depth):
     a key added to the schema and to the parser but not to docs/unit-format.md fails here.

Prints one line per check and a closing "N passed, N failed"; exits 1 if any check failed.
"""

import json
import os
import re
import subprocess
import sys

failed = passed = 0


def check(ok, what, why=""):
    global failed, passed
    if ok:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, ": " + why if why else ""))


def render(page):
    """The page as man shows it in 80 columns, its hyphenated line breaks joined again."""
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    r = subprocess.run(["man", "--warnings=w", "-l", page], env=env, capture_output=True, text=True)
    check(r.returncode == 0 and not r.stderr.strip() and r.stdout.strip(),
          "man -l %s renders without warnings" % os.path.basename(page),
          "exit %d: %s" % (r.returncode, r.stderr.strip()[:2000]))
    text = re.sub(r".\x08", "", r.stdout)  # overstrike bold and underline, if a pager left any
    return re.sub("[\u2010-]\n\\s*", "", text)


def mentions(text, word):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text) is not None


def help_of(binary):
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    return r.stdout


def main():
    supd, supctl, schema, supd8, supctl1, unit5 = sys.argv[1:7]

    # b) supd's options.
    text = render(supd8)
    options = sorted(set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", help_of(supd))))
    check(len(options) > 10, "supd --help lists its options", " ".join(options))
    for o in options:
        check(mentions(text, o), "supd(8) names %s" % o)

    # c) supctl's commands (the lines of its --help's command list: "  start|stop|restart UNIT",
    # "  image ls [--json]") and options.
    out = help_of(supctl)
    text = render(supctl1)
    flat = re.sub(r"\s+", " ", text)
    section = out.split("Commands:")[1].split("Options:")[0]
    commands = []
    for line in section.splitlines():
        m = re.match(r"^  ([a-z|]+)(?: (ls|inspect|pull|prune|rm)\b)?", line)
        if m:
            for c in m.group(1).split("|"):
                commands.append(c + (" " + m.group(2) if m.group(2) else ""))
    check(len(commands) >= 12, "supctl --help lists its commands", " ".join(commands))
    for c in commands:
        check(mentions(flat, c), "supctl(1) names the command %r" % c)
    options = sorted(set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*(?:=false)?)", out)))
    for o in options:
        check(mentions(flat, o), "supctl(1) names %s" % o)

    # d) the unit schema's keys.
    text = render(unit5)
    keys = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "properties" and isinstance(v, dict):
                    keys.update(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    with open(schema) as f:
        walk(json.load(f))
    check(len(keys) > 50, "the schema has its keys", str(len(keys)))
    missing = sorted(k for k in keys if not mentions(text, k))
    check(not missing, "sup.unit(5) names all %d keys of the schema" % len(keys), "missing: " + " ".join(missing))

    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
