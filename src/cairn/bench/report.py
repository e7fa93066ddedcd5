"""Turn the repeats of a storage benchmark into medians, ratios, target verdicts, a text table,
a JSON document and a PNG chart.

The targets encode the comparisons of DDIA ch. 3 that the cairn engines are built to win (or
lose on purpose): a Bitcask-style hash index against semidbm, an LSM-tree against RocksDB, a
B+tree against SQLite's B-tree, group commit against one fsync per write, and the log
engine's O(n) reads shown for how slow they are.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from typing import Any

from cairn.bench.common import Measurement, Series, fmt_bytes, fmt_rate, fmt_ratio, median, ratio
from cairn.bench.peers import CAIRN_ENGINES, STORES
from cairn.bench.workloads import LABELS, UNITS, WORKLOADS, BenchConfig, SystemRun

REFERENCE = "sqlite3"


@dataclass(frozen=True, slots=True)
class Target:
    """``system``'s ``workload`` rate must be at least ``min_ratio`` x ``ref_system``'s
    ``ref_workload`` rate, both measured in the same run."""

    name: str
    system: str
    workload: str
    ref_system: str
    ref_workload: str
    min_ratio: float


TARGETS: tuple[Target, ...] = (
    Target("hash random insert vs semidbm", "hash", "random_insert", "semidbm",
           "random_insert", 1.0),
    Target("hash point read vs semidbm", "hash", "point_read", "semidbm", "point_read", 1.0),
    Target("lsm random insert vs rocksdict", "lsm", "random_insert", "rocksdict",
           "random_insert", 1.0),
    Target("lsm point read vs rocksdict", "lsm", "point_read", "rocksdict", "point_read", 0.7),
    Target("lsm absent-key read vs its present-key read", "lsm", "absent_read", "lsm",
           "point_read", 1.5),
    Target("btree point read vs sqlite3", "btree", "point_read", "sqlite3", "point_read", 1.0),
    Target("btree random insert vs sqlite3", "btree", "random_insert", "sqlite3",
           "random_insert", 0.5),
    Target("btree range scan vs sqlite3", "btree", "range_scan", "sqlite3", "range_scan", 0.5),
    *(Target(f"{kind} group commit: 8 durable writers vs 1", kind, "durable_8w", kind,
             "durable_1w", 4.0) for kind in CAIRN_ENGINES),
)
# When the live data is larger than the cache (issue 11's `--keys 2000000 --cache-mib 16`),
# these replace the in-memory thresholds of the same name.
BEYOND_CACHE: dict[str, float] = {
    "btree point read vs sqlite3": 0.5,
    "btree random insert vs sqlite3": 0.5,
    "lsm point read vs rocksdict": 0.6,
    "lsm random insert vs rocksdict": 1.0,
}
# Cost growth: a cairn engine's point-read rate may fall at most this much from the
# --growth-from run to the --keys run (the log engine is O(n) by design and is left out).
GROWTH_LIMIT = 3.0
GROWTH_ENGINES = ("hash", "lsm", "btree")


def beyond_cache(config: BenchConfig) -> bool:
    return config.cache_bytes is not None and config.keys * 116 > config.cache_bytes


def targets_for(config: BenchConfig) -> tuple[Target, ...]:
    if not beyond_cache(config):
        return TARGETS
    return tuple(replace(t, min_ratio=BEYOND_CACHE.get(t.name, t.min_ratio)) for t in TARGETS)


@dataclass
class TargetResult:
    target: Target
    ratio: float | None
    status: str  # PASS, MISS or SKIP
    note: str = ""

    def line(self) -> str:
        t = self.target
        if self.status == "SKIP":
            return f"SKIP  {t.name} (>= {t.min_ratio:g}x): {self.note}"
        text = f"{self.status}  {t.name}: {fmt_ratio(self.ratio)} (target >= {t.min_ratio:g}x)"
        return text + (f"  [{self.note}]" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        t = self.target
        return {"name": t.name, "system": t.system, "workload": t.workload,
                "reference": t.ref_system, "reference_workload": t.ref_workload,
                "min_ratio": t.min_ratio,
                "ratio": _sig(self.ratio),
                "status": self.status, "note": self.note}


@dataclass
class SystemSummary:
    """Medians over the repeats of one system."""

    name: str
    family: str
    series: dict[str, Series] = field(default_factory=dict)
    disk_bytes: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    read_stats: dict[str, float] = field(default_factory=dict)

    def rate(self, workload: str) -> float | None:
        s = self.series.get(workload)
        return s.median_ops_per_sec if s is not None else None


@dataclass
class BenchResult:
    config: BenchConfig
    systems: dict[str, SystemSummary]
    skipped: dict[str, str]
    elapsed: float
    targets: list[TargetResult] = field(default_factory=list)
    base: BenchResult | None = None  # the --growth-from run

    def growth(self, system: str, workload: str) -> float | None:
        """How many times ``system``'s rate fell from the base run to this one."""
        if self.base is None or system not in self.base.systems or system not in self.systems:
            return None
        return ratio(self.base.systems[system].rate(workload),
                     self.systems[system].rate(workload))

    def growth_lines(self) -> list[str]:
        out = []
        for kind in GROWTH_ENGINES:
            g = self.growth(kind, "point_read")
            if g is None:
                continue
            verdict = "PASS" if g <= GROWTH_LIMIT else "MISS"
            out.append(f"{verdict}  {kind} point read falls {g:.2f}x from "
                       f"{self.base.config.keys:,} to {self.config.keys:,} keys "  # type: ignore
                       f"(target <= {GROWTH_LIMIT:g}x)")
        return out

    def ratio_to_reference(self, system: str, workload: str) -> float | None:
        ref = self.systems.get(REFERENCE)
        if ref is None:
            return None
        return ratio(self.systems[system].rate(workload), ref.rate(workload))


