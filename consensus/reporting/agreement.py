"""Reads for the agreement page: every figure as plain numbers and SVG geometry, ready to draw.

The page is server-rendered inline SVG, so the geometry (positions, sizes, colours) is worked
out here and the template only places elements and escapes names. Votes are read once with
``adapters.project_votes``; the pure metrics run on its arrays; names and the latest estimate
take a few more queries, none of them per annotator.

Why over 400 lines: One page's figures: the reads and the SVG geometry each figure needs stay together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotation.projects.models import Project
from annotation.voters.models import IMPORTED_MARK, display_name
from annotation.voters.selectors import voter_names
from consensus import adapters, metrics
from consensus.decisions.models import Estimate, Reliability
from consensus.decisions.selectors import estimate_latest
from consensus.metrics import finite
from consensus.reporting.charts import shorten

BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SAMPLES_LARGE = 200  # above LARGE_PROJECT_ITEMS, so the page stays fast
LARGE_PROJECT_ITEMS = 20_000
HEATMAP_ANNOTATORS = 30
HEATMAP_MIN_SHARED = 5
HISTOGRAM_BINS = 10
TABLE_ROWS = 200
OTHER_COLOR = "#9aa5b1"
NO_DATA_FILL = "url(#heatmap-too-few)"  # a hatch pattern the template defines
# Light to dark: low agreement pale, high agreement deep blue (readable for colour-blind eyes).
SCALE = ((0.0, (255, 247, 188)), (0.5, (65, 182, 196)), (1.0, (8, 29, 88)))
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")


# --- shapes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlphaSummary:
    value: float | None  # None while undefined
    low: float | None
    high: float | None
    samples: int
    items: int
    votes: int
    pairable: int  # items with two or more votes
    annotators: int
    scale: AlphaScale | None = None


@dataclass(frozen=True)
class AlphaScale:
    """Where alpha and its interval sit on a number line, in percent of the line's width."""

    value: float
    low: float
    high: float
    ticks: list[tuple[float, str]]


@dataclass(frozen=True)
class LabelBar:
    key: str
    name: str
    color: str
    votes: int
    alpha: float | None
    x: float  # the bar, in the chart's pixels
    width: float
    y: int


@dataclass(frozen=True)
class LabelChart:
    bars: list[LabelBar]
    width: int
    height: int
    zero_x: float
    ticks: list[tuple[float, str]]  # (x, text)


@dataclass(frozen=True)
class HeatCell:
    x: int
    y: int
    fill: str
    title: str


@dataclass(frozen=True)
class HeatMap:
    names: list[tuple[int, str, str]]  # (position, short name, full name)
    cells: list[HeatCell]
    cell: int
    margin: int  # room for names, left and top
    name_edge: int  # where names end, next to the grid
    size: int  # width and height of the whole figure
    shown: int
    total: int
    legend: list[tuple[int, str]]  # (percent, colour) stops of the legend's gradient


@dataclass(frozen=True)
class HistogramBar:
    x: float
    y: float
    width: float
    height: float
    count: int
    title: str


@dataclass(frozen=True)
class Histogram:
    bars: list[HistogramBar]
    items: int
    width: int
    height: int
    base: int  # y of the x axis
    left: int
    y_ticks: list[tuple[float, int]]  # (y, count)
    x_ticks: list[tuple[float, str]]


@dataclass(frozen=True)
class AnnotatorRow:
    name: str
    votes: int
    agreement: float | None
    accuracy: float


@dataclass(frozen=True)
class EstimateSummary:
    estimate: Estimate | None
    rows: list[AnnotatorRow] = field(default_factory=list)
    total: int = 0


@dataclass(frozen=True)
class AgreementReport:
    has_rulebook: bool
    alpha: AlphaSummary
    labels: LabelChart | None
    heatmap: HeatMap | None
    histogram: Histogram | None
    estimate: EstimateSummary


