#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: the end-to-end table from tools/bench/e2e.sh's runs, and every result as JSON.
#
#   bench_json.py OUT.json [--e2e RUNS.jsonl] [NAME=OUTPUT.txt ...]
#
# Prints the end-to-end table (Mpps, median of the runs, ratio to the ceiling; the per-backend
# distribution) and writes OUT.json: {"meta": ..., "e2e": ..., NAME: parsed rows ...}. The
# benchmark binaries' text outputs (bench_datapath, bench_maglev, bench_swap) are parsed by
# their table layouts (bench_datapath's side-by-side table with Katran, when it printed one,
# under datapath / katran); a table this script does not know is kept as its lines.
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time


def received(run):
    """Frames the sink counted as forwarded: encapsulated (xlb) or the VIP's own (ceiling)."""
    rows = run["sink"]["outer"]
    if run["kind"] == "xlb":
        return sum(r["packets"] for r in rows if r["proto"] in (4, 41)), \
            {r["dst"]: r["packets"] for r in rows if r["proto"] in (4, 41)}
    return sum(r["packets"] for r in rows if r["proto"] == 17 and r["dst"] == run["gen"]["dst"]), {}


def e2e(path):
    runs = [json.loads(x) for x in open(path) if x.startswith("{")]
    groups = {}
    for r in runs:
        n, per = received(r)
        secs = r["gen"]["seconds"]
        r["mpps"] = n / secs / 1e6 if secs > 0 else 0.0
        r["loss"] = 1 - n / r["gen"]["packets"] if r["gen"]["packets"] else 0.0
        r["per_backend"] = per
        groups.setdefault((r["family"], r["flows"], r["threads"]), {}).setdefault(
            r["kind"], []).append(r)
    rows = {}
    for (fam, flows, threads), kinds in sorted(groups.items(), key=lambda k: (k[0][2], k[0])):
        name = "IPv%d, %s flow%s%s" % (fam, "{:,}".format(flows), "" if flows == 1 else "s",
                                       "" if threads == 1 else ", %d threads" % threads)
        row = {"family": fam, "flows": flows, "threads": threads}
        for kind in ("xlb", "ceiling"):
            rs = kinds.get(kind, [])
            if not rs:
                continue
            m = [x["mpps"] for x in rs]
            row[kind + "_mpps"] = round(statistics.median(m), 3)
            row[kind + "_mpps_min"] = round(min(m), 3)
            row[kind + "_mpps_max"] = round(max(m), 3)
            row[kind + "_loss_max"] = round(max(x["loss"] for x in rs), 5)
            row[kind + "_runs"] = [round(x, 3) for x in m]
            if kind == "xlb":
                row["xlb_new_flow_share"] = round(statistics.median(
                    x["new_flows"] / x["gen"]["packets"] for x in rs), 4)
        if "xlb_mpps" in row and row.get("ceiling_mpps"):
            row["ratio"] = round(row["xlb_mpps"] / row["ceiling_mpps"], 3)
        dist = []
        for x in kinds.get("xlb", []):
            v = list(x["per_backend"].values())
            if v:
                mean = sum(v) / len(v)
                dist.append((max(v) / mean, min(v) / mean, len(v)))
        if dist and flows >= 1000000:
            row["backends"] = dist[0][2]
            row["max_over_mean"] = round(statistics.median(d[0] for d in dist), 3)
            row["min_over_mean"] = round(statistics.median(d[1] for d in dist), 3)
        rows[name] = row
    return rows, len(runs)