def summarize(config: BenchConfig, runs: dict[str, list[SystemRun]], skipped: dict[str, str],
              elapsed: float, base: BenchResult | None = None) -> BenchResult:
    systems: dict[str, SystemSummary] = {}
    for name, repeats in runs.items():
        if not repeats:
            continue
        summary = SystemSummary(name=name, family=STORES[name].family)
        for wl in config.workloads:
            series = Series()
            for run in repeats:
                m: Measurement | None = run.measurements.get(wl)
                if m is not None:
                    series.runs.append(m)
                elif wl in run.na:
                    series.na = run.na[wl]
                elif wl in run.errors:
                    series.error = run.errors[wl]
            summary.series[wl] = series
        sizes = [r.disk_bytes for r in repeats if r.disk_bytes is not None]
        summary.disk_bytes = int(median(sizes)) if sizes else None
        summary.stats = repeats[-1].stats
        reads = [r.read_stats for r in repeats if r.read_stats]
        if reads:
            summary.read_stats = {k: median([r[k] for r in reads]) for k in reads[0]}
        systems[name] = summary
    result = BenchResult(config, systems, dict(skipped), elapsed, base=base)
    result.targets = evaluate_targets(result)
    return result


def bloom_note(stats: dict[str, Any]) -> str:
    """The LSM engine's bloom figures (measured FP rate beside the configured one), taken from
    whatever ``bloom``/``fp`` entries its stats ``extra`` carries."""
    extra = stats.get("extra") or {}
    items = [(k, v) for k, v in extra.items()
             if isinstance(k, str) and ("bloom" in k.lower() or "fp" in k.lower())
             and isinstance(v, int | float)]
    if not items:
        return "no bloom figures in lsm stats extra"
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(items)]
    return "bloom: " + ", ".join(parts)


