#!/usr/bin/env python3
"""Prints CHANGELOG.md (Keep a Changelog) as a Debian changelog, for the .deb's changelog.gz.

Usage: debian-changelog.py CHANGELOG.md "Name <email>"

Every `## [VERSION] - YYYY-MM-DD` section becomes one entry dated that day (00:00 UTC), newest
first as in the input; `## [Unreleased]` is left out. `### Kind` headings become `Kind:` lines,
`- item` bullets become `* item`, wrapped to 78 columns.
"""
import datetime
import re
import sys
import textwrap

path, maintainer = sys.argv[1], sys.argv[2]
heading = re.compile(r"^## \[([^\]]+)\](?:\s+-\s+(\d{4}-\d{2}-\d{2}))?\s*$")
entries = []  # (version, date, [(kind, [bullet text])])
current = None
with open(path, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        m = heading.match(line)
        if m:
            current = None
            if m.group(1).lower() == "unreleased":
                continue
            if not m.group(2):
                sys.exit(f"{path}: section [{m.group(1)}] has no date (## [X.Y.Z] - YYYY-MM-DD)")
            current = (m.group(1), m.group(2), [])
            entries.append(current)
        elif current is None or re.match(r"^\[[^\]]+\]:\s", line):
            continue
        elif line.startswith("### "):
            current[2].append((line[4:].strip(), []))
        elif line.startswith("- "):
            if not current[2]:
                current[2].append(("", []))
            current[2][-1][1].append(line[2:].strip())
        elif line.strip() and current[2] and current[2][-1][1]:
            current[2][-1][1][-1] += " " + line.strip()

if not entries:
    sys.exit(f"{path}: no released version section")
for version, date, kinds in entries:
    print(f"pidone ({version}) unstable; urgency=medium\n")
    for kind, bullets in kinds:
        if kind:
            print(f"  {kind}:")
        for bullet in bullets:
            print(textwrap.fill(bullet, 78, initial_indent="  * ", subsequent_indent="    "))
    day = datetime.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    # RFC 5322 date with English names, independent of the locale.
    stamp = "{}, {:02d} {} {} 00:00:00 +0000".format(
        ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()],
        day.day,
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[day.month - 1],
        day.year,
    )
    print(f"\n -- {maintainer}  {stamp}\n")
