"""``bitbox transdx evaluate MANIFEST -o OUT``: features, models, fusion and a report for a cohort."""
from __future__ import annotations

import argparse

__all__ = ["register"]


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .cohort import read_manifest
    from .features import extract_features
    from .report import write_outputs

    from bitbox.errors import ParameterError

    from .models import MODELS

    models = args.models.split(",")
    if not set(models) <= set(MODELS):  # before hours of feature extraction
        raise ParameterError(f"Unknown model(s) {sorted(set(models) - set(MODELS))}; choose among {list(MODELS)}.")
    cohort = read_manifest(args.manifest, control_label=args.control_label)
    print(f"bitbox transdx: {cohort!r}")
    from .features import FEATURE_SETS
    from .protocol import choose_protocol, make_splits

    sets = args.features.split(",")
    if not sets or not set(sets) <= set(FEATURE_SETS):
        raise ParameterError(f"Unknown feature set(s) {sorted(set(sets) - set(FEATURE_SETS))}; choose among "
                             f"{list(FEATURE_SETS)}.")
    protocol, _ = choose_protocol(cohort, args.protocol)  # the splits are checked before hours of extraction
    make_splits(cohort, protocol, n_folds=args.folds, n_per_cell=args.n_per_cell, seed=args.seed)
    features = extract_features(cohort, args.output, feature_sets=args.features.split(","), window_s=args.window_s,
                                stride_s=args.stride_s, min_audio_s=args.min_audio_s, min_words=args.min_words,
                                embedding_model=args.embedding_model, asr_model=args.asr_model,
                                workers=args.workers, scheduler=args.scheduler, progress=not args.quiet)
    if len(features.dropped):
        print(f"  {len(features.dropped)} recording x modality left out (reasons in the report)")
    from .evaluate import evaluate

    result = evaluate(cohort, features, protocol=args.protocol, models=models, n_folds=args.folds,
                      n_per_cell=args.n_per_cell, n_iter=args.n_iter, seed=args.seed, n_boot=args.n_boot,
                      mlp_params={"n_epochs": args.mlp_epochs, "lr": args.mlp_lr}, mlp_augment=args.mlp_augment,
                      window_s=args.window_s, stride_s=args.stride_s, progress=not args.quiet)
    settings = {k: v for k, v in vars(args).items() if k != "func"}
    out = write_outputs(args.output, cohort, features, result, settings=settings)
    print(f"  protocol: {result.protocol_note}")
    for task, models in result.metrics.items():
        best = max((m for m in models if m != "dummy"), key=lambda m: models[m]["validation_score"], default=None)
        if best is None:
            continue
        s, d = models[best], models["dummy"]
        print(f"  {task:<24} {best:<22} macro F1 {s['macro_f1']:.2f} [{s['macro_f1_ci'][0]:.2f}, "
              f"{s['macro_f1_ci'][1]:.2f}]  (dummy {d['macro_f1']:.2f}; best on validation)")
    print(f"Results: {out / 'metrics.json'}, {out / 'report.html'}")
    return 0


def register(sub) -> None:
    """Add ``bitbox transdx`` (``evaluate``) to the ``bitbox`` command's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the ``bitbox`` parser (what ``ArgumentParser.add_subparsers`` returns); each
        subcommand sets ``func``, the function that runs it and returns the exit status.
    """
    from .features import FEATURE_SETS
    from .models import MODELS

    group = sub.add_parser("transdx", help="transdiagnostic speech and text classification (Hansen et al. 2023)")
    commands = group.add_subparsers(dest="transdx_command", required=True)
    ev = commands.add_parser("evaluate", help="features, classifiers, late fusion and a report for a cohort manifest")
    ev.add_argument("manifest", help="CSV: participant_id, diagnosis, recording[, transcript, study, gender, "
                                     "matched_control_id]")
    ev.add_argument("-o", "--output", required=True, help="output folder (metrics.json, report.html, features/)")
    ev.add_argument("--control-label", default="control", help="the diagnosis of controls (default: control)")
    ev.add_argument("--protocol", choices=("auto", "paper", "cv"), default="auto",
                    help="auto (default): the paper's split when the manifest has gender and matched controls, "
                         "participant-grouped cross-validation otherwise")
    ev.add_argument("--features", default=",".join(FEATURE_SETS), help=f"comma-separated, among {FEATURE_SETS}")
    ev.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, among {MODELS}")
    ev.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    ev.add_argument("--n-per-cell", type=int, default=3,
                    help="patients per diagnosis x gender in the paper's test and validation sets (default 3)")
    ev.add_argument("--n-iter", type=int, default=1000,
                    help="XGBoost random-search draws (default: the original's 1000; e.g. 20 for a quick run)")
    ev.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ev.add_argument("--seed", type=int, default=42, help="seed of the splits and models (default: the paper's 42)")
    ev.add_argument("--window-s", type=float, default=5.0, help="window of the eGeMAPS and MFCC sets (s)")
    ev.add_argument("--stride-s", type=float, default=1.0, help="window stride (s)")
    ev.add_argument("--min-audio-s", type=float, default=3.0, help="shorter audio is left out (default 3 s)")
    ev.add_argument("--min-words", type=int, default=5, help="shorter transcripts are left out (default 5)")
    ev.add_argument("--mlp-epochs", type=int, default=20, help="epochs of the MLP head (default: the paper's 20)")
    ev.add_argument("--mlp-lr", type=float, default=5e-5, help="AdamW learning rate of the MLP head (default 5e-5)")
    ev.add_argument("--mlp-augment", type=int, default=1,
                    help="augmented copies (gain, noise, room response, splice-out) of each training window for the "
                         "MLP on egemaps/mfcc (default 1; 0: none)")
    ev.add_argument("--embedding-model", default=None, metavar="DIR",
                    help="sentence-encoder folder (default: the packaged all-MiniLM-L6-v2)")
    ev.add_argument("--asr-model", default=None, metavar="DIR",
                    help="Whisper CTranslate2 folder for recordings without transcript (default: packaged tiny.en)")
    ev.add_argument("--workers", type=int, default=1, help="processes for the features (default 1)")
    ev.add_argument("--scheduler", default=None, metavar="local|ADDRESS", help="compute the features on Dask")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=_cmd_evaluate)