# --- the page -----------------------------------------------------------------------------------


def agreement_report(*, project: Project) -> AgreementReport:
    """Every figure of the agreement page for ``project``, from its current votes and its latest
    estimate. An empty project (no rulebook, no votes) gives empty figures, never an error."""
    rulebook_labels = list(project.current_rulebook.labels) if project.current_rulebook else []
    pv = adapters.project_votes(project_id=project.pk, labels=[lab["key"] for lab in rulebook_labels])
    votes = pv.votes
    names = voter_names(voter_ids=pv.voters) if pv.voters else []
    has_votes = len(votes.item) > 0
    return AgreementReport(
        has_rulebook=bool(rulebook_labels),
        alpha=alpha_summary(votes=votes),
        labels=label_alpha_chart(pv=pv, rulebook_labels=rulebook_labels) if has_votes else None,
        heatmap=annotator_heatmap(votes=votes, names=names) if votes.n_annotators >= 2 else None,
        histogram=item_agreement_histogram(votes=votes),
        estimate=estimate_summary(project=project),
    )


def alpha_summary(*, votes: metrics.Votes) -> AlphaSummary:
    """Nominal alpha over items with two or more votes, with a 95% bootstrap interval."""
    samples = BOOTSTRAP_SAMPLES_LARGE if votes.n_items > LARGE_PROJECT_ITEMS else BOOTSTRAP_SAMPLES
    value = finite(metrics.alpha_nominal(votes))
    low = high = None
    if value is not None:
        low, high = (finite(x) for x in metrics.alpha_bootstrap(votes, samples=samples))
    per_item = np.bincount(votes.item, minlength=votes.n_items)
    return AlphaSummary(
        value=value, low=low, high=high, samples=samples, items=votes.n_items, votes=len(votes.item),
        pairable=int((per_item >= 2).sum()), annotators=votes.n_annotators, scale=_alpha_scale(value, low, high),
    )  # fmt: skip


def _alpha_scale(value: float | None, low: float | None, high: float | None) -> AlphaScale | None:
    if value is None:
        return None
    start = min(0.0, np.floor(min(value, low if low is not None else value) * 4) / 4)

    def at(v: float) -> float:
        return round(2 + (v - start) / (1 - start) * 96, 2)  # 2% of padding each side

    ticks = [(at(t), f"{t:g}") for t in np.round(np.arange(start, 1.0001, 0.25), 2)]
    return AlphaScale(
        value=at(value), low=at(low if low is not None else value), high=at(high if high is not None else value),
        ticks=ticks,
    )  # fmt: skip


# --- alpha per label ------------------------------------------------------------------------------


