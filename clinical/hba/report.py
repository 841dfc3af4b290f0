"""HTML table of an HBA evaluation: one row per dataset, one per behavior group, a plot."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping

__all__ = ["write_report", "results_markdown"]


def _f(value: Any) -> str:
    return "–" if value is None or value != value else f"{value:.3f}"


def _headline(row: Mapping[str, Any]) -> float:
    """Accuracy; for QA the judge's accuracy when there was a judge, else exact match."""
    if row.get("task") == "qa":
        return row.get("judged_accuracy", row.get("exact_match"))
    return row.get("accuracy")


def _extra(row: Mapping[str, Any]) -> str:
    if "sentiment" in row:
        s = row["sentiment"]
        return (f"ACC7 {_f(s['acc7'])} · ACC5 {_f(s['acc5'])} · ACC3 {_f(s['acc3'])} · ACC2 {_f(s['acc2'])} · "
                f"WF1(2) {_f(s['weighted_f1_2'])}")
    if "emotion" in row:
        return f"mean WA {_f(row['emotion']['mean_weighted_accuracy'])}"
    if row.get("task") == "qa":
        judged = f" · judged {_f(row['judged_accuracy'])}" if "judged_accuracy" in row else ""
        return f"exact match {_f(row['exact_match'])}{judged}"
    return ""


def results_markdown(metrics: Mapping[str, Any]) -> str:
    """The per-dataset results as a markdown table (for docs and terminals).

    Parameters
    ----------
    metrics : mapping
        What :func:`~bitbox.clinical.hba.evaluate_predictions` returns (only its ``datasets`` are used).

    Returns
    -------
    str
        A markdown table: dataset, group, n, accuracy (QA: judged accuracy, else exact match), macro and
        weighted F1, the task's own metrics and the missing predictions; ``–`` for a missing value.
    """
    lines = ["| dataset | group | n | accuracy | macro F1 | weighted F1 | task metrics | missing |",
             "|---|---|---|---|---|---|---|---|"]
    for name, row in metrics["datasets"].items():
        accuracy = _headline(row)
        lines.append(f"| {name} | {row['group']} | {row['n']} | {_f(accuracy)} | {_f(row.get('macro_f1'))} | "
                     f"{_f(row.get('weighted_f1'))} | {_extra(row)} | {row['n_missing']} |")
    return "\n".join(lines)


def _figure(metrics: Mapping[str, Any]):
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(metrics["datasets"])
    colours = {"affective": "#3b7dd8", "pathology": "#c0392b", "social": "#e07b39", "cognitive": "#4a9d5b"}
    values = [_headline(metrics["datasets"][n]) for n in names]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(names) + 1.2))
    y = np.arange(len(names))
    ax.barh(y, np.nan_to_num(values), color=[colours.get(metrics["datasets"][n]["group"], "#888") for n in names])
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (QA: judged accuracy, else exact match)", fontsize=8)
    fig.tight_layout()
    return fig


def _scoring(metrics: Mapping[str, Any]) -> str:
    """The scoring options in words (results of older versions carry none: the defaults then)."""
    options = metrics.get("scoring", {})
    average = options.get("average", "gold")
    parts = ["macro averages over the gold classes (the benchmark's rule)" if average == "gold"
             else "macro averages over gold and predicted answers (not the benchmark's rule)",
             f"answers read with the {options.get('extract', 'sft')!r} rule",
             "label-map synonyms applied" if options.get("synonyms") else "answers compared as plain strings"]
    return "; ".join(parts)


def write_report(path: str | Path, metrics: Mapping[str, Any], *, title: str = "Human Behavior Atlas evaluation"
                 ) -> Path:
    """A self-contained HTML page of :func:`~bitbox.clinical.hba.evaluate_predictions`'s result.

    Parameters
    ----------
    path : str | Path
        The HTML file to write (atomically; replaced when it exists).
    metrics : mapping
        What :func:`~bitbox.clinical.hba.evaluate_predictions` returns: the per-dataset and per-group
        tables, the scoring options and the missing and extra predictions are shown, with a bar plot.
    title : str
        The page's title and heading (default ``"Human Behavior Atlas evaluation"``).

    Returns
    -------
    Path
        ``path``.
    """
    from bitbox.io import write_text
    from bitbox.report import html_page, png_data

    esc = html.escape
    rows = []
    for name, row in metrics["datasets"].items():
        accuracy = _headline(row)
        note = "" if row.get("registered", True) else " <small>(not in the registry)</small>"
        rows.append(f"<tr><td>{esc(name)}{note}</td><td>{esc(row['group'])}</td><td>{esc(row['domain'])}</td>"
                    f"<td class='num'>{row['n']}</td><td class='num'>{_f(accuracy)}</td>"
                    f"<td class='num'>{_f(row.get('macro_f1'))}</td><td class='num'>{_f(row.get('weighted_f1'))}</td>"
                    f"<td>{esc(_extra(row))}</td><td class='num'>{row['n_missing']}</td>"
                    f"<td class='num'>{row.get('n_invalid', '')}</td></tr>")
    groups = "".join(f"<tr><td>{esc(g)}</td><td>{esc(', '.join(v['datasets']))}</td><td class='num'>{v['n']}</td>"
                     f"<td class='num'>{_f(v['accuracy'])}</td><td class='num'>{_f(v['macro_f1'])}</td>"
                     f"<td class='num'>{_f(v['weighted_f1'])}</td></tr>" for g, v in metrics["groups"].items())
    missing, extra = metrics["missing_predictions"], metrics["extra_predictions"]
    notes = [f"{metrics['n_samples']} samples."]
    if missing["count"]:
        notes.append(f"{missing['count']} sample(s) without a prediction, scored as wrong (first ids: "
                     f"{esc(', '.join(missing['ids'][:10]))}).")
    if extra["count"]:
        notes.append(f"{extra['count']} prediction(s) for ids not in the data, ignored (first: "
                     f"{esc(', '.join(extra['ids'][:10]))}).")
    plot = (f"<img alt='accuracy per dataset' src='data:image/png;base64,{png_data(_figure(metrics))}'>"
            if metrics["datasets"] else "")
    body = f"""<h1>{esc(title)}</h1>
<p>{' '.join(notes)}</p>
<p>Scoring: {esc(_scoring(metrics))}. Per dataset: accuracy (QA: the judge's
accuracy when a judge was given, else exact match), macro and weighted F1 (an answer outside the labels is wrong
and counted as invalid); sentiment ACC7/5/3/2 on the benchmark's 7-point scale (ACC5 groups {{highly negative}},
{{negative, weakly negative}}, {{neutral}}, {{weakly positive, positive}}, {{highly positive}}; ACC2 leaves neutral
gold out and counts a neutral prediction as wrong) and their weighted F1; emotion: mean per-class weighted
accuracy (TP/P + TN/N)/2; QA: the judge's accuracy and Bitbox's exact match.</p>
<table><tr><th>dataset</th><th>group</th><th>domain</th><th>n</th><th>accuracy</th><th>macro F1</th>
<th>weighted F1</th><th>task metrics</th><th>missing</th><th>invalid</th></tr>{''.join(rows)}</table>
<h2>Behavior groups</h2>
<p>Means over the group's datasets (accuracy includes QA exact match or judged accuracy).</p>
<table><tr><th>group</th><th>datasets</th><th>n</th><th>accuracy</th><th>macro F1</th><th>weighted F1</th></tr>
{groups}</table>
{plot}"""
    page = html_page(title, body)
    path = Path(path)
    write_text(path, page)
    return path