def evaluate_targets(result: BenchResult) -> list[TargetResult]:
    out: list[TargetResult] = []
    for t in targets_for(result.config):
        if t.workload not in result.config.workloads or (
                t.ref_workload not in result.config.workloads):
            out.append(TargetResult(t, None, "SKIP", "workload not selected"))
            continue
        missing = [s for s in (t.system, t.ref_system) if s not in result.systems]
        if missing:
            why = "; ".join(f"{s} skipped: {result.skipped[s]}" if s in result.skipped
                            else f"{s} not run" for s in dict.fromkeys(missing))
            out.append(TargetResult(t, None, "SKIP", why))
            continue
        sys_ = result.systems[t.system]
        ref = result.systems[t.ref_system]
        value, reference = sys_.rate(t.workload), ref.rate(t.ref_workload)
        r = ratio(value, reference)
        if r is None:
            cells = [(t.system, t.workload, sys_), (t.ref_system, t.ref_workload, ref)]
            why = "; ".join(f"{s} {w}: {sm.series[w].na or sm.series[w].error or 'no data'}"
                            for s, w, sm in cells if sm.rate(w) is None)
            out.append(TargetResult(t, None, "SKIP", why or "no data"))
            continue
        note = ""
        if t.system == "lsm" and t.workload == "absent_read":
            note = bloom_note(sys_.stats)
        if t.workload.startswith("durable"):
            st = sys_.stats
            if "commits_per_fsync" in st:
                note = (f"commits/fsync {st['commits_per_fsync']}, max per fsync "
                        f"{(st.get('extra') or {}).get('max_commits_per_fsync', '-')}")
        out.append(TargetResult(t, r, "PASS" if r >= t.min_ratio else "MISS", note))
    return out


def log_read_line(result: BenchResult) -> str | None:
    """How terrible the log engine's point read is, and with how few reads it was measured."""
    log = result.systems.get("log")
    if log is None or "point_read" not in log.series:
        return None
    s = log.series["point_read"]
    rate = s.median_ops_per_sec
    if rate is None:
        return None
    others = [(name, sm.rate("point_read")) for name, sm in result.systems.items()
              if name != "log" and sm.rate("point_read")]
    best = max(others, key=lambda x: x[1] or 0.0, default=None)
    comparison = ""
    if best is not None and best[1]:
        comparison = f", {best[1] / rate:,.0f}x slower than {best[0]}"
    return (f"INFO  log point read: {fmt_rate(rate)} gets/s{comparison} - every get reads the "
            f"whole log (O(n), no index); measured with only {s.ops} reads per repeat "
            f"of {result.config.keys:,} keys")


def _cell_note(series: Series, asked: int | None) -> str:
    if series.error:
        return "ERROR " + series.error
    if series.na:
        return "n/a: " + series.na
    if series.capped:
        n = sum(m.capped for m in series.runs)
        where = "" if n == len(series.runs) else f" in {n} of {len(series.runs)} repeats"
        return f"capped{where}: as few as {series.min_ops:,} of {asked:,} ops" if asked \
            else f"capped{where}"
    return ""


def _asked(config: BenchConfig, workload: str) -> int | None:
    return {"seq_insert": config.keys, "random_insert": config.keys,
            "point_read": config.reads, "absent_read": config.reads,
            "full_scan": config.keys, "range_scan": config.range_scans,
            "durable_1w": config.sync_writes,
            "durable_8w": config.writes_per_writer * config.writers}.get(workload)


