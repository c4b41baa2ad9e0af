#!/usr/bin/env python3
"""Turns the outputs of scripts/bench-report.sh into the markdown of BENCHMARKS.md."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
root = out.parent  # target/

rows = []  # (group, name, who, allocs)
for line in (out / "allocs.tsv").read_text().splitlines():
    g, n, w, a = line.split("\t")
    rows.append((g, n, w, float(a)))

instr = {}
if (out / "instr.tsv").exists():
    for line in (out / "instr.tsv").read_text().splitlines():
        i, v = line.rsplit("\t", 1)
        instr[i] = float(v)

ns = {}
# Times only from a criterion run of this report (bench-report.sh --no-criterion skips it).
with_ns = (out / "criterion.log").exists()
for bench in (root / "criterion").glob("**/new/benchmark.json") if with_ns else []:
    b = json.loads(bench.read_text())
    est = json.loads((bench.parent / "estimates.json").read_text())
    ns[(b["group_id"], b["function_id"])] = est["median"]["point_estimate"]


def fmt(x, digits=1):
    return "–" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


print((out / "machine.txt").read_text().replace("\n", "  \n"))
if with_ns:
    print("| row | contender | ns/op (median) | instr/op | allocs/op | × floor ns | × floor instr |")
    print("|---|---|---:|---:|---:|---:|---:|")
else:
    print("| row | contender | instr/op | allocs/op | × floor instr |")
    print("|---|---|---:|---:|---:|")
groups = []
for g, n, w, a in rows:
    if g not in groups:
        groups.append(g)
for g in groups:
    members = [r for r in rows if r[0] == g]
    floor = next((r for r in members if r[2] == "floor"), None)
    f_ns = ns.get((g, floor[1])) if floor else None
    f_ir = instr.get(f"{g} :: {floor[1]}") if floor else None
    for _, n, w, a in members:
        t = ns.get((g, n))
        ir = instr.get(f"{g} :: {n}")
        name = f"**{n}**" if w == "steadfast" else n
        if with_ns:
            print(f"| {g} | {name} | {fmt(t)} | {fmt(ir, 0)} | {fmt(a, 0)} | {fmt(ratio(t, f_ns), 2)} | {fmt(ratio(ir, f_ir), 2)} |")
        else:
            print(f"| {g} | {name} | {fmt(ir, 0)} | {fmt(a, 0)} | {fmt(ratio(ir, f_ir), 2)} |")

extra = sorted(k for k in ns if k[0] not in groups)
if extra:
    print()
    print("criterion-only rows (2 threads on one shared breaker: wall time ÷ calls of both threads)")
    print()
    print("| row | contender | ns/call |")
    print("|---|---|---:|")
    for g, n in extra:
        print(f"| {g} | {n} | {fmt(ns[(g, n)])} |")

print()
print("steadfast vs each peer of its row (peer ÷ steadfast: above 1 means steadfast executes fewer instructions" + (" / is faster)" if with_ns else ")"))
print()
if with_ns:
    print("| row | steadfast | peer | ns ratio | instr ratio |")
    print("|---|---|---|---:|---:|")
else:
    print("| row | steadfast | peer | instr ratio |")
    print("|---|---|---|---:|")
for g in groups:
    members = [r for r in rows if r[0] == g]
    for _, s, w, _ in members:
        if w != "steadfast":
            continue
        for _, p, pw, _ in members:
            if pw != "peer":
                continue
            rn = ratio(ns.get((g, p)), ns.get((g, s)))
            ri = ratio(instr.get(f"{g} :: {p}"), instr.get(f"{g} :: {s}"))
            if with_ns:
                print(f"| {g} | {s} | {p} | {fmt(rn, 2)} | {fmt(ri, 2)} |")
            else:
                print(f"| {g} | {s} | {p} | {fmt(ri, 2)} |")

print()
print("size_of (bytes, x86_64):")
print()
print("| machine | bytes |")
print("|---|---:|")
for line in (out / "sizes.txt").read_text().splitlines():
    k, v = line.split("\t")
    print(f"| `{k}` | {v} |")
print()
print("flash per pattern (scripts/size-report.sh):")
print()
print("```")
print((out / "flash.txt").read_text().rstrip())
print("```")
