#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-compare OLD=file`: every figure of an older bench.json beside the newer one.
#
#   bench_compare.py OLD.json NEW.json
#
# Compares the numeric leaves both files hold under the same path (lists of single runs are
# left out), prints old, new and the change in per cent, and lists what only one file holds.
# Read the ratios (to the floor, to the ceiling) first: this machine's absolute times drift.
import json
import sys


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = "%s / %s" % (prefix, k) if prefix else k
        if isinstance(v, dict):
            out.update(flatten(v, key))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = v
    return out


def main(old_path, new_path):
    old, new = json.load(open(old_path)), json.load(open(new_path))
    for side, d in (("old", old), ("new", new)):
        m = d.get("meta", {})
        print("%s: %s  %s  commit %s" % (side, side == "old" and old_path or new_path,
                                        m.get("date", "?"), m.get("commit", "?")))
    fo = flatten({k: v for k, v in old.items() if k != "meta"})
    fn = flatten({k: v for k, v in new.items() if k != "meta"})
    both = [k for k in fn if k in fo]
    width = max([len(k) for k in both] + [10])
    print("\n%-*s %12s %12s %9s" % (width, "figure", "old", "new", "change"))
    for k in both:
        o, n = fo[k], fn[k]
        ch = "%+8.1f%%" % (100.0 * (n - o) / o) if o else "        -"
        print("%-*s %12g %12g %s" % (width, k, o, n, ch))
    for title, keys in (("only in old", [k for k in fo if k not in fn]),
                        ("only in new", [k for k in fn if k not in fo])):
        if keys:
            print("\n%s: %s" % (title, ", ".join(keys)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: bench_compare.py OLD.json NEW.json")
    sys.exit(main(sys.argv[1], sys.argv[2]))