def print_e2e(rows, nruns):
    print("End to end: xlb-gen -> xlb (xlbd, native XDP on a veth, IPIP) -> xlb-sink, 64-byte")
    print("UDP frames, Mpps received at the sink; ceiling = the same path with an XDP program")
    print("that only returns XDP_TX in place of xlb, measured in the same run; median (min-max)")
    print("of the runs\n")
    print("| traffic | xlb Mpps | ceiling Mpps | xlb / ceiling | new flows | lost (xlb, ceiling) |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, r in rows.items():
        cell = lambda k: ("%.2f (%.2f-%.2f)" % (r[k + "_mpps"], r[k + "_mpps_min"],
                                                 r[k + "_mpps_max"])) if k + "_mpps" in r else "-"
        pct = lambda k: "%.1f %%" % (100 * r[k]) if k in r else "-"
        print("| %s | %s | %s | %s | %s | %s, %s |" % (
            name, cell("xlb"), cell("ceiling"), "%.2f" % r["ratio"] if "ratio" in r else "-",
            pct("xlb_new_flow_share"), pct("xlb_loss_max"), pct("ceiling_loss_max")))
    d = [(n, r) for n, r in rows.items() if "max_over_mean" in r]
    if d:
        print("\nPer-backend distribution (packets per backend at the sink, median of the runs):\n")
        print("| traffic | backends | max / mean | min / mean |")
        print("|---|--:|--:|--:|")
        for n, r in d:
            print("| %s | %d | %.3f | %.3f |" % (n, r["backends"], r["max_over_mean"],
                                                r["min_over_mean"]))
    print("\n(%d runs. new flows: the share of xlb's packets that recorded a new flow (a flow-"
          "\ntable miss); lost: the largest share of the frames sent that the sink did not count)"
          % nruns)


NUM = r"-?[\d.]+"


def parse_katran(lines):
    """bench_datapath's table of xlb beside Katran (make bench KATRAN=DIR), if it printed one."""
    cols = ("floor_ns", "xlb_net_ns", "katran_net_ns", "ratio")
    cell = r"(%s) \[(%s), (%s)\]" % (NUM, NUM, NUM)
    out = {}
    for ln in lines:
        m = re.match(r"^xlb beside Katran \(.*: Katran (.*), built by", ln)
        if m:
            out["katran_commit"] = m[1]
        m = re.match(r"^same wrapper, frames and floor; (\d+) rounds x (\d+) packets", ln)
        if m:
            out["rounds"], out["packets"] = int(m[1]), int(m[2])
        m = re.match(r"^\| (.+?) \| %s \|$" % " \| ".join([cell] * len(cols)), ln)
        if m:
            row = {}
            for i, c in enumerate(cols):
                row[c], row[c + "_min"], row[c + "_max"] = (float(x) for x in m.groups()[
                    1 + 3 * i:4 + 3 * i])
            out[m[1]] = row
    return out


def parse_datapath(lines):
    out = {}
    k = parse_katran(lines)
    if k:
        out["katran"] = k
    for ln in lines:
        m = re.match(r"^(\S.*?)\s{2,}(%s)\s+(%s)\s+(%s)x\s+(%s)$" % (NUM, NUM, NUM, NUM), ln)
        if m:
            out[m[1]] = {"ns": float(m[2]), "floor_ns": float(m[3]), "ratio": float(m[4]),
                         "net_ns": float(m[5])}
            continue
        m = re.match(r"^(\S.*?)\s{2,}(%s)$" % NUM, ln)
        if m:
            out[m[1] + " (no wrapper)"] = {"ns": float(m[2])}
    return out


def parse_markdown(lines):
    out, head = {}, None
    for ln in lines:
        if not ln.startswith("|"):
            head = None if not ln.strip() else head
            continue
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        if head is None:
            head = cells
            continue
        vals, key = {}, []
        for h, c in zip(head, cells):
            v = re.sub(r"[ %]", "", c)
            if re.fullmatch(NUM, v) and h not in ("M", "N"):
                vals[h] = float(v)
            else:
                key.append("%s=%s" % (h, c) if h in ("M", "N") else c)
        out[" ".join(key)] = vals
    return out


def parse_columns(lines):
    """Tables of whitespace-separated numbers under a header line (bench_swap)."""
    out, head, title = {}, None, ""
    for ln in lines:
        tok = ln.split()
        if not tok:
            head = None
            continue
        if tok[0] == "N" and len(tok) > 1:
            head = re.split(r"\s{2,}", ln.strip())
            continue
        if head and re.fullmatch(r"\d+", tok[0]):
            cells = re.split(r"\s+", ln.strip())
            if len(cells) == len(head):
                out["%s N=%s" % (title, cells[0])] = {
                    h: float(c.rstrip("x")) for h, c in zip(head[1:], cells[1:])
                    if re.fullmatch(NUM, c.rstrip("x"))}
            continue
        if not head:
            title = "large" if "M = 65537" in ln else "small" if "slots" in ln else title
    return out


def main(argv):
    out, res = argv[0], {}
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        meta["commit"] = subprocess.run(["git", "describe", "--always", "--dirty"],
                                        capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    res["meta"] = meta
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--e2e":
            path = args.pop(0)
            if os.path.exists(path):
                rows, n = e2e(path)
                if rows:
                    print_e2e(rows, n)
                    res["e2e"] = rows
            continue
        name, path = a.split("=", 1)
        if not os.path.exists(path):
            continue
        lines = open(path).read().splitlines()
        parsers = {"bench_datapath": parse_datapath, "bench_maglev": parse_markdown,
                   "bench_swap": parse_columns}
        rows = parsers.get(name, lambda _: {})(lines)
        res[name.replace("bench_", "")] = rows if rows else {"lines": lines}
    with open(out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    print("\nresults written to %s" % out)


if __name__ == "__main__":
    main(sys.argv[1:])