def table(result: BenchResult) -> str:
    cfg = result.config
    lines = [f"cairn bench storage: {cfg.keys:,} keys (16-byte keys, 100-byte values), "
             f"median of {cfg.repeat} repeat(s), ratios vs {REFERENCE}"]
    if cfg.cache_bytes is not None:
        live = cfg.keys * 116
        where = (f"1/{live / cfg.cache_bytes:.1f} of the live data: data larger than cache"
                 if live > cfg.cache_bytes else "the live data fits in it")
        lines.append(f"cache {fmt_bytes(cfg.cache_bytes)} per system ({where}); WAL frames "
                     + ("buffered in user space by lsm/btree (--manual-wal-flush)"
                        if cfg.manual_wal_flush else "written to the OS per put on every "
                        "system"))
    names = list(result.systems)
    width = max([len(n) for n in names] + [9])
    for wl in cfg.workloads:
        lines.append("")
        lines.append(f"{LABELS[wl]} ({UNITS[wl]}/s)")
        for name in names:
            s = result.systems[name].series.get(wl)
            if s is None:
                continue
            rate = s.median_ops_per_sec
            r = result.ratio_to_reference(name, wl)
            lines.append(f"  {name:<{width}} {fmt_rate(rate):>14} {fmt_ratio(r):>9}  "
                         f"{_cell_note(s, _asked(cfg, wl))}".rstrip())
    lines.append("")
    lines.append(f"after the random load (live data {fmt_bytes(cfg.keys * 116)}):")
    lines.append(f"  {'system':<{width}} {'disk':>10} {'space-amp':>9} {'write-amp':>9} "
                 f"{'read-amp':>8} {'commits/fsync':>13}")
    for name in names:
        sm = result.systems[name]
        st = sm.stats
        space = ratio(sm.disk_bytes, cfg.keys * 116) if sm.disk_bytes is not None else None
        lines.append(f"  {name:<{width}} {fmt_bytes(sm.disk_bytes):>10} "
                     f"{_num(space):>9} {_num(st.get('write_amplification')):>9} "
                     f"{_num(st.get('read_amplification')):>8} "
                     f"{_num(st.get('commits_per_fsync')):>13}")
    reads = [(n, result.systems[n].read_stats) for n in names if result.systems[n].read_stats]
    if reads:
        lines.append("")
        lines.append("cache during the point reads:")
        for name, rs in reads:
            lines.append(f"  {name:<{width}} hit rate {rs['cache_hit_rate']:.1%}, "
                         f"{rs['disk_bytes_per_get']:,.0f} bytes read from disk per get")
    if cfg.cache_bytes is not None:
        lines.append("")
        lines.append("memory of each system:")
        for name in names:
            lines.append(f"  {name:<{width}} {STORES[name].memory_note}")
    if result.base is not None:
        lines.append("")
        lines.append(f"cost growth {result.base.config.keys:,} -> {cfg.keys:,} keys "
                     f"(rate at {result.base.config.keys:,} / rate at {cfg.keys:,}; "
                     f"1.00x = no loss):")
        shown = [w for w in ("random_insert", "point_read", "absent_read", "range_scan",
                             "full_scan") if w in cfg.workloads]
        lines.append(f"  {'system':<{width}} " + " ".join(f"{w:>13}" for w in shown))
        for name in names:
            lines.append(f"  {name:<{width}} " + " ".join(
                f"{fmt_ratio(result.growth(name, w)):>13}" for w in shown))
    if result.skipped:
        lines.append("")
        for name, why in result.skipped.items():
            lines.append(f"skipped {name}: {why}")
    lines.append("")
    lines.extend(t.line() for t in result.targets)
    lines.extend(result.growth_lines())
    info = log_read_line(result)
    if info:
        lines.append(info)
    lines.append(f"total time {result.elapsed:.1f}s")
    return "\n".join(lines)


def _sig(v: float | None, digits: int = 6) -> float | None:
    """Round to significant digits: a 0.003x ratio keeps its precision in the JSON."""
    return None if v is None else float(f"{v:.{digits}g}")


def _num(v: Any) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f"{v:.2f}"
    return "-"


def to_json(result: BenchResult) -> dict[str, Any]:
    cfg = result.config
    systems: dict[str, Any] = {}
    for name, sm in result.systems.items():
        workloads: dict[str, Any] = {}
        for wl, s in sm.series.items():
            rate = s.median_ops_per_sec
            r = result.ratio_to_reference(name, wl)
            workloads[wl] = {
                "unit": UNITS[wl],
                "ops_per_sec": _sig(rate),
                "ratio_to_sqlite3": _sig(r),
                "ops": s.ops,
                "capped": s.capped,
                "runs": [{"ops": m.ops, "seconds": round(m.seconds, 9),
                          "ops_per_sec": _sig(m.ops_per_sec), "capped": m.capped}
                         for m in s.runs],
                "na": s.na,
                "error": s.error,
            }
        space = ratio(sm.disk_bytes, cfg.keys * 116) if sm.disk_bytes is not None else None
        systems[name] = {"family": sm.family, "disk_bytes": sm.disk_bytes,
                         "space_amplification": _sig(space),
                         "workloads": workloads, "stats": sm.stats,
                         "memory": STORES[name].memory_note,
                         "point_read_cache": sm.read_stats or None}
        if result.base is not None:
            systems[name]["growth"] = {
                wl: _sig(result.growth(name, wl)) for wl in sm.series}
    growth = None
    if result.base is not None:
        growth = {"from_keys": result.base.config.keys, "to_keys": cfg.keys,
                  "base": to_json(result.base), "limit": GROWTH_LIMIT,
                  "verdicts": result.growth_lines()}
    return {"benchmark": "storage", "reference": REFERENCE, "config": cfg.to_dict(),
            "systems": systems, "skipped": result.skipped,
            "targets": [t.to_dict() for t in result.targets],
            "log_read": log_read_line(result), "elapsed_sec": round(result.elapsed, 3),
            "beyond_cache": beyond_cache(cfg), "growth": growth}