def label_alphas(
    *, pv: adapters.ProjectVotes, rulebook_keys: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(label keys, alpha of each, votes for each): the yes/no alpha of each label, one label
    against the rest.

    An answer key holds one label (single choice) or several joined by '+' (multiple choice);
    either way each vote says yes or no to every label. Keys outside the rulebook (answers given
    under an older version) come after the rulebook's labels.
    """
    chosen_by_key, keys = _answer_matrix(pv.labels, rulebook_keys)
    votes = pv.votes
    chosen = chosen_by_key[votes.label] if len(votes.label) else np.zeros((0, len(keys)), bool)
    multi = metrics.MultiVotes(votes.item, votes.annotator, chosen, votes.n_items, votes.n_annotators)
    return keys, metrics.alpha_per_label(multi), chosen.sum(0)


def label_alpha_chart(
    *, pv: adapters.ProjectVotes, rulebook_labels: list[dict[str, Any]], width: int = 480
) -> LabelChart:
    """``label_alphas`` as horizontal bars from zero, named and coloured by the rulebook."""
    keys, alphas, counts = label_alphas(pv=pv, rulebook_keys=[lab["key"] for lab in rulebook_labels])
    meta = {lab["key"]: lab for lab in rulebook_labels}
    defined = [a for a in alphas if np.isfinite(a)]
    lo = min(0.0, np.floor(min(defined, default=0.0) * 5) / 5)  # room for negative alpha, in steps of 0.2
    left, right, row = 140, 48, 26
    plot = width - left - right

    def x_of(v: float) -> float:
        return round(left + (v - lo) / (1 - lo) * plot, 1)

    bars = []
    for n, key in enumerate(keys):
        lab = meta.get(key, {})
        a = finite(alphas[n])
        start, end = sorted((x_of(0.0), x_of(a if a is not None else 0.0)))
        bars.append(
            LabelBar(
                key=key,
                name=str(lab.get("name") or key),
                color=_safe_color(lab.get("color")),
                votes=int(counts[n]),
                alpha=a,
                x=start,
                width=round(end - start, 1),
                y=n * row,
            )
        )
    ticks = [(x_of(t), f"{t:g}") for t in np.round(np.arange(lo, 1.0001, 0.2 if lo < 0 else 0.25), 2)]
    return LabelChart(bars=bars, width=width, height=len(keys) * row + 24, zero_x=x_of(0.0), ticks=ticks)


def _answer_matrix(answer_keys: list[str], rulebook_keys: list[str]) -> tuple[np.ndarray, list[str]]:
    """(answers × labels bool matrix, label keys): which labels each answer key says yes to."""
    keys = list(rulebook_keys)
    index = {k: n for n, k in enumerate(keys)}
    parts = []
    for answer in answer_keys:
        split = [answer] if answer in index else [p for p in answer.split("+") if p]
        for p in split:
            if p not in index:
                index[p] = len(keys)
                keys.append(p)
        parts.append([index[p] for p in split])
    matrix = np.zeros((len(answer_keys), len(keys)), dtype=bool)
    for row, cols in enumerate(parts):
        matrix[row, cols] = True
    return matrix, keys


# --- annotator × annotator ----------------------------------------------------------------------


def annotator_heatmap(
    *,
    votes: metrics.Votes,
    names: list[str],
    limit: int = HEATMAP_ANNOTATORS,
    min_shared: int = HEATMAP_MIN_SHARED,
    cell: int = 16,
) -> HeatMap:
    """Pairwise agreement of the ``limit`` annotators with most votes, busiest first. Pairs
    that share fewer than ``min_shared`` items are drawn grey: their share says little."""
    agreement, shared = metrics.pairwise_agreement(votes)
    per_annotator = np.bincount(votes.annotator, minlength=votes.n_annotators)
    top = np.argsort(-per_annotator, kind="stable")[:limit]
    margin = 16 + 8 * max((len(_short(names[a])) for a in top), default=4)  # room for the longest name
    cells = []
    for row, a in enumerate(top):
        for col, b in enumerate(top):
            if a == b:
                continue
            n, share = int(shared[a, b]), agreement[a, b]
            enough = n >= min_shared and np.isfinite(share)
            title = (
                f"{names[a]} vs {names[b]}: {share:.0%} on {n} shared items"
                if enough
                else f"{names[a]} vs {names[b]}: {n} shared item{'' if n == 1 else 's'}, too few to say"
            )
            fill = scale_color(float(share)) if enough else NO_DATA_FILL
            cells.append(HeatCell(x=margin + col * cell, y=margin + row * cell, fill=fill, title=title))
    shown = [(margin + n * cell + cell // 2, _short(names[a]), names[a]) for n, a in enumerate(top)]
    legend = [(int(t * 100), scale_color(t)) for t in np.linspace(0, 1, 11)]
    return HeatMap(
        names=shown, cells=cells, cell=cell, margin=margin, name_edge=margin - 6, size=margin + len(top) * cell + 4,
        shown=len(top), total=votes.n_annotators, legend=legend,
    )  # fmt: skip


def scale_color(value: float) -> str:
    """A colour for an agreement in [0, 1] on the page's sequential scale."""
    v = min(max(value, 0.0), 1.0)
    for (t0, c0), (t1, c1) in zip(SCALE, SCALE[1:], strict=False):
        if v <= t1:
            f = (v - t0) / (t1 - t0)
            return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(c0, c1, strict=True))
    return "#" + "".join(f"{c:02x}" for c in SCALE[-1][1])


