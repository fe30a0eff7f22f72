"""`rtvos stats plot S.json`: a run's latency as a picture -- end-to-end and inference latency over time
(budgets dashed, start-up shaded) above a histogram of the steady-state end-to-end latency with its
percentiles -- from the statistics `rtvos run --stats-json S.json` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class PlotError(ValueError):
    """The statistics cannot be plotted; the message says why."""


def plot_latency(stats: dict, out: str | Path) -> Path:
    """Draw `stats` (an `rtvos run --stats-json` dict) into the PNG `out`."""
    import matplotlib  # noqa: PLC0415 (plotting only loads when asked for)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    series = stats.get("latency_series") or {}
    t = np.asarray(series.get("t_s", []), float)
    if t.size == 0:
        raise PlotError("the statistics have no latency series: they come from `rtvos run --stats-json` of a run "
                        "that published masks")
    e2e = np.asarray(series["end_to_end"], float)
    infer = np.asarray(series["infer"], float)
    budgets = stats.get("budgets_ms", {})
    startup_frames = int(stats.get("startup", {}).get("frames", 0))

    fig, (ax_t, ax_h) = plt.subplots(2, 1, figsize=(10, 7), gridspec_kw={"height_ratios": [3, 2]})
    fig.suptitle(f"{stats.get('model', '?')} on {stats.get('source', '?')}: {stats.get('fps', 0):.1f} fps, "
                 f"{stats.get('frames_published', t.size)} published, {stats.get('frames_dropped', 0)} dropped")
    ax_t.plot(t, e2e, lw=0.8, color="tab:blue", label="end to end")
    ax_t.plot(t, infer, lw=0.8, color="tab:orange", label="infer (the model)")
    for key, colour in (("end_to_end", "tab:blue"), ("infer", "tab:orange")):
        if budgets.get(key):
            ax_t.axhline(budgets[key], ls="--", lw=1, color=colour, alpha=0.7, label=f"{key} budget")
    steady = e2e[min(startup_frames, e2e.size - 1):]
    top = max(float(steady.max()) * 1.15, budgets.get("end_to_end", 0) * 1.2, 1.0)  # the start-up may go off the top
    if 0 < startup_frames < t.size:
        ax_t.axvspan(t[0], t[startup_frames], color="0.85", label="start-up")
        first = stats.get("startup", {}).get("time_to_first_mask_ms")
        if first and first > top:
            ax_t.annotate(f"first mask after {first:.0f} ms", (t[0], top), xytext=(4, -14),
                          textcoords="offset points", fontsize=8)
    ax_t.set_xlabel("time since the first mask (s)")
    ax_t.set_ylabel("latency (ms)")
    ax_t.set_ylim(0, top)
    ax_t.legend(loc="upper right", fontsize=8, ncol=3)
    ax_t.grid(alpha=0.3)

    ax_h.hist(steady, bins=60, color="tab:blue", alpha=0.8)
    for q, style in ((50, "-"), (95, "--"), (99, ":")):
        value = float(np.percentile(steady, q))
        ax_h.axvline(value, color="k", ls=style, lw=1, label=f"p{q} {value:.0f} ms")
    ax_h.set_xlabel("end-to-end latency, steady state (ms)")
    ax_h.set_ylabel("frames")
    ax_h.legend(fontsize=8)
    ax_h.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
