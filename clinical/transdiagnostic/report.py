"""Outputs of ``bitbox transdx evaluate``: metrics.json, run.json, predictions, splits and an HTML report.

- ``metrics.json``: ``{task: {model: scores}}`` only (tasks ``multiclass`` and
  ``<diagnosis>_vs_control``; models ``<feature set>/<model>``, ``fusion/max``,
  ``fusion/mean``, ``dummy``), scores as in
  :func:`~bitbox.clinical.transdiagnostic.classification_scores`;
- ``run.json``: provenance (manifest SHA-256, settings, package versions), the protocol
  and why, how each task's controls were chosen, the fused models per split, what each
  model's training did (``training``: chosen parameters, validation score, XGBoost's
  early-stopped ``best_iteration``, the MLP's ``best_epoch`` and augmented samples), the
  recordings left out and why;
- ``predictions.csv``: one row per task, model and test participant (scores per class);
- ``splits.csv``: which participants trained, selected and tested in each split;
- ``report.html``: the tables (one laid out like the paper's, the paper's own beside it),
  macro-F1 plots with 95% intervals and the dummy, confusion matrices.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from .cohort import Cohort
from .evaluate import Evaluation
from .features import Features

__all__ = ["write_outputs", "write_report", "PAPER_TABLE"]

#: Test results of Hansen et al. (2023), participant level (binary: F1 of the diagnosis; multiclass: macro F1).
PAPER_TABLE: tuple[tuple[str, str, str, str, str], ...] = (
    ("dummy (all positive)", ".667", ".667", ".667", ".167"),
    ("eGeMAPS", ".200", ".667", ".571", ".212"),
    ("MFCC", ".429", ".714", ".600", ".373"),
    ("x-vector", "-", ".545", ".727", ".521"),
    ("TF-IDF best", ".667", ".615", ".833", ".511"),
    ("all descriptives", ".462", ".400", ".600", ".377"),
    ("best text transformer", ".462-.462", ".800-.923", ".500-.750", ".413-.452"),
    ("baseline ensemble", ".000", ".714", ".833", ".570"),
    ("transformer ensemble", ".667", ".923", ".727", ".461"),
)


def _ci(pair) -> str:
    return "" if pair is None or any(v != v for v in pair) else f" [{pair[0]:.2f}, {pair[1]:.2f}]"


def _cell(value: float, pair=None) -> str:
    return "–" if value != value else f"{value:.2f}<small>{_ci(pair)}</small>"


def _model_order(models: dict[str, Any]) -> list[str]:
    """The dummy, the feature-set models and the fusions (single-descriptor models have their own table)."""
    names = [m for m in models if m not in ("dummy",) and not m.startswith("fusion/") and ":" not in m]
    return ["dummy", *names, *[m for m in ("fusion/max", "fusion/mean") if m in models]]


def _macro_figure(task: str, models: dict[str, dict]):
    import matplotlib.pyplot as plt

    names = [m for m in _model_order(models) if m != "dummy"]
    values = np.array([models[m]["macro_f1"] for m in names])
    ci = np.array([models[m]["macro_f1_ci"] for m in names], dtype=float)
    err = np.vstack([values - np.nan_to_num(ci[:, 0], nan=values), np.nan_to_num(ci[:, 1], nan=values) - values])
    colours = {"voice": "#3b7dd8", "text": "#e07b39", "fusion": "#4a9d5b"}
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(names) + 1.2))
    y = np.arange(len(names))
    ax.barh(y, values, xerr=np.maximum(err, 0), color=[colours.get(models[m]["modality"], "#888") for m in names],
            ecolor="#333", capsize=2)
    ax.axvline(models["dummy"]["macro_f1"], color="#c0392b", ls="--", lw=1.2, label="dummy")
    ax.axvline(models["dummy"]["chance_macro_f1"], color="#777", ls=":", lw=1.2, label="chance (1/classes)")
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro F1 (participants), 95% bootstrap interval", fontsize=8)
    ax.set_title(task, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _confusion_figure(task: str, model: str, scores: dict):
    import matplotlib.pyplot as plt

    matrix = np.asarray(scores["confusion_matrix"])
    labels = scores["labels"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(labels), 0.8 + 0.5 * len(labels)))
    ax.imshow(matrix, cmap="Blues")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=30)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    ax.set_title(f"{task}: {model}", fontsize=8)
    fig.tight_layout()
    return fig


def write_report(path: str | Path, cohort: Cohort, features: Features, result: Evaluation) -> Path:
    """The HTML report (self-contained: the plots are embedded).

    Parameters
    ----------
    path : str | Path
        The HTML file to write (atomically; replaced when it exists).
    cohort : Cohort
        The cohort evaluated: its class counts and which manifest columns it lacks are shown.
    features : Features
        Its feature tables: the recordings per feature set and those left out are shown.
    result : Evaluation
        What :func:`~bitbox.clinical.transdiagnostic.evaluate` returned: the metrics, confusion matrices
        and protocol notes are shown.

    Returns
    -------
    Path
        ``path``.
    """
    from bitbox.io import write_text
    from bitbox.report import html_page, png_data

    esc = html.escape
    metrics = result.metrics
    counts = cohort.participants["diagnosis"].value_counts()
    rec_counts = cohort.recordings["diagnosis"].value_counts()
    cohort_rows = "".join(f"<tr><td>{esc(c)}</td><td>{int(counts.get(c, 0))}</td><td>{int(rec_counts.get(c, 0))}"
                          f"</td></tr>" for c in cohort.classes)
    missing = [c for c in ("gender", "matched_control_id", "study") if not cohort.has(c)]
    notice = ""
    if missing:
        notice = (f"<p class='note'>The manifest has no {', '.join(missing)} for every participant: "
                  + ("participant-grouped cross-validation is used instead of the paper's test/validation selection"
                     if result.protocol == "cv" else "")
                  + ("; binary tasks compare each diagnosis with all controls" if "study" in missing else "")
                  + ". Figures are therefore not directly comparable with the paper's.</p>")
    tasks_html = "".join(f"<li><b>{esc(t)}</b>: controls = {esc(how)}</li>" for t, how in result.task_notes.items())

    # The paper-style table: one row per model, a column per binary task (F1 of the diagnosis) and multiclass.
    binary = [t for t in metrics if t != "multiclass"]
    columns = [*binary, *(["multiclass"] if "multiclass" in metrics else [])]
    all_models = []
    for t in columns:
        all_models += [m for m in _model_order(metrics[t]) if m not in all_models]
    paper_rows = []
    for m in all_models:
        cells = []
        for t in columns:
            s = metrics[t].get(m)
            if s is None:
                cells.append("<td>–</td>")
            elif t == "multiclass":
                cells.append(f"<td>{_cell(s['macro_f1'], s['macro_f1_ci'])}</td>")
            else:
                cells.append(f"<td>{_cell(s['f1'], s.get('f1_ci'))}</td>")
        paper_rows.append(f"<tr><td>{esc(m)}</td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{esc(t.replace('_vs_control', ''))}{' (F1)' if t != 'multiclass' else ' (macro F1)'}</th>"
                   for t in columns)
    reference = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in PAPER_TABLE)

    sections = []
    for task, models in metrics.items():
        rows = []
        for m in _model_order(models):
            s = models[m]
            per_class = ", ".join(f"{esc(k)} {v:.2f}" for k, v in s["per_class_f1"].items())
            rows.append(f"<tr class='{'dummy' if m == 'dummy' else ''}'><td>{esc(m)}</td>"
                        f"<td>{_cell(s['macro_f1'], s['macro_f1_ci'])}</td>"
                        f"<td>{_cell(s['accuracy'], s['accuracy_ci'])}</td>"
                        f"<td>{_cell(s['auc'], s.get('auc_ci'))}</td><td>{per_class}</td>"
                        f"<td>{_cell(s['validation_score'])}</td></tr>")
        candidates = [m for m in models if m != "dummy"]
        best = max(candidates, key=lambda m: models[m]["validation_score"]) if candidates else "dummy"
        single = sorted((m for m in models if ":" in m), key=lambda m: -models[m]["validation_score"])
        figure_key = "f1" if models["dummy"].get("f1") is not None else "macro_f1"
        single_html = "" if not single else (
            "<details><summary>Single-descriptor models (each <code>descriptives</code> column alone, as the "
            f"original's TextDescriptives models), {len(single)}</summary><table><tr><th>model</th>"
            f"<th>{'F1 of the diagnosis' if figure_key == 'f1' else 'macro F1'} [95% CI]</th>"
            "<th>validation score</th></tr>" + "".join(
                f"<tr><td>{esc(m)}</td><td>{_cell(models[m][figure_key], models[m].get(figure_key + '_ci'))}</td>"
                f"<td>{_cell(models[m]['validation_score'])}</td></tr>" for m in single) + "</table></details>")
        figures = (f"<img alt='macro F1 of {esc(task)}' src='data:image/png;base64,"
                   f"{png_data(_macro_figure(task, models), dpi=80)}'>"
                   f"<img alt='confusion matrix of {esc(task)}' src='data:image/png;base64,"
                   f"{png_data(_confusion_figure(task, best, models[best]), dpi=80)}'>")
        any_model = next(iter(models.values()))
        sections.append(
            f"<h3 id='{esc(task)}'>{esc(task)}</h3><p>{any_model['n_participants']} test participants; chance "
            f"macro F1 {any_model['chance_macro_f1']:.2f}; confusion matrix of the model best on validation "
            f"({esc(best)}).</p><table><tr><th>model</th><th>macro F1 [95% CI]</th><th>accuracy [95% CI]</th>"
            "<th>AUC [95% CI]</th><th>F1 per class</th><th>validation score</th></tr>" + "".join(rows)
            + f"</table>{single_html}<div class='figs'>{figures}</div>")
    fused = "".join(f"<tr><td>{esc(f['split'])}</td><td>{esc(f['task'])}</td><td>{esc(f['voice'])}</td>"
                    f"<td>{esc(f['text'])}</td></tr>" for f in result.fusion)
    dropped = features.dropped
    dropped_html = ("<p>None.</p>" if dropped.empty else "<table><tr><th>recording</th><th>participant</th>"
                    "<th>modality</th><th>reason</th></tr>" + "".join(
                        f"<tr><td>{esc(r.recording_key)}</td><td>{esc(str(r.participant_id))}</td>"
                        f"<td>{esc(r.modality)}</td><td>{esc(str(r.reason))}</td></tr>"
                        for r in dropped.itertuples()) + "</table>")
    body = (
        "<h1>Transdiagnostic speech and text classification</h1>"
        f"<p>Manifest: {esc(str(cohort.source))}. Method of Hansen et al. (2023); every figure is at the "
        "participant level (scores averaged over a participant's windows and recordings).</p>"
        "<h2>Cohort</h2><table><tr><th>class</th><th>participants</th><th>recordings</th></tr>"
        f"{cohort_rows}</table><h2>Protocol</h2><p>{esc(result.protocol_note)}.</p>{notice}<ul>{tasks_html}</ul>"
        "<h2>Results laid out like the paper's table</h2><p>Binary tasks: F1 of the diagnosis; multiclass: macro "
        "F1; 95% bootstrap intervals over test participants. Compare each row with the dummy.</p>"
        f"<table><tr><th>model</th>{head}</tr>{''.join(paper_rows)}</table>"
        "<h3>The paper's test results (Hansen et al. 2023, Danish cohort, 6+6 test participants per binary task)"
        "</h3><table><tr><th>model</th><th>ASD</th><th>MDD</th><th>SCZ</th><th>multiclass</th></tr>"
        f"{reference}</table>"
        "<h2>Per task</h2>" + "".join(sections)
        + "<h2>Late fusion</h2><p>The voice and the text model with the best validation score (F1 of the "
        "diagnosis for binary tasks, macro F1 for multiclass), per split; "
        "scores combined by maximum and by mean.</p><table><tr><th>split</th><th>task</th><th>voice</th>"
        f"<th>text</th></tr>{fused}</table><h2>Recordings left out</h2>{dropped_html}")
    page = html_page("Transdiagnostic classification", body,
                     css="tr.dummy{background:#fbeaea}small{color:#666}.note{background:#fff4d6;padding:.5em}"
                         ".figs img{max-width:49%;vertical-align:top}")
    write_text(Path(path), page)
    return Path(path)


def write_outputs(out_dir: str | Path, cohort: Cohort, features: Features, result: Evaluation, *,
                  settings: dict | None = None) -> Path:
    """Write metrics.json, run.json, predictions.csv, splits.csv and report.html into ``out_dir``.

    Parameters
    ----------
    out_dir : str | Path
        The output folder (created when missing); files of the same names are replaced.
    cohort : Cohort
        The cohort evaluated (its manifest's path and SHA-256 go into ``run.json``).
    features : Features
        Its feature tables (recordings and rows per set, and the recordings left out, go into ``run.json``).
    result : Evaluation
        What :func:`~bitbox.clinical.transdiagnostic.evaluate` returned.
    settings : dict | None
        The run's settings, recorded as given in ``run.json`` (default ``None``: an empty dict).

    Returns
    -------
    Path
        ``out_dir``.
    """
    from bitbox import __version__
    from bitbox.io import atomic_path, write_json
    from bitbox.provenance import package_versions, sha256_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", result.metrics)
    run = {
        "bitbox_version": __version__,
        "manifest": str(cohort.source), "manifest_sha256": sha256_file(cohort.source) if cohort.source else None,
        "settings": settings or {}, "protocol": result.protocol, "protocol_note": result.protocol_note,
        "tasks": result.task_notes, "fusion": result.fusion, "training": result.training,
        "cohort": {c: int(n) for c, n in cohort.participants["diagnosis"].value_counts().items()},
        "n_recordings": len(cohort.recordings),
        "feature_sets": {k: {"recordings": int(v["recording_key"].nunique()), "rows": len(v)}
                         for k, v in features.tables.items()},
        "dropped": features.dropped.to_dict(orient="records"),
        "package_versions": package_versions(("xgboost-cpu", "torch", "transformers", "opensmile",
                                              "praat-parselmouth")),
    }
    write_json(out / "run.json", run)
    for name, table in (("predictions.csv", result.predictions), ("splits.csv", result.splits)):
        with atomic_path(out / name) as tmp:
            table.to_csv(tmp, index=False)
    write_report(out / "report.html", cohort, features, result)
    return out
