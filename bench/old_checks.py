#!/usr/bin/env python3
"""The Python design's checks (lower() + substring tests + `re`), timed on the detector benchmark's
inputs: the baseline bench/run puts next to the Swift detector. Prints one JSON line per input.

Hostile inputs drive `re` into quadratic time, so they are timed on a prefix (16 KiB and 64 KiB)
to show the growth instead of waiting hours on the full MiB.
"""
import json, os, re, sys, time

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
DIGITS = re.compile(r"\d{10,}")

def analyze(text):
    alerts = []
    t = text.lower()
    if "password" in t or "secret" in t or "credentials" in t:
        alerts.append("personal_data")
    if "fraud" in t or "scam" in t or "fake" in t:
        alerts.append("fraud_attempt")
    if EMAIL.search(text):
        alerts.append("email_detected")
    if DIGITS.search(text):
        alerts.append("card_number_detected")
    return sorted(alerts)

def time_inputs(analyze, d, hostile=True, ends=("keyword",)):
    """Times `analyze` on the chat corpora (best of 3) and, with `hostile`, on 16 and 64 KiB of each
    hostile input — the end of those named in `ends`, the start of the others; one JSON line per
    measurement. bench/v2_checks.py times its nine codes with this too."""
    for name in ("ascii", "cyrillic"):
        msgs = open(os.path.join(d, name + ".txt"), encoding="utf-8").read().split("\n")[:-1]
        size = sum(len(m.encode()) for m in msgs)
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            for m in msgs:
                analyze(m)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        print(json.dumps({"input": name, "mb_per_s": size / best / 1e6, "msgs_per_s": len(msgs) / best}))
    for f in sorted(os.listdir(d)):
        if not hostile or not f.startswith("hostile-"):
            continue
        text = open(os.path.join(d, f), encoding="utf-8").read()
        for prefix in (16 << 10, 64 << 10):
            part = text[-prefix:] if any(e in f for e in ends) else text[:prefix]
            t0 = time.perf_counter()
            analyze(part)
            dt = time.perf_counter() - t0
            print(json.dumps({"input": f[8:-4], "bytes": len(part.encode()),
                              "mb_per_s": len(part.encode()) / dt / 1e6, "seconds": dt}))

if __name__ == "__main__":
    time_inputs(analyze, sys.argv[1])
