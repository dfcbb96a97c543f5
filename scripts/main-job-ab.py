#!/usr/bin/env python3
"""Whole-process A/B of the main job (issue 13): where the wall time of `corvus generate` goes.

Runs each labelled command line in turn, ROUNDS times interleaved (so that a load that comes and
goes from other work on the machine hits every variant alike), and times each run from outside:
when the first stdout bytes arrive (the prompt, echoed once the JVM is up and the model and
tokenizer are loaded), when the next ones do (the first generated token: prefill done), the token
rate in the first 10, the next 40 and the rest of the tokens (JIT warm-up shows as a slow start),
the exit, the CPU time (user + sys, compiler threads included) and the peak RSS. Prints every run,
then per label the medians. Report `cat /proc/loadavg` with the numbers: on a shared 2-core
machine the CPU time is steadier than the wall time.

  scripts/main-job-ab.py --rounds 5 \\
      new='./corvus generate "Once upon a time" --steps 256 --temperature 0' \\
      old='/path/to/old/checkout/corvus generate "Once upon a time" --steps 256 --temperature 0' \\
      llama2c='OMP_NUM_THREADS=2 ~/.cache/corvus/llama2.c/run ~/.cache/corvus/stories15M/stories15M.bin \\
          -z ~/.cache/corvus/stories15M/tokenizer.bin -n 256 -i "Once upon a time" -t 0'

Each command runs under `bash -c`, so environment assignments (CORVUS_CACHE=..., CORVUS_JAVA_OPTS=...)
may lead it. A variant with a new launcher, jar or JVM option set makes its AOT cache on its first
run: run each once before measuring.
"""
import argparse
import os
import statistics
import subprocess
import time


def run_once(command):
    t0 = time.monotonic()
    p = subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    marks = []
    while True:
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        marks.append(time.monotonic() - t0)
    # this child's own usage (its descendants included), not every child's so far
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    return {"rc": rc, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024, "marks": marks}


def rate(marks, a, b):
    """Chunks per second between the a-th and b-th stdout chunk (a streamed token is one chunk)."""
    if a >= b or b >= len(marks) or marks[b] <= marks[a]:
        return None
    return (b - a) / (marks[b] - marks[a])


def describe(r):
    m = r["marks"]
    out = {"wall": r["wall"], "cpu": r["cpu"], "rss_mib": r["rss_mib"],
           "first_output": m[0] if m else None, "first_token": m[1] if len(m) > 1 else None,
           "rate_1_11": rate(m, 1, 11), "rate_11_51": rate(m, 11, 51), "rate_51_end": rate(m, 51, len(m) - 1)}
    return out


def fmt(v, f):
    return "-" if v is None else f % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("variants", nargs="+", metavar="LABEL=COMMAND")
    args = ap.parse_args()
    variants = []
    for v in args.variants:
        label, sep, command = v.partition("=")
        if not sep or not label or not command:
            ap.error(f"expected LABEL=COMMAND, got {v!r}")
        variants.append((label, command))
    cols = ["wall", "cpu", "rss_mib", "first_output", "first_token", "rate_1_11", "rate_11_51", "rate_51_end"]
    forms = {"wall": "%.2f", "cpu": "%.2f", "rss_mib": "%.0f", "first_output": "%.2f", "first_token": "%.2f",
             "rate_1_11": "%.0f", "rate_11_51": "%.0f", "rate_51_end": "%.0f"}
    results = {label: [] for label, _ in variants}
    print("label round " + " ".join(cols) + " load")
    for r in range(args.rounds):
        for label, command in variants:
            res = run_once(command)
            if res["rc"] != 0:
                print(f"{label} {r} exited with {res['rc']}")
                continue
            d = describe(res)
            results[label].append(d)
            load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
            print(f"{label} {r} " + " ".join(fmt(d[c], forms[c]) for c in cols) + f" {load}", flush=True)
    print("\nmedians (seconds; rates in tokens/s of streamed output)")
    print("label n " + " ".join(cols))
    for label, rows in results.items():
        med = {}
        for c in cols:
            vals = [x[c] for x in rows if x[c] is not None]
            med[c] = statistics.median(vals) if vals else None
        print(f"{label} {len(rows)} " + " ".join(fmt(med[c], forms[c]) for c in cols))


if __name__ == "__main__":
    main()
