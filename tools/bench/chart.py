#!/usr/bin/env python3
"""Draws docs/performance.svg from benchmark JSON lines (tools/bench/run.sh --json).

    tools/bench/chart.py RESULTS.jsonl... > docs/performance.svg

One row per workload: how nanorun's rate compares with the best peer measured
in the same file at the same worker count (log scale; right of the line is
nanorun ahead); the bar and the figure are at 2 workers. With several worker
counts in the file (tools/bench/sweep.sh), each count gets its own mark on the
row. timer_fire is compared by p99 lateness (its rate is set by its
deadlines). libuv and redis-server are single-threaded whatever --workers
says (their lines say "workers": 1), so they are a peer at every worker
count of their workload. Standard library only.
"""
import json
import math
import sys
from collections import defaultdict

PEERS = ("asio", "tbb", "raw_epoll", "libuv", "redis")
SINGLE_THREADED = ("libuv", "redis")  # Compared at each of nanorun's worker counts.
NAMES = {"tbb": "oneTBB", "asio": "Asio", "raw_epoll": "raw epoll", "libuv": "libuv",
         "redis": "redis-server"}
SUBTITLE_NAMES = dict(NAMES, raw_epoll="a raw epoll server (tcp_*)", redis="redis-server (redis_*)")
SHORT_NAMES = dict(NAMES, raw_epoll="raw epoll (tcp_*)", redis="redis-server (redis_*)")
# idle_task_memory, smaller-is-better, reports rate = tasks per byte already.
LO, HI = 0.1, 20.0  # The axis: 0.1x .. 20x.
WIDTH, LEFT, RIGHT, ROW, TOP = 820, 170, 130, 26, 72
COLORS = {1: "#8e6cc2", 2: "#2b7bba", 4: "#e08a1e", 8: "#3a9a5b"}


def x_of(ratio):
    ratio = min(max(ratio, LO), HI)
    span = math.log(HI) - math.log(LO)
    return LEFT + (math.log(ratio) - math.log(LO)) / span * (WIDTH - LEFT - RIGHT)


def load(paths):
    rates = defaultdict(dict)  # (workload, workers) -> impl -> rate
    single = defaultdict(dict)  # workload -> impl -> rate, for SINGLE_THREADED peers
    order = []
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                key = (r["workload"], int(r.get("workers", 2)))
                rate = float(r["rate"])
                if "lateness_p99_us" in r:  # timer_fire: the rate is fixed by its deadlines;
                    rate = 1.0 / max(float(r["lateness_p99_us"]), 1.0)  # compare p99 lateness.
                if r["impl"] in SINGLE_THREADED:
                    single[key[0]][r["impl"]] = rate
                else:
                    rates[key][r["impl"]] = rate
                if key[0] not in order:
                    order.append(key[0])
    return rates, single, order


def main():
    paths = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not paths:
        sys.exit(__doc__)
    rates, single, order = load(paths)
    rows = []
    for w in order:
        marks = []
        for (workload, workers), by_impl in sorted(rates.items()):
            if workload != w or "nanorun" not in by_impl:
                continue
            peers = {p: by_impl[p] for p in PEERS if p in by_impl}
            peers.update(single.get(workload, {}))
            if not peers:
                continue
            best = max(peers, key=peers.get)
            marks.append((workers, by_impl["nanorun"] / peers[best], best))
        if marks:
            rows.append((w, marks))
    height = TOP + ROW * len(rows) + 40
    out = []
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
               f'font-family="sans-serif" font-size="12">')
    out.append(f'<rect width="{WIDTH}" height="{height}" fill="white"/>')
    out.append(f'<text x="10" y="20" font-size="14" font-weight="bold">nanorun / the best peer in the '
               f'same run (log scale; right of 1x: nanorun ahead)</text>')
    # The peers the file holds (a file without libuv or redis lines draws as
    # before); shorter wording when the sentence would not fit the width.
    present = [p for p in PEERS if any(p in by_impl for by_impl in rates.values()) or
               any(p in by_impl for by_impl in single.values())]
    subtitle = (f'Peers run here: {", ".join(SUBTITLE_NAMES[p] for p in present)}. '
                f'timer_fire compares p99 lateness, idle_task_memory bytes per task.')
    if len(subtitle) > 130:
        subtitle = (f'Peers: {", ".join(SHORT_NAMES[p] for p in present)}. '
                    f'timer_fire: p99 lateness; idle_task_memory: bytes/task.')
    out.append(f'<text x="10" y="38" fill="#555">{subtitle}</text>')
    counts = sorted({m[0] for _, marks in rows for m in marks})
    legend_x = LEFT
    for c in counts:
        out.append(f'<circle cx="{legend_x + 5}" cy="54" r="5" fill="{COLORS.get(c, "#555")}"/>')
        out.append(f'<text x="{legend_x + 14}" y="58">{c} worker{"s" if c > 1 else ""}</text>')
        legend_x += 90
    for tick in (0.1, 0.25, 0.5, 1, 2, 5, 10, 20):
        x = x_of(tick)
        stroke = "#333" if tick == 1 else "#ddd"
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{TOP + ROW * len(rows)}" '
                   f'stroke="{stroke}"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + ROW * len(rows) + 16}" text-anchor="middle">'
                   f'{tick:g}x</text>')
    for i, (w, marks) in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{w}</text>')
        main_mark = next((m for m in marks if m[0] == 2), marks[0])
        ratio = main_mark[1]
        color = "#3a9a5b" if ratio >= 1 else "#c0392b"
        out.append(f'<rect x="{min(x_of(1), x_of(ratio)):.1f}" y="{y - 6:.1f}" '
                   f'width="{abs(x_of(ratio) - x_of(1)):.1f}" height="12" fill="{color}" opacity="0.35"/>')
        for workers, r, _ in marks:
            out.append(f'<circle cx="{x_of(r):.1f}" cy="{y:.1f}" r="5" fill="{COLORS.get(workers, "#555")}"/>')
        peer = NAMES[main_mark[2]]
        out.append(f'<text x="{WIDTH - RIGHT + 8}" y="{y + 4:.1f}">{ratio:.2f}x {peer}</text>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
