"""``bitbox eegfactors fit|evaluate``: train and cross-validate the beta-VAE + SCAN on ERP data."""
from __future__ import annotations

import argparse
import html
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["register", "write_report"]


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", dest="epochs_dir", required=True, metavar="DIR",
                        help="folder of MNE *-epo.fif files, one per subject")
    parser.add_argument("--labels", required=True, metavar="CSV",
                        help="subject (the file stem), then one column per label")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--channels", default=None, help="comma-separated channels (default: those all subjects have)")
    parser.add_argument("--conditions", default=None, help="comma-separated conditions (default: all shared)")
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--beta", type=float, default=30.0)
    parser.add_argument("--n-epochs", type=int, default=80, help="training epochs of the beta-VAE (default 80)")
    parser.add_argument("--seed", type=int, default=0)


def _load(args: argparse.Namespace):
    from .data import read_epochs_dir
    from .model import EegFactorModel

    dataset = read_epochs_dir(args.epochs_dir, args.labels,
                              channels=args.channels.split(",") if args.channels else None,
                              conditions=args.conditions.split(",") if args.conditions else None)
    model = EegFactorModel(latent_dim=args.latent_dim, beta=args.beta, n_epochs=args.n_epochs, random_state=args.seed)
    return dataset, model


def _data_info(args: argparse.Namespace, dataset) -> dict[str, Any]:
    from bitbox.provenance import sha256_file

    files = sorted(Path(args.epochs_dir).glob("*-epo.fif"))
    return {"epochs_dir": str(args.epochs_dir), "labels": str(args.labels), "labels_sha256": sha256_file(args.labels),
            "epochs_sha256": {p.name: sha256_file(p) for p in files}, "subjects": dataset.subjects,
            "channels": dataset.channels, "conditions": dataset.conditions}


