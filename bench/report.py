#!/usr/bin/env python3
"""Builds the benchmark report from the drivers' JSON lines.

    bench/report.py --results RESULTS.jsonl --meta META.json --out-dir DIR [--docs docs/benchmarks.md]

Writes DIR/results.json (machine, versions, command, every run and the
medians), DIR/tables.md (the tables), DIR/benchmarks.png (if gnuplot is
installed) and, with --docs, replaces the part of that file between the
markers below with the tables. Repeated runs of one configuration are
summarised by their median (and the range of the throughput).

The runs labelled "replicated" (scripts/bench --series replicated: clusters
and a database with a synchronous standby, told apart by their
"deployment") have tables of their own, between their own markers, and
their raw results go to replicated.json beside the page, so that the
series can be rerun and written on its own. The runs labelled "http"
(scripts/bench --series http: yilian publishing over ZeroMQ and over
HTTPS, told apart by their "publish_over") likewise, into http.json.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

BEGIN = "<!-- BEGIN GENERATED RESULTS -->"
END = "<!-- END GENERATED RESULTS -->"
REPLICATED_BEGIN = "<!-- BEGIN GENERATED REPLICATED RESULTS -->"
REPLICATED_END = "<!-- END GENERATED REPLICATED RESULTS -->"
REPLICATED = "replicated"
HTTP_BEGIN = "<!-- BEGIN GENERATED HTTP RESULTS -->"
HTTP_END = "<!-- END GENERATED HTTP RESULTS -->"
HTTP = "http"
SYSTEM_NAMES = {"yilian": "yilian", "rabbitmq": "RabbitMQ", "nats-jetstream": "NATS JetStream", "zeromq": "raw ZeroMQ"}

# Display order and names of the configurations (system, durability class).
CONFIGS = [
    ("yilian", "fsync", "yilian, fsync"),
    ("rabbitmq", "fsync", "RabbitMQ, fsync"),
    ("yilian", "no-fsync", "yilian, no fsync"),
    ("rabbitmq", "no-fsync", "RabbitMQ, transient"),
    ("nats-jetstream", "no-fsync", "NATS JetStream, no fsync"),
    ("zeromq", "none", "raw ZeroMQ, no storage"),
]
NAMES = {(s, d): n for s, d, n in CONFIGS}
PEERS = {"fsync": [("rabbitmq", "fsync")],
         "no-fsync": [("rabbitmq", "no-fsync"), ("nats-jetstream", "no-fsync")]}

SETTLE_METRICS = ["settled_per_s", "settled_overall_per_s", "publish_s", "confirm_p50_ms", "confirm_p99_ms",
                  "confirm_p999_ms", "settle_p50_ms", "settle_p99_ms", "settle_p999_ms", "settle_max_ms",
                  "recorded_p50_ms", "recorded_p99_ms", "recorded_p999_ms", "cpu_s_per_1000", "client_cpu_s",
                  "peak_rss_mb", "request_p50_ms", "request_p99_ms"]
BACKLOG_METRICS = ["fill_per_s", "rss_mb", "peak_rss_fill_mb", "restart_ready_s", "rss_after_restart_mb",
                   "drain_per_s", "peak_rss_drain_mb"]


def load_runs(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def group_key(r):
    return (r.get("label", ""), r["system"], r["durability_class"], int(r["agencies"]), float(r["offered_rate"]),
            int(r["events"]) if r["mode"] == "backlog" else 0, r.get("deployment", ""), r.get("publish_over", ""),
            int(r.get("publish_batch", 1)), int(r.get("publish_connections", 1)))


def summarise(runs):
    groups = {}
    for r in runs:
        groups.setdefault(group_key(r), []).append(r)
    out = []
    for key, rs in groups.items():
        ok = [r for r in rs if r.get("ok")]
        s = {"label": key[0], "system": key[1], "durability_class": key[2], "agencies": key[3],
             "offered_rate": key[4], "deployment": key[6], "publish_over": key[7], "publish_batch": key[8],
             "publish_connections": key[9], "durability": rs[0].get("durability", ""),
             "mode": rs[0]["mode"], "events": int(rs[0]["events"]), "runs": len(rs),
             "failed": len(rs) - len(ok), "errors": sorted({r.get("error", "") for r in rs if not r.get("ok")})}
        procs = {int(r.get("server_processes", 1)) for r in ok}
        if procs:
            s["server_processes"] = max(procs)
        for m in (BACKLOG_METRICS if s["mode"] == "backlog" else SETTLE_METRICS):
            vals = [r[m] for r in ok if r.get(m) is not None]
            if vals:
                s[m] = statistics.median(vals)
                if m == "settled_per_s":
                    s["settled_per_s_min"], s["settled_per_s_max"] = min(vals), max(vals)
        out.append(s)
    return out


def find(summary, label, system, dclass, agencies=4, rate=0.0, events=0, deployment=""):
    for s in summary:
        if (s["label"], s["system"], s["durability_class"], s["agencies"], s["offered_rate"],
                s.get("deployment", "")) == (label, system, dclass, agencies, rate, deployment) and (
                events == 0 or s["events"] == events):
            return s
    return None


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def cell(s, metric, digits=0):
    if s is None:
        return "–"
    if s.get("failed") and metric not in s:
        return "failed"
    return fmt(s.get(metric), digits)


def ratio(a, b, higher_is_better=True):
    if a is None or b is None or not b or not a:
        return "–"
    r = a / b
    return f"{r:.2f}×"


def overloaded(s):
    """True if a fixed-rate run settled clearly less than it was offered."""
    return bool(s and s.get("offered_rate") and s.get("settled_overall_per_s") is not None
                and s["settled_overall_per_s"] < 0.95 * s["offered_rate"])


def config_order(s):
    keys = [(c[0], c[1]) for c in CONFIGS]
    k = (s["system"], s["durability_class"])
    return keys.index(k) if k in keys else len(keys)


def rates_present(summary):
    return sorted({s["offered_rate"] for s in summary if s["label"] == "rate"})


def tables(summary, meta):
    lines = []
    rates = rates_present(summary)
    lines.append("### Throughput, latency, CPU and memory (4 agencies)\n")
    lines.append("Medians of %s runs each. *Settled/s*: events settled at all 4 agencies per second, as fast as "
                 "possible with at most %s events unsettled; *CPU*: server CPU seconds per 1,000 events in that "
                 "run; *RSS*: server peak RSS in that run. Latencies in ms, from the moment an event was due "
                 "(offered rate) to the publish confirm, and to the moment the last of the 4 agencies "
                 "acknowledged it.\n" % (meta.get("repeat", "?"), meta.get("max_unsettled", "?")))
    head = "| system, durability | settled/s (range) | CPU s/1k | RSS MB |"
    sep = "|---|---:|---:|---:|"
    for r in rates:
        head += f" {int(r):,}/s confirm p50 / p99 | {int(r):,}/s settle p50 / p99 / p99.9 |"
        sep += "---:|---:|"
    lines += [head, sep]
    for system, dclass, name in CONFIGS:
        t = find(summary, "throughput", system, dclass)
        if t is None and not any(find(summary, "rate", system, dclass, rate=r) for r in rates):
            continue
        rng = ""
        if t and "settled_per_s_min" in t:
            rng = f" ({fmt(t['settled_per_s_min'])}–{fmt(t['settled_per_s_max'])})"
        row = f"| {name} | {cell(t, 'settled_per_s')}{rng} | {cell(t, 'cpu_s_per_1000', 3)} | " \
              f"{cell(t, 'peak_rss_mb', 0)} |"
        for r in rates:
            s = find(summary, "rate", system, dclass, rate=r)
            mark = " †" if overloaded(s) else ""
            row += f" {cell(s, 'confirm_p50_ms', 1)} / {cell(s, 'confirm_p99_ms', 1)}{mark} |"
            row += f" {cell(s, 'settle_p50_ms', 1)} / {cell(s, 'settle_p99_ms', 1)} / {cell(s, 'settle_p999_ms', 1)}{mark} |"
        lines.append(row)
    if any(overloaded(s) for s in summary if s["label"] == "rate"):
        lines.append("")
        lines.append("† The system settled less than the offered rate: events queued, and these latencies are a "
                     "queue that grew through the run, not the system's latency at that rate.")
    lines.append("")

    lines.append("### yilian against each peer at equal durability\n")
    lines.append("Ratios yilian ÷ peer (throughput: above 1 means yilian is faster; CPU, latency and memory: "
                 "below 1 means yilian uses less or is quicker).\n")
    head = "| durability | peer | settled/s | CPU per event | peak RSS |"
    sep = "|---|---|---:|---:|---:|"
    for r in rates:
        head += f" settle p99 at {int(r):,}/s |"
        sep += "---:|"
    lines += [head, sep]
    for dclass, peers in PEERS.items():
        y = find(summary, "throughput", "yilian", dclass)
        for peer in peers:
            p = find(summary, "throughput", *peer)
            row = f"| {dclass} | {NAMES[peer]} | {ratio(y and y.get('settled_per_s'), p and p.get('settled_per_s'))} |" \
                  f" {ratio(y and y.get('cpu_s_per_1000'), p and p.get('cpu_s_per_1000'))} |" \
                  f" {ratio(y and y.get('peak_rss_mb'), p and p.get('peak_rss_mb'))} |"
            for r in rates:
                ys = find(summary, "rate", "yilian", dclass, rate=r)
                ps = find(summary, "rate", *peer, rate=r)
                if overloaded(ys) or overloaded(ps):
                    row += " – † |"
                    continue
                row += f" {ratio(ys and ys.get('settle_p99_ms'), ps and ps.get('settle_p99_ms'))} |"
            lines.append(row)
    for dclass in ("fsync", "no-fsync"):
        y = find(summary, "throughput", "yilian", dclass)
        z = find(summary, "throughput", "zeromq", "none")
        if y and z:
            lines.append(f"| {dclass} | raw ZeroMQ (the ceiling) | "
                         f"{ratio(y.get('settled_per_s'), z.get('settled_per_s'))} | "
                         f"{ratio(y.get('cpu_s_per_1000'), z.get('cpu_s_per_1000'))} | "
                         f"{ratio(y.get('peak_rss_mb'), z.get('peak_rss_mb'))} |" + " – |" * len(rates))
    lines.append("")

    yr = [s for s in summary if s["system"] == "yilian" and s["label"] == "rate" and rates
          and s["offered_rate"] == rates[0] and s.get("recorded_p99_ms")]
    if yr:
        lines.append("yilian answers every consumer acknowledgement once it is recorded (and fsynced, with fsync); "
                     "the peers do not answer acknowledgements. Publish to *all 4 results recorded* in yilian, "
                     f"at {int(rates[0]):,}/s: " + "; ".join(
                         f"{NAMES[(s['system'], s['durability_class'])]}: p50 {fmt(s.get('recorded_p50_ms'), 1)} ms, "
                         f"p99 {fmt(s.get('recorded_p99_ms'), 1)} ms" for s in yr) + ".\n")

    ag = sorted({s["agencies"] for s in summary if s["label"] in ("agencies", "throughput")})
    if len(ag) > 1:
        lines.append("### Scaling with the number of agencies\n")
        lines.append("Events settled at every agency per second (deliveries per second = events × agencies), "
                     "as fast as possible.\n")
        lines.append("| system, durability | " + " | ".join(f"{a} agenc{'y' if a == 1 else 'ies'}" for a in ag) + " |")
        lines.append("|---|" + "---:|" * len(ag))
        for system, dclass, name in CONFIGS:
            cells = []
            for a in ag:
                s = find(summary, "agencies", system, dclass, agencies=a) or find(summary, "throughput", system,
                                                                                    dclass, agencies=a)
                cells.append(cell(s, "settled_per_s"))
            if any(c != "–" for c in cells):
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")

    bl = sorted([s for s in summary if s["mode"] == "backlog"], key=lambda s: (s["events"], config_order(s)))
    if bl:
        lines.append("### Backlog: one agency offline, then restart and drain\n")
        lines.append("The agency is offline while the events are published (*fill*: publish-confirm rate), the "
                     "server is restarted with that stored history (*restart*: seconds from starting the server "
                     "to the first delivery), then the agency drains the backlog (*drain*: events per second). "
                     "*RSS*: server resident memory with the backlog waiting, before the restart.\n")
        lines.append("| events waiting | system, durability | fill/s | RSS MB | restart s | drain/s |")
        lines.append("|---:|---|---:|---:|---:|---:|")
        for s in bl:
            name = NAMES.get((s["system"], s["durability_class"]), s["system"])
            restart = cell(s, "restart_ready_s", 2) if s.get("restart_ready_s", -1) >= 0 else "n/a"
            lines.append(f"| {s['events']:,} | {name} | {cell(s, 'fill_per_s')} | {cell(s, 'rss_mb')} | {restart} | "
                         f"{cell(s, 'drain_per_s')} |")
        lines.append("")

    failed = [s for s in summary if s["failed"] and s["label"] != REPLICATED]
    if failed:
        lines.append("Failed runs: " + "; ".join(
            f"{s['label']} {s['system']} ({s['durability_class']}): {s['failed']} of {s['runs']} ({', '.join(s['errors'])})"
            for s in failed) + "\n")
    return "\n".join(lines)


def replicated_name(s):
    return f"{SYSTEM_NAMES.get(s['system'], s['system'])}, {s.get('deployment') or 'one server'}"


def replicated_rows(summary):
    order = list(SYSTEM_NAMES)
    rows = [s for s in summary if s["label"] == REPLICATED]
    return sorted(rows, key=lambda s: (order.index(s["system"]) if s["system"] in order else len(order),
                                       s["durability_class"] != "fsync", s.get("deployment", "")))


def replicated_tables(summary, meta):
    rows = replicated_rows(summary)
    if not rows:
        return ""
    lines = ["### Replicated, no-loss configurations (4 agencies)\n"]
    lines.append("Medians of %s runs each, as fast as possible with at most %s events unsettled (the throughput "
                 "workload). *fsync*: the publish confirm follows an fsync of the event (on a majority of the "
                 "replicas, or on the primary and its synchronous standby). *CPU*: CPU seconds per 1,000 events "
                 "of all the server processes: the broker and every PostgreSQL process (the standby's too) for "
                 "yilian, the 3 nodes for the clusters. Latencies in ms from the send; in these closed-loop runs "
                 "they include the wait behind up to %s unsettled events.\n"
                 % (meta.get("repeat", "?"), meta.get("max_unsettled", "?"), meta.get("max_unsettled", "?")))
    lines.append("| system, deployment | fsync | settled/s (range) | confirm p50 / p99 | settle p99 | CPU s/1k |")
    lines.append("|---|---|---:|---:|---:|---:|")
    for s in rows:
        rng = ""
        if "settled_per_s_min" in s:
            rng = f" ({fmt(s['settled_per_s_min'])}–{fmt(s['settled_per_s_max'])})"
        fsync = "yes" if s["durability_class"] == "fsync" else "no"
        lines.append(f"| {replicated_name(s)} | {fsync} | {cell(s, 'settled_per_s')}{rng} | "
                     f"{cell(s, 'confirm_p50_ms', 1)} / {cell(s, 'confirm_p99_ms', 1)} | "
                     f"{cell(s, 'settle_p99_ms', 1)} | {cell(s, 'cpu_s_per_1000', 3)} |")
    lines.append("")
    ys = [s for s in rows if s["system"] == "yilian"]
    peers = [s for s in rows if s["system"] != "yilian"]
    if ys and peers:
        lines.append("Ratios yilian ÷ peer (settled/s: above 1 means yilian is faster; CPU per event and confirm "
                     "p99: below 1 means yilian uses less or is quicker).\n")
        lines.append("| yilian on | peer | settled/s | CPU per event | confirm p99 |")
        lines.append("|---|---|---:|---:|---:|")
        for y in ys:
            for p in peers:
                lines.append(f"| {y.get('deployment') or 'one server'} | {replicated_name(p)} | "
                             f"{ratio(y.get('settled_per_s'), p.get('settled_per_s'))} | "
                             f"{ratio(y.get('cpu_s_per_1000'), p.get('cpu_s_per_1000'))} | "
                             f"{ratio(y.get('confirm_p99_ms'), p.get('confirm_p99_ms'))} |")
        lines.append("")
    failed = [s for s in rows if s["failed"]]
    if failed:
        lines.append("Failed runs: " + "; ".join(
            f"{replicated_name(s)}: {s['failed']} of {s['runs']} ({', '.join(s['errors'])})" for s in failed) + "\n")
    return "\n".join(lines)


def http_name(s):
    if s.get("publish_over") == "https":
        return (f"HTTPS, batches of {s.get('publish_batch', '?')}, "
                f"{s.get('publish_connections', '?')} keep-alive connections")
    return "ZeroMQ, the reference client"


def http_tables(summary, meta):
    rows = sorted([s for s in summary if s["label"] == HTTP], key=lambda s: s.get("publish_over") == "https")
    if not rows:
        return ""
    lines = ["### Publishing over HTTPS against ZeroMQ (yilian, fsync, 4 agencies)\n"]
    lines.append("Medians of %s runs of %s events each, as fast as possible with at most %s events unsettled, "
                 "yilian with fsync on SQLite. *Confirm*: from handing an event to the publisher to its "
                 "confirm, in ms (over HTTPS: the answer to its batch, including the wait for a free connection); "
                 "*request*: an HTTPS request's round trip; *CPU*: broker CPU seconds per 1,000 events; *client "
                 "CPU*: the benchmark process's (publisher and 4 consumers) per 1,000 events.\n"
                 % (meta.get("repeat", "?"), fmt(rows[0].get("events")), meta.get("max_unsettled", "?")))
    lines.append("| publisher | settled/s (range) | confirm p50 / p99 | request p50 / p99 | settle p99 | CPU s/1k | "
                 "client CPU s/1k |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for s in rows:
        rng = ""
        if "settled_per_s_min" in s:
            rng = f" ({fmt(s['settled_per_s_min'])}–{fmt(s['settled_per_s_max'])})"
        request = "–"
        if s.get("request_p50_ms") is not None:
            request = f"{cell(s, 'request_p50_ms', 1)} / {cell(s, 'request_p99_ms', 1)}"
        client = None
        if s.get("client_cpu_s") is not None and s.get("events"):
            client = s["client_cpu_s"] * 1000 / s["events"]
        lines.append(f"| {http_name(s)} | {cell(s, 'settled_per_s')}{rng} | "
                     f"{cell(s, 'confirm_p50_ms', 1)} / {cell(s, 'confirm_p99_ms', 1)} | {request} | "
                     f"{cell(s, 'settle_p99_ms', 1)} | {cell(s, 'cpu_s_per_1000', 3)} | {fmt(client, 3)} |")
    lines.append("")
    zmq = next((s for s in rows if s.get("publish_over") != "https"), None)
    for h in (s for s in rows if s.get("publish_over") == "https"):
        if zmq is None:
            break
        rate = ratio(h.get("settled_per_s"), zmq.get("settled_per_s"))
        lines.append(f"HTTPS ÷ ZeroMQ: settled/s {rate}, broker CPU per event "
                     f"{ratio(h.get('cpu_s_per_1000'), zmq.get('cpu_s_per_1000'))}, confirm p99 "
                     f"{ratio(h.get('confirm_p99_ms'), zmq.get('confirm_p99_ms'))}. The target for batched HTTPS "
                     f"publishing is at least 0.50× the ZeroMQ rate: "
                     + ("met." if h.get("settled_per_s") and zmq.get("settled_per_s")
                        and h["settled_per_s"] >= 0.5 * zmq["settled_per_s"] else "not met.") + "\n")
    failed = [s for s in rows if s["failed"]]
    if failed:
        lines.append("Failed runs: " + "; ".join(
            f"{http_name(s)}: {s['failed']} of {s['runs']} ({', '.join(s['errors'])})" for s in failed) + "\n")
    return "\n".join(lines)


def docs_block(begin, end, meta, rel, raw, text, png=None):
    block = [begin, "",
             f"Measured {meta.get('date', '?')} on {meta.get('machine', '?')}; "
             f"yilian commit {meta.get('commit', '?')} ({meta.get('build', '?')}); "
             f"{meta.get('versions', '')}.",
             f"Command: `{meta.get('command', '?')}` ({meta.get('wall_s', '?')} s; load average "
             f"{meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after). "
             f"Raw results: [{rel}/{raw}]({rel}/{raw}).", "", text]
    if png:
        block += [f"![benchmark plots]({rel}/{png})", ""]
    block.append(end)
    return "\n".join(block)


def replace_block(doc, begin, end, block):
    if begin in doc and end in doc:
        return doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    return doc + "\n" + block + "\n"


def plot(summary, out_dir):
    if shutil.which("gnuplot") is None:
        return None
    rates = rates_present(summary)
    with open(os.path.join(out_dir, "plot_throughput.dat"), "w") as f:
        for system, dclass, name in CONFIGS:
            t = find(summary, "throughput", system, dclass)
            if t and t.get("settled_per_s"):
                f.write(f"\"{name}\" {t['settled_per_s']:.1f}\n")
    with open(os.path.join(out_dir, "plot_latency.dat"), "w") as f:
        for system, dclass, name in CONFIGS:
            vals = []
            for r in rates:
                s = find(summary, "rate", system, dclass, rate=r)
                vals.append(f"{s['settle_p99_ms']:.3f}" if s and s.get("settle_p99_ms") else "NaN")
            if any(v != "NaN" for v in vals):
                f.write(f"\"{name}\" " + " ".join(vals) + "\n")
    ag = sorted({s["agencies"] for s in summary if s["label"] in ("agencies", "throughput")})
    with open(os.path.join(out_dir, "plot_agencies.dat"), "w") as f:
        f.write("agencies " + " ".join(f"\"{n}\"" for _, _, n in CONFIGS) + "\n")
        for a in ag:
            row = [str(a)]
            for system, dclass, _ in CONFIGS:
                s = find(summary, "agencies", system, dclass, agencies=a) or find(summary, "throughput", system,
                                                                                    dclass, agencies=a)
                row.append(f"{s['settled_per_s']:.1f}" if s and s.get("settled_per_s") else "NaN")
            f.write(" ".join(row) + "\n")
    sizes = sorted({s["events"] for s in summary if s["mode"] == "backlog"})
    with open(os.path.join(out_dir, "plot_backlog.dat"), "w") as f:
        f.write("events " + " ".join(f"\"{n}\"" for _, _, n in CONFIGS) + "\n")
        for n in sizes:
            row = [str(n)]
            for system, dclass, _ in CONFIGS:
                s = next((b for b in summary if b["mode"] == "backlog" and b["events"] == n and
                          b["system"] == system and b["durability_class"] == dclass), None)
                row.append(f"{s['drain_per_s']:.1f}" if s and s.get("drain_per_s") else "NaN")
            f.write(" ".join(row) + "\n")
    rate_titles = " ".join(f"'{int(r):,}/s'" for r in rates)

    def has_data(name):
        with open(os.path.join(out_dir, name)) as f:
            return any(any(c[0].isdigit() for c in line.split()[1:] if c and c != "NaN") for line in f)

    def panel(name, title, commands):
        """A panel, or a placeholder when this run did not measure it."""
        if has_data(name):
            return f"set title '{title}'\n" + commands
        return (f"set title '{title}'\nunset logscale\nset label 1 'not measured in this run' at graph 0.5,0.5 "
                f"center\nplot [0:1][0:1] NaN notitle\nunset label 1\n")

    nl = "\n"
    p_throughput = panel("plot_throughput.dat", "Events settled at all 4 agencies per second (as fast as possible)",
                         f"plot '{out_dir}/plot_throughput.dat' using 2:xtic(1) linecolor rgb '#4472c4'")
    p_latency = panel("plot_latency.dat",
                      "Publish to settled at all 4 agencies, p99 (ms, log scale) at fixed offered rates",
                      f"set logscale y{nl}plot for [i=2:{len(rates) + 1}] '{out_dir}/plot_latency.dat' "
                      f"using i:xtic(1) title word(titles, i-1)")
    p_agencies = panel("plot_agencies.dat",
                       "Events settled at every agency per second, by number of agencies (log scale)",
                       f"set logscale x 2{nl}set logscale y{nl}plot for [i=2:{len(CONFIGS) + 1}] "
                       f"'{out_dir}/plot_agencies.dat' using 1:i title columnheader(i)")
    p_backlog = panel("plot_backlog.dat", "Drain rate after a restart, by backlog size (events/s, log scale)",
                      f"set logscale x 10{nl}set logscale y{nl}plot for [i=2:{len(CONFIGS) + 1}] "
                      f"'{out_dir}/plot_backlog.dat' using 1:i title columnheader(i)")
    script = f"""