def write_json(result: BenchResult, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(to_json(result), f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)  # a reader never sees half a file


def plot(result: BenchResult, path: str) -> None:
    """Grouped bars of ops/s per workload, log scale, one color per system."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers and in CI
    import matplotlib.pyplot as plt

    workloads = [wl for wl in result.config.workloads if wl in WORKLOADS]
    names = list(result.systems)
    width_in = max(8.0, 1.6 * len(workloads) + 2)
    if result.base is not None:
        fig, (ax, gax) = plt.subplots(2, 1, figsize=(width_in, 11.0), dpi=100)
    else:
        fig, ax = plt.subplots(figsize=(width_in, 6.0), dpi=100)
        gax = None
    try:
        cmap = plt.get_cmap("tab10")
        palette = list(STORES)  # a system keeps its color whichever subset is plotted
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            xs, ys = [], []
            for j, wl in enumerate(workloads):
                rate = result.systems[name].rate(wl)
                if rate:
                    xs.append(j - 0.4 + width * (i + 0.5))
                    ys.append(rate)
            cairn = result.systems[name].family == "cairn"
            ax.bar(xs, ys, width=width, color=cmap(palette.index(name) % cmap.N),
                   label=f"{name} (cairn)" if cairn else name,
                   hatch="//" if cairn else None, edgecolor="white" if cairn else None)
        ax.set_yscale("log")
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels([f"{LABELS[w]}\n({UNITS[w]}/s)" for w in workloads], fontsize=8)
        ax.set_ylabel("operations per second (log scale)")
        cache = (f", cache {fmt_bytes(result.config.cache_bytes)} each"
                 if result.config.cache_bytes is not None else "")
        ax.set_title(f"cairn bench storage - {result.config.keys:,} keys{cache}, median of "
                     f"{result.config.repeat}")
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.legend(ncols=min(5, max(1, len(names))), fontsize=8, loc="upper center",
                  bbox_to_anchor=(0.5, -0.14))
        if gax is not None and result.base is not None:
            _plot_growth(gax, result, names, cmap, palette)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def _plot_growth(ax: Any, result: BenchResult, names: list[str], cmap: Any,
                 palette: list[str]) -> None:
    """Bars of how many times each rate fell from the --growth-from run to this one."""
    assert result.base is not None
    shown = [w for w in ("random_insert", "point_read", "absent_read", "range_scan")
             if w in result.config.workloads]
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        xs, ys = [], []
        for j, wl in enumerate(shown):
            g = result.growth(name, wl)
            if g:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(g)
        ax.bar(xs, ys, width=width, color=cmap(palette.index(name) % cmap.N), label=name)
    ax.axhline(GROWTH_LIMIT, color="red", linestyle="--", linewidth=1,
               label=f"target <= {GROWTH_LIMIT:g}x (cairn point read)")
    ax.set_xticks(range(len(shown)))
    ax.set_xticklabels([LABELS[w] for w in shown], fontsize=8)
    ax.set_ylabel("rate falls by (x)")
    ax.set_title(f"cost growth {result.base.config.keys:,} -> {result.config.keys:,} keys "
                 "(higher = slower at scale)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncols=4)