def _cmd_fit(args: argparse.Namespace) -> int:
    dataset, model = _load(args)
    print(f"bitbox eegfactors: {dataset!r}")
    model.fit(dataset)
    out = model.save(args.output, data_info=_data_info(args, dataset))
    print(f"Model: {out} (model.safetensors, model.json); markers: {model.markers_}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bitbox.io import write_json

    from .evaluate import cross_validate

    dataset, model = _load(args)
    print(f"bitbox eegfactors: {dataset!r}")
    metrics = cross_validate(dataset, model, n_folds=args.folds, random_state=args.seed)
    metrics["data"] = _data_info(args, dataset)
    full = type(model)(**model.get_params()).fit(dataset)  # for the traversals and markers
    metrics["markers"] = full.markers_
    metrics["marker_effects"] = full.marker_effects_
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", metrics)
    write_report(out / "report.html", metrics, full)
    for label in dataset.labels.columns:
        s, b = metrics["scan"][label], metrics["baseline"][label]
        print(f"  {label:<16} SCAN accuracy {s['accuracy']:.2f} AUC {s['auc']:.2f}   "
              f"baseline accuracy {b['accuracy']:.2f} AUC {b['auc']:.2f}")
    print(f"Results: {out / 'metrics.json'}, {out / 'report.html'}")
    return 0


def _cmd_epochs(args: argparse.Namespace) -> int:
    from .data import epochs_from_raw

    written = epochs_from_raw(args.recordings, args.output, tmin=args.tmin, tmax=args.tmax)
    print(f"Wrote {len(written)} epochs files into {args.output}")
    return 0


def register(sub) -> None:
    """Add ``bitbox eegfactors`` (``epochs``, ``fit``, ``evaluate``) to the ``bitbox`` command's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the ``bitbox`` parser (what ``ArgumentParser.add_subparsers`` returns); each
        subcommand sets ``func``, the function that runs it and returns the exit status.
    """
    group = sub.add_parser("eegfactors", help="beta-VAE + SCAN EEG factors (Honke et al. 2021): epochs, fit, evaluate")
    commands = group.add_subparsers(dest="eegfactors_command", required=True)
    ep = commands.add_parser("epochs", help="epoch raw EEG files with Bitbox's EEG preprocessing (one file each)")
    ep.add_argument("recordings", nargs="+", help="raw EEG files (EDF/BDF/GDF/FIF/BrainVision/EEGLAB), one per subject")
    ep.add_argument("-o", "--output", required=True, help="folder for the <stem>-epo.fif files")
    ep.add_argument("--tmin", type=float, default=-0.2)
    ep.add_argument("--tmax", type=float, default=0.8)
    ep.set_defaults(func=_cmd_epochs)
    fit = commands.add_parser("fit", help="train on all subjects and save the model")
    _model_args(fit)
    fit.set_defaults(func=_cmd_fit)
    ev = commands.add_parser("evaluate", help="subject-level cross-validation of SCAN and the ERP baseline")
    _model_args(ev)
    ev.add_argument("--folds", type=int, default=5)
    ev.set_defaults(func=_cmd_evaluate)


# ---------------------------------------------------------------------------- report
def _traversal_figure(model, dim: int):
    import matplotlib.pyplot as plt

    values = np.linspace(-2.5, 2.5, 5)
    erps = model.traversal(dim, values)
    n_cond, n_ch = len(model.conditions_), len(model.channels_)
    fig, axes = plt.subplots(n_cond, n_ch, figsize=(2.6 * n_ch, 1.8 * n_cond), sharex=True, sharey=True,
                             squeeze=False)
    colors = plt.cm.coolwarm(np.linspace(0, 1, len(values)))
    t_ms = np.asarray(model.times_) * 1000
    for c in range(n_cond):
        for h in range(n_ch):
            axis = axes[c, h]
            for erp, value, color in zip(erps, values, colors):
                axis.plot(t_ms, erp[c * n_ch + h], color=color, lw=1.2, label=f"z={value:+.1f}")
            axis.axhline(0, color="#999", lw=0.5)
            axis.set_title(f"{model.conditions_[c]} {model.channels_[h]}", fontsize=8)
            axis.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("ms", fontsize=8)
    axes[0, 0].set_ylabel("uV", fontsize=8)
    axes[0, -1].legend(fontsize=6, loc="upper right")
    fig.suptitle(f"latent {dim}: what it does to the ERP (others at 0)", fontsize=9)
    fig.tight_layout()
    return fig


def _marker_row(model, label: str, value: str, dims: list[int]) -> str:
    effect = (getattr(model, "marker_effects_", None) or {}).get(label, {}).get(value) or {}
    separation = effect.get("separation")
    largest = ("–" if not separation else
               ", ".join(f"{d}: {separation[d]:.2f}" for d in np.argsort(separation)[::-1][:3]))
    threshold = "–" if effect.get("threshold") is None else f"{effect['threshold']:.2f}"
    return (f"<tr><td>{html.escape(label)}</td><td>{html.escape(value)}</td><td>{dims or 'none'}</td>"
            f"<td>{largest}</td><td>{threshold}</td></tr>")


def write_report(path: str | Path, metrics: dict, model) -> Path:
    """HTML report: SCAN vs baseline with intervals, denoising, latent traversals, markers.

    Parameters
    ----------
    path : str | Path
        The HTML file to write (atomically; replaced when it exists).
    metrics : dict
        What :func:`~bitbox.clinical.eeg_factors.evaluate.cross_validate` returns: ``n_subjects``,
        ``protocol``, ``scan`` and ``baseline`` (label -> accuracy, AUC, their intervals, chance
        accuracy) and ``denoising``.
    model : EegFactorModel
        A fitted model (on all subjects): its markers, marker effects and latent traversals are drawn.

    Returns
    -------
    Path
        ``path``.
    """
    from bitbox.io import write_text
    from bitbox.report import html_page, png_data

    from .model import active_dims

    def ci(pair) -> str:
        return "–" if pair is None or any(v != v for v in pair) else f"[{pair[0]:.2f}, {pair[1]:.2f}]"

    rows = []
    for label in metrics["scan"]:
        for name in ("scan", "baseline"):
            s = metrics[name][label]
            rows.append(f"<tr><td>{html.escape(label)}</td><td>{'SCAN' if name == 'scan' else 'ERP baseline'}</td>"
                        f"<td>{s['accuracy']:.2f} {ci(s.get('accuracy_ci'))}</td><td>{s['auc']:.2f} "
                        f"{ci(s.get('auc_ci'))}</td><td>{s['chance_accuracy']:.2f}</td></tr>")
    d = metrics["denoising"]
    markers = "".join(_marker_row(model, label, value, dims)
                      for label, by_value in model.markers_.items() for value, dims in by_value.items())
    dims = active_dims(model)
    figures = "".join(f"<img alt='latent {k}' src='data:image/png;base64,"
                      f"{png_data(_traversal_figure(model, k), dpi=80)}'>" for k in dims)
    body = (f"<h1>EEG factors: beta-VAE + SCAN</h1><p>{metrics['n_subjects']} subjects; "
            f"{html.escape(metrics['protocol'])}.</p><h2>Classification (held-out subjects)</h2>"
            "<table><tr><th>label</th><th>model</th><th>accuracy "
            "[95% CI]</th><th>AUC [95% CI]</th><th>chance</th></tr>" + "".join(rows) + "</table>"
            f"<h2>Denoising</h2><p>Averages of {d['trials_per_average']} trials of held-out subjects: correlation "
            f"with the subject's full average {d['raw_correlation']:.3f} raw, {d['denoised_correlation']:.3f} after "
            f"encoding and decoding (gain {d['gain']:+.3f}; {d['n_averages']} averages).</p>"
            "<h2>Marker dimensions per label value</h2><p>SCAN is asked only about label vectors seen in training. "
            "For each label, vectors that differ only in that label are compared: a latent marks a value when SCAN's "
            "posterior for the value lies at least <i>threshold</i> within-value SDs (d') from the label's other "
            f"values' (threshold: the larger of marker_shift = {model.marker_shift:g} and what sampling noise gives "
            f"at the label's group sizes, family-wise alpha {model.marker_alpha:g}); at most two, largest first. "
            "A label that does not change the ERPs marks none.</p><table><tr><th>label</th><th>value</th>"
            f"<th>latent dimensions</th><th>largest separations (d')</th><th>threshold</th></tr>{markers}</table>"
            f"<h2>Latent traversals</h2><p>Active dimensions (mean KL to the prior above 0.05): {dims}. Each "
            f"figure decodes the latent vector with one dimension swept from -2.5 to +2.5.</p>{figures}")
    page = html_page("EEG factors", body)
    write_text(Path(path), page)
    return Path(path)