set terminal pngcairo size 1400,1000 font ",10"
set output '{os.path.join(out_dir, "benchmarks.png")}'
set datafile missing 'NaN'
set multiplot layout 2,2
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set grid ytics
set key off
set xtics rotate by -25 noenhanced
set yrange [0:*]
{p_throughput}
set autoscale y
set key top left noenhanced
set style histogram clustered gap 1
titles = "{rate_titles}"
{p_latency}
unset logscale y
set style data linespoints
set xtics norotate
set xlabel 'agencies'
{p_agencies}
set format x '%.0f'
set xlabel 'events waiting'
{p_backlog}
unset multiplot
"""
    gp = os.path.join(out_dir, "benchmarks.gp")
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("report.py: gnuplot failed:\n" + r.stderr)
        return None
    return os.path.join(out_dir, "benchmarks.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--docs", help="markdown file whose generated section is replaced")
    ap.add_argument("--docs-assets", help="folder that receives results.json and benchmarks.png for --docs")
    a = ap.parse_args()
    runs = load_runs(a.results)
    with open(a.meta) as f:
        meta = json.load(f)
    summary = summarise(runs)
    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": runs}, f, indent=1, ensure_ascii=False)
    single = [s for s in summary if s["label"] not in (REPLICATED, HTTP)]
    main_text = tables(single, meta) if single else ""
    repl_text = replicated_tables(summary, meta)
    http_text = http_tables(summary, meta)
    text = "\n".join(t for t in (main_text, repl_text, http_text) if t)
    with open(os.path.join(a.out_dir, "tables.md"), "w") as f:
        f.write(text + "\n")
    png = plot(single, a.out_dir) if single else None
    print(text)
    if a.docs:
        assets = a.docs_assets or os.path.dirname(os.path.abspath(a.docs))
        os.makedirs(assets, exist_ok=True)
        rel = os.path.relpath(assets, os.path.dirname(os.path.abspath(a.docs)))
        with open(a.docs) as f:
            doc = f.read()
        if main_text:
            shutil.copy(os.path.join(a.out_dir, "results.json"), os.path.join(assets, "results.json"))
            if png:
                shutil.copy(png, os.path.join(assets, "benchmarks.png"))
            doc = replace_block(doc, BEGIN, END, docs_block(BEGIN, END, meta, rel, "results.json", main_text,
                                                            "benchmarks.png" if png else None))
        if repl_text:
            shutil.copy(os.path.join(a.out_dir, "results.json"), os.path.join(assets, "replicated.json"))
            doc = replace_block(doc, REPLICATED_BEGIN, REPLICATED_END,
                                docs_block(REPLICATED_BEGIN, REPLICATED_END, meta, rel, "replicated.json", repl_text))
        if http_text:
            shutil.copy(os.path.join(a.out_dir, "results.json"), os.path.join(assets, "http.json"))
            doc = replace_block(doc, HTTP_BEGIN, HTTP_END,
                                docs_block(HTTP_BEGIN, HTTP_END, meta, rel, "http.json", http_text))
        with open(a.docs, "w") as f:
            f.write(doc)


if __name__ == "__main__":
    main()
