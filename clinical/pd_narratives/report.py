"""HTML report of span evaluations: micro/macro tables, per-category F1 beside the paper's, a plot."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["write_report", "PAPER_PER_CATEGORY", "PAPER_HEADLINE"]

#: Khanna, Bhatt et al. (2025), fine-tuned Llama-3-8B: per-category (strict F1, lenient F1).
PAPER_PER_CATEGORY: dict[str, tuple[float, float]] = {
    "action": (.79, .82), "location": (.76, .77), "social_interaction": (.58, .69), "thought": (.48, .58),
    "time": (.46, .48), "visual": (.45, .53), "sound": (.29, .40), "interoception": (.20, .20),
    "somatosensory": (.20, .24), "emotion": (.00, .17),
}
#: Their best model's micro and macro F1.
PAPER_HEADLINE = {"micro_f1": 0.74, "macro_f1": 0.59}


def _f(value: float) -> str:
    return "–" if value is None or value != value else f"{value:.2f}"


def _figure(evaluations: Mapping[str, Mapping[str, Any]], names: Sequence[str]):
    import matplotlib.pyplot as plt

    categories = sorted({c for n in names for c in evaluations[n]["lenient"]["per_category"]})
    fig, ax = plt.subplots(figsize=(7, 0.34 * len(categories) * max(1, len(names) / 2) + 1.4))
    height = 0.8 / max(len(names), 1)
    colours = ["#3b7dd8", "#e07b39", "#4a9d5b", "#8e44ad"]
    y = np.arange(len(categories))
    for k, name in enumerate(names):
        per = evaluations[name]["lenient"]["per_category"]
        values = [per.get(c, {}).get("f1", 0.0) for c in categories]
        ax.barh(y + k * height, values, height=height, color=colours[k % len(colours)], label=name)
    paper = [PAPER_PER_CATEGORY.get(c, (np.nan, np.nan))[1] for c in categories]
    ax.scatter(paper, y + height * (len(names) - 1) / 2, marker="|", s=160, color="#222", zorder=3,
               label="paper (Llama-3-8B, lenient)")
    ax.set_yticks(y + height * (len(names) - 1) / 2, categories, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("lenient F1 per category", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _rule_text(evaluation: Mapping[str, Any]) -> str:
    """One sentence on the lenient rule and the macro average an evaluation used."""
    rule = evaluation.get("lenient_rule", "one-to-one")
    if rule == "paper":
        text = ("Lenient rule <b>paper</b> (the authors' notebook): whitespace-separated words, case-sensitive; a "
                "prediction counts when some gold term matches, a gold term counts as found only when predicted "
                "verbatim; sentences keyed by their text.")
    else:
        text = ("Lenient rule <b>one-to-one</b> (stricter than the paper's): lower-cased words, each gold term "
                "matched to at most one prediction.")
    if evaluation.get("macro_over", "present") == "all":
        return text + " Macro is the mean over all the hierarchy's categories (absent ones score 0, as the paper)."
    return text + " Macro is the mean over the categories in the gold or the predictions."


def write_report(path: str | Path, evaluations: Mapping[str, Any], *, title: str = "Span evaluation",
                 names: Sequence[str] | None = None) -> Path:
    """A self-contained HTML report of one or more evaluations (``{system: evaluate_spans result}``).

    ``names`` picks which keys of ``evaluations`` are systems (default: all whose value has
    ``strict`` and ``lenient``); with a single evaluation dict, pass it as ``{"predictions": result}``.

    Parameters
    ----------
    path : str | Path
        The HTML file to write (atomically; replaced when it exists).
    evaluations : mapping
        System name -> :func:`~bitbox.clinical.pd_narratives.evaluate.evaluate_spans` result; other keys
        (e.g. the ``split`` of a training run's metrics) are ignored.
    title : str
        The page's title and heading (default ``"Span evaluation"``).
    names : sequence of str | None
        The systems to show, in column order; ``None`` (default) for every evaluation result in
        ``evaluations``.

    Returns
    -------
    Path
        ``path``.
    """
    from bitbox.io import write_text
    from bitbox.report import html_page, png_data

    esc = html.escape
    names = [n for n in (names or evaluations) if isinstance(evaluations.get(n), Mapping)
             and "strict" in evaluations[n]]
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    rows = []
    for mode in ("strict", "lenient"):
        for avg in ("micro", "macro"):
            for key in ("precision", "recall", "f1"):
                cells = "".join(f"<td class='num'>{_f(evaluations[n][mode][avg][key])}</td>" for n in names)
                paper = PAPER_HEADLINE.get(f"{avg}_f1") if (key == "f1" and mode == "lenient") else None
                rows.append(f"<tr><td>{mode}</td><td>{avg}</td><td>{key}</td>{cells}"
                            f"<td class='num'>{_f(paper) if paper else ''}</td></tr>")
    first = evaluations[names[0]] if names else {}
    categories = sorted({c for n in names for c in evaluations[n]["lenient"]["per_category"]}
                        | set(PAPER_PER_CATEGORY))
    cat_rows = []
    for c in categories:
        support = first.get("lenient", {}).get("per_category", {}).get(c, {}).get("support", 0) if first else 0
        cells = ""
        for n in names:
            per = evaluations[n]
            cells += (f"<td class='num'>{_f(per['strict']['per_category'].get(c, {}).get('f1', np.nan))}</td>"
                      f"<td class='num'>{_f(per['lenient']['per_category'].get(c, {}).get('f1', np.nan))}</td>")
        paper = PAPER_PER_CATEGORY.get(c, (np.nan, np.nan))
        cat_rows.append(f"<tr><td>{esc(c)}</td><td class='num'>{support}</td>{cells}"
                        f"<td class='num'>{_f(paper[0])}</td><td class='num'>{_f(paper[1])}</td></tr>")
    cat_head = "".join(f"<th>{esc(n)} strict</th><th>{esc(n)} lenient</th>" for n in names)
    plot = ""
    if names:
        data = png_data(_figure(evaluations, names))
        plot = f"<img alt='per-category lenient F1' src='data:image/png;base64,{data}'>"
    notes = []
    if first:
        notes.append(f"{first['n_files']} files, {first['n_sentences']} sentences, level: {esc(first['level'])}.")
        for n in names:
            ev = evaluations[n]
            if ev.get("missing_predictions"):
                notes.append(f"{esc(n)}: no predictions for {len(ev['missing_predictions'])} file(s) "
                             f"(scored as empty): {esc(', '.join(ev['missing_predictions']))}.")
            if ev.get("extra_predictions"):
                notes.append(f"{esc(n)}: {len(ev['extra_predictions'])} prediction file(s) without a gold file "
                             f"(ignored): {esc(', '.join(ev['extra_predictions']))}.")
            if ev.get("dropped_predictions"):
                notes.append(f"{esc(n)}: {ev['dropped_predictions']} prediction(s) with labels outside the "
                             "hierarchy left out.")
    paper_head = "paper (Llama, headline)"
    body = f"""
<h1>{esc(title)}</h1>
<p>Per sentence, sets of (term, category); <b>strict</b>: same term and category; <b>lenient</b>: same category and
word overlap |A∩B|/max(|A|,|B|) &gt; 0.5 (Khanna, Bhatt et al. 2025). {_rule_text(first)} Micro pools the counts
of all categories. The paper's column is its best model (fine-tuned Llama-3-8B) on its own 179 narratives: a
reference point, not the same data, and scored with the paper's rules (lenient "paper", macro over the 12
categories) whatever the options above.</p>
<p>{'<br>'.join(notes)}</p>
<table><tr><th>matching</th><th>average</th><th>score</th>{head}<th>{paper_head}</th></tr>{''.join(rows)}</table>
<h2>Per category (F1)</h2>
<table><tr><th>category</th><th>gold spans</th>{cat_head}<th>paper strict</th><th>paper lenient</th></tr>
{''.join(cat_rows)}</table>
{plot}
"""
    page = html_page(title, body)
    path = Path(path)
    write_text(path, page)
    return path