def _short(name: str, size: int = 18) -> str:
    """A name for an axis; the full name is in the tooltip (imported ones keep their mark there)."""
    name = name.removesuffix(IMPORTED_MARK)
    return shorten(name, size)


# --- items ----------------------------------------------------------------------------------------


def item_agreement_histogram(
    *, votes: metrics.Votes, bins: int = HISTOGRAM_BINS, width: int = 480, height: int = 220
) -> Histogram | None:
    """How items with two or more votes spread over agreement (share of the top label), in
    ``bins`` equal bins over [0, 1]; the last bin holds exactly 1."""
    per_item = np.bincount(votes.item, minlength=votes.n_items)
    if not (per_item >= 2).any():
        return None
    share = metrics.item_agreement(votes)[per_item >= 2]
    # Shares are ratios of small counts (3/5 = 0.6): a tolerance keeps them off the wrong side of an edge.
    counts = np.bincount(np.minimum((share * bins + 1e-9).astype(np.int64), bins - 1), minlength=bins)
    left, right, top, bottom = 44, 20, 10, 28
    base = height - bottom
    plot_w, plot_h = width - left - right, base - top
    peak = max(int(counts.max()), 1)
    step = plot_w / bins
    bars = []
    for n, count in enumerate(counts):
        h = round(count / peak * plot_h, 1)
        lo, hi = n / bins, (n + 1) / bins
        bars.append(
            HistogramBar(
                x=round(left + n * step + 1, 1),
                y=round(base - h, 1),
                width=round(step - 2, 1),
                height=h,
                count=int(count),
                title=f"{lo:.0%}–{hi:.0%} agreement: {count} item{'' if count == 1 else 's'}",
            )
        )
    y_ticks = [(round(base - t / peak * plot_h, 1), int(t)) for t in _nice_ticks(peak)]
    x_ticks = [(round(left + t * plot_w, 1), f"{t:.0%}") for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    return Histogram(bars, len(share), width, height, base, left, y_ticks, x_ticks)


def _nice_ticks(peak: int) -> list[int]:
    step = max(1, int(10 ** np.floor(np.log10(max(peak, 1)))))
    if peak / step < 3:
        step = max(1, step // 2)
    return list(range(0, peak + 1, step))


# --- annotators -----------------------------------------------------------------------------------


def estimate_summary(*, project: Project, limit: int = TABLE_ROWS) -> EstimateSummary:
    """The latest estimate and its annotators, most votes first (at most ``limit`` rows)."""
    estimate = estimate_latest(project_id=project.pk)
    if estimate is None:
        return EstimateSummary(estimate=None)
    rows = (
        Reliability.objects.filter(estimate=estimate)
        .select_related("voter__user")
        .only("votes", "agreement", "accuracy", "voter__kind", "voter__name", "voter__user__username")
        .order_by("-votes", "id")
    )
    total = len(rows)
    return EstimateSummary(
        estimate=estimate,
        rows=[
            AnnotatorRow(name=_reliability_name(r), votes=r.votes, agreement=r.agreement, accuracy=r.accuracy)
            for r in rows[:limit]
        ],
        total=total,
    )


def _reliability_name(r: Reliability) -> str:
    voter = r.voter
    return display_name(kind=voter.kind, username=voter.user.username if voter.user else None, name=voter.name)


# --- small things -------------------------------------------------------------------------------


def _safe_color(color: Any) -> str:
    return color if isinstance(color, str) and _HEX_COLOR.match(color) else OTHER_COLOR
