#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print the subsection titles (.SS) or definition terms (.TP) of one section (.SH) of a man
page, as plain text, one per line: what tests/docs.bats compares with the program.

Usage: man-items.py PAGE SECTION ss|tp
"""
import re
import sys


def plain(s):
    s = re.sub(r"\\f[BIRP]", "", s)
    s = s.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
    s = s.replace("\\(em", "--").replace("\\ ", " ")
    if s.startswith('"') and s.endswith('"'):
        s = s[1:-1]
    return s.strip()


def main(argv):
    if len(argv) != 4 or argv[3] not in ("ss", "tp"):
        sys.stderr.write(__doc__)
        return 2
    lines = open(argv[1], encoding="ascii").read().split("\n")
    section, found = None, False
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            section = plain(line[4:])
            found = found or section == argv[2]
            continue
        if section != argv[2]:
            continue
        if argv[3] == "ss" and line.startswith(".SS "):
            print(plain(line[4:]))
        elif argv[3] == "tp" and line == ".TP" and i + 1 < len(lines):
            print(plain(lines[i + 1]))
    if not found:
        sys.stderr.write("%s: no section %r\n" % (argv[1], argv[2]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
