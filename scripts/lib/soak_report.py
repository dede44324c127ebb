#!/usr/bin/env python3
"""The summary of a soak run (scripts/soak): soak.md and missing.tsv in --out.

Reads soak.tsv (one record per interval), summary.json, confirmed.tsv,
settled.tsv and unsettled.tsv (yilian-soak-load's records). Compares the
first and the last hour of publishing (the first and last quarter when the
run is shorter than two hours), and checks that nothing was lost: every
event the platform saw confirmed must be in the broker's store (or, once it
archives, its archive) with its case settled (COMPLETED or ATTENTION). Cases
the platform saw no settling update for are looked up one by one with
GET /api/v1/cases/{id}; the store's case count comes from GET /api/v1/stats.
Exit 0 if the check passed, 1 if not (or the run was cut short).
"""
import argparse
import csv
import json
import os
import statistics
import sys
import urllib.error
import urllib.request

MAX_LOOKUPS = 5000  # cases looked up one by one; more are reported as not looked up


def num(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x  # NaN


def get(http, path):
    try:
        with urllib.request.urlopen(f"http://{http}{path}", timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


def window_figures(rows):
    def col(name):
        return [x for x in (num(r.get(name)) for r in rows) if x is not None]

    def med(v):
        return statistics.median(v) if v else None

    rss, fds = col("broker_rss_kb"), col("broker_fds")
    last = rows[-1] if rows else {}
    store = (num(last.get("db_bytes")) or 0) + (num(last.get("wal_bytes")) or 0)
    secs = sum(num(r.get("elapsed_s")) is not None for r in rows)
    published = sum(col("published"))
    return {
        "broker RSS, median / max (MiB)": (med(rss) and med(rss) / 1024, rss and max(rss) / 1024),
        "broker open fds, median / max": (med(fds), fds and max(fds)),
        "store at the end: yilian.db + -wal (MiB)": (store / 1048576, None),
        "archive at the end (MiB)": ((num(last.get("archive_bytes")) or 0) / 1048576, None),
        "confirm p50 per interval, median / max (ms)": (med(col("confirm_p50_ms")), max(col("confirm_p50_ms") or [0])),
        "confirm p99 per interval, median / max (ms)": (med(col("confirm_p99_ms")), max(col("confirm_p99_ms") or [0])),
        "settle p99 per interval, median / max (ms)": (med(col("settle_p99_ms")), max(col("settle_p99_ms") or [0])),
        "events published": (published, None),
    } if secs else {}


def fmt(v):
    if v is None or v == []:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def read_ids(path):
    ids = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if p and p[0]:
                    ids[p[0]] = p[1:]
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--http", required=True, help="HOST:PORT of the broker's HTTP API")
    ap.add_argument("--load-s", type=float, required=True, help="seconds of publishing")
    ap.add_argument("--command", default="scripts/soak")
    ap.add_argument("--partial", action="store_true", help="the run was cut short")
    a = ap.parse_args()

    with open(os.path.join(a.out, "soak.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    summary = {}
    if os.path.exists(os.path.join(a.out, "summary.json")):
        with open(os.path.join(a.out, "summary.json")) as f:
            summary = json.load(f)

    # The windows compared: publishing time only (the drain is apart).
    publishing = [r for r in rows if (num(r["elapsed_s"]) or 0) <= a.load_s + 1]
    end = max((num(r["elapsed_s"]) or 0) for r in publishing) if publishing else 0
    span = 3600 if end >= 7200 else end / 4
    label = "hour" if span == 3600 else f"quarter ({span / 60:.0f} min; the run is shorter than 2 hours)"
    first = [r for r in publishing if (num(r["elapsed_s"]) or 0) <= span]
    last = [r for r in publishing if (num(r["elapsed_s"]) or 0) > end - span]
    f_first, f_last = window_figures(first), window_figures(last)

    # The no-loss check.
    confirmed = read_ids(os.path.join(a.out, "confirmed.tsv"))
    settled = read_ids(os.path.join(a.out, "settled.tsv"))
    without_update = [i for i in confirmed if i not in settled]
    missing = []  # (event_id, what is wrong)
    settled_unseen = 0
    looked_up = 0
    for event_id in without_update:
        if looked_up >= MAX_LOOKUPS:
            missing.append((event_id, "not looked up (too many)"))
            continue
        looked_up += 1
        code, case = get(a.http, "/api/v1/cases/" + urllib.request.quote(event_id, safe=""))
        if code == 200 and case and case.get("state") in ("COMPLETED", "ATTENTION"):
            settled_unseen += 1  # settled; its update did not reach the platform in time
        elif code == 200 and case:
            missing.append((event_id, "stored, not settled: " + str(case.get("state"))))
        elif code == 410:
            settled_unseen += 1  # archived: only settled cases are
        elif code == 404:
            missing.append((event_id, "not in the store"))
        else:
            missing.append((event_id, f"could not be looked up (HTTP {code})"))
    _, stats = get(a.http, "/api/v1/stats")
    with open(os.path.join(a.out, "missing.tsv"), "w") as f:
        f.write("event_id\tproblem\n")
        for event_id, problem in missing:
            f.write(f"{event_id}\t{problem}\n")
    passed = not missing and not a.partial and bool(confirmed)

    md = ["# Soak run", "", f"`{a.command}`", ""]
    if a.partial:
        md += ["**Cut short** (interrupted, or the platform stopped early): no drain; the check below is "
               "not a verdict.", ""]
    total_h = summary.get("seconds", 0) / 3600 if summary else None
    md += [f"{len(rows)} records, {end / 3600:.2f} h of publishing"
           + (f", {total_h:.2f} h in all with the drain" if total_h else "") + ".", ""]
    md += [f"## First and last {label}", "", "| | first | last |", "|---|---|---|"]
    for k in f_first or {}:
        v1, v2 = f_first[k], f_last.get(k, (None, None))
        cell = lambda v: fmt(v[0]) + ("" if v[1] is None else " / " + fmt(v[1]))
        md.append(f"| {k} | {cell(v1)} | {cell(v2)} |")
    md += ["", "## Totals", ""]
    if summary:
        md += [f"- enterprises: {fmt(summary.get('enterprises'))}",
               f"- events published: {fmt(summary.get('published'))}; confirmed {fmt(summary.get('confirmed'))} "
               f"({fmt(summary.get('duplicates'))} of them as DUPLICATE after a resend); refused "
               f"{fmt(summary.get('refused'))}; never confirmed {fmt(summary.get('unconfirmed'))}",
               f"- cases settled (update seen by the platform): {fmt(summary.get('settled'))}, of which "
               f"{fmt(summary.get('attention'))} need attention",
               f"- publish to confirm: p50 {fmt(summary.get('confirm_p50_ms'))} ms, p99 "
               f"{fmt(summary.get('confirm_p99_ms'))} ms; publish to settled: p50 "
               f"{fmt(summary.get('settle_p50_ms'))} ms, p99 {fmt(summary.get('settle_p99_ms'))} ms",
               f"- drained: {'yes' if summary.get('drained') else 'no'}"]
    if stats:
        md.append(f"- the broker's /api/v1/stats at the end: {fmt(stats.get('cases'))} cases, "
                  f"{fmt(stats.get('in_progress'))} in progress, {fmt(stats.get('completed'))} completed, "
                  f"{fmt(stats.get('attention'))} need attention")
    md += ["", "## No-loss check", ""]
    md.append(f"Events the platform saw confirmed: {len(confirmed):,}; with a settling case update: "
              f"{len(confirmed) - len(without_update):,}; without one, looked up in the HTTP API: {looked_up:,} "
              f"({settled_unseen:,} found settled).")
    if stats and confirmed:
        cases = int(stats.get("cases", 0))
        md.append(f"Cases in the store: {cases:,} (confirmed: {len(confirmed):,}"
                  f"{'; the difference: stored but never confirmed to the platform' if cases > len(confirmed) else ''}"
                  f"; archived cases are not in this count: each one looked up above answered 410 ARCHIVED).")
    md.append("")
    if passed:
        md.append("**Passed**: every confirmed event is stored and its case settled.")
    elif not confirmed:
        md.append("**No verdict**: nothing was confirmed.")
    else:
        md.append(f"**{'Failed' if not a.partial else 'Incomplete'}**: {len(missing):,} confirmed event(s) not "
                  f"found settled (missing.tsv):")
        md += [""] + [f"- `{i}`: {p}" for i, p in missing[:100]]
        if len(missing) > 100:
            md.append(f"- ... and {len(missing) - 100:,} more")
    md += ["", "![soak](soak.png)", ""]
    with open(os.path.join(a.out, "soak.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(l for l in md if not l.startswith("![")))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
