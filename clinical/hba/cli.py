"""``bitbox hba evaluate`` (score any model) and ``bitbox hba baseline train|predict`` (Bitbox descriptors)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def _registry(args: argparse.Namespace):
    from .tasks import TaskRegistry, default_registry

    return default_registry() if args.registry is None else TaskRegistry.from_file(args.registry)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bitbox.io import write_json

    from .evaluate import evaluate_predictions, load_judge, read_predictions
    from .report import results_markdown, write_report

    judge = load_judge(args.judge) if args.judge else None
    predictions = read_predictions(args.predictions)
    metrics = evaluate_predictions(args.data, predictions, registry=_registry(args), judge=judge,
                                   media_root=args.media_root, allow_outside_paths=args.allow_outside_paths,
                                   average=args.average, extract=args.extract, synonyms=args.synonyms)
    out = Path(args.output)
    write_json(out / "metrics.json", metrics)
    write_report(out / "report.html", metrics)
    print(f"bitbox hba: {metrics['n_samples']} samples, {len(metrics['datasets'])} dataset(s)")
    print(results_markdown(metrics))
    for key, what in (("missing_predictions", "sample(s) without a prediction, scored as wrong"),
                      ("extra_predictions", "prediction(s) for ids not in the data, ignored")):
        if metrics[key]["count"]:
            print(f"  {metrics[key]['count']} {what}: {', '.join(metrics[key]['ids'][:10])}"
                  + (" ..." if metrics[key]["count"] > 10 else ""))
    print(f"Results: {out / 'metrics.json'}, {out / 'report.html'}")
    return 0


def _print_failures(failures: dict[str, str]) -> None:
    if failures:
        print(f"  {len(failures)} media file(s) could not be measured or were refused (their features are "
              "missing): " + "; ".join(f"{Path(k).name if Path(k).is_absolute() else k}: {v}"
                                      for k, v in list(failures.items())[:5]))


def _default_cache(output: str) -> Path:
    """``<output>-features`` beside the model folder or predictions file: the participants' descriptors
    stay out of the model folder (which sites exchange), and a received model folder cannot bring a
    cache of its own."""
    out = Path(output)
    return out.with_name(f"{out.stem if out.suffix else out.name}-features")


def _media_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--media-root", default=None, metavar="DIR",
                        help="media paths must resolve inside DIR (default: the data file's folder)")
    parser.add_argument("--allow-outside-paths", action="store_true",
                        help="read media from anywhere on disk (absolute paths, '..', links leading out): "
                             "only for data files you trust")


def _cmd_train(args: argparse.Namespace) -> int:
    from bitbox.provenance import sha256_file

    from .baseline import DescriptorBaseline
    from .reader import data_files

    model = DescriptorBaseline(processors=[p for p in args.processors.split(",") if p], pooling=args.pooling,
                               text=not args.no_text, ext_feats=args.ext_feats, embedding_model=args.embedding_model,
                               C=args.C,
                               workers=args.workers)
    cache = Path(args.cache) if args.cache else _default_cache(args.output)
    model.fit(args.data, cache, registry=_registry(args), progress=not args.quiet, media_root=args.media_root,
              allow_outside_paths=args.allow_outside_paths)
    provenance = {"data": {str(p): sha256_file(p) for p in data_files(args.data)}}
    model.save(args.output, provenance=provenance)
    print(f"bitbox hba: baseline trained for {', '.join(f'{d} ({n})' for d, n in model.n_train_.items())}")
    _print_failures(model.failures_)
    print(f"Model: {args.output}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from bitbox.io import atomic_path

    from .baseline import DescriptorBaseline

    model = DescriptorBaseline.load(args.model)
    model.workers = args.workers
    cache = Path(args.cache) if args.cache else _default_cache(args.output)
    predictions = model.predict(args.data, cache, progress=not args.quiet, media_root=args.media_root,
                                allow_outside_paths=args.allow_outside_paths)
    out = Path(args.output)
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps({"id": k, "prediction": v}) + "\n" for k, v in predictions.items()),
                       encoding="utf-8")
    print(f"bitbox hba: {len(predictions)} prediction(s) -> {out}")
    _print_failures(model.predict_failures_)
    return 0


def register(sub) -> None:
    """Add ``bitbox hba`` (``evaluate``, ``baseline train``, ``baseline predict``) to the ``bitbox`` subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the ``bitbox`` parser (what ``ArgumentParser.add_subparsers`` returns); each
        subcommand sets ``func``, the function that runs it and returns the exit status.
    """
    from .baseline import POOLINGS

    group = sub.add_parser("hba", help="Human Behavior Atlas: score any model; the Bitbox descriptor baseline")
    commands = group.add_subparsers(dest="hba_command", required=True)

    from .answers import EXTRACT_RULES
    from .metrics import AVERAGES

    ev = commands.add_parser("evaluate", help="score predictions on HBA samples per dataset and behavior group")
    ev.add_argument("--data", required=True, help="HBA samples: a .jsonl or .parquet file, or a folder of them")
    ev.add_argument("--predictions", required=True,
                    help='JSONL: {"id": <sample id, or its row index when the data has none>, "prediction": "..."}')
    ev.add_argument("-o", "--output", required=True, help="output folder (metrics.json, report.html)")
    ev.add_argument("--judge", default=None, metavar="MODULE:FUNCTION",
                    help="a local judge for QA answers: callable(problem, answer, prediction) -> score in [0, 1]")
    ev.add_argument("--registry", default=None, metavar="JSON", help="task registry file (default: the 16 datasets)")
    ev.add_argument("--average", choices=AVERAGES, default="gold",
                    help="classes of the macro averages: the gold answers (default, as the benchmark) or "
                         "gold_and_predicted (Bitbox's earlier rule: an off-label answer adds a class)")
    ev.add_argument("--extract", choices=EXTRACT_RULES, default="sft",
                    help="how the answer is read from a generated text: sft (default, the benchmark's evaluation: "
                         "\\boxed{}, <answer>, else the text before the first punctuation), reward, judge or none")
    ev.add_argument("--synonyms", action="store_true",
                    help="map gold and predicted answers through the label map's synonyms (off in the benchmark)")
    _media_args(ev)
    ev.set_defaults(func=_cmd_evaluate)

    base = commands.add_parser("baseline", help="Bitbox descriptors (face, pose, speech, text) + a classifier "
                                                "per dataset")
    steps = base.add_subparsers(dest="hba_baseline_command", required=True)
    tr = steps.add_parser("train", help="extract descriptors and fit one classifier per dataset")
    tr.add_argument("--data", required=True, help="training samples (.jsonl/.parquet file or folder)")
    tr.add_argument("-o", "--output", required=True, help="model folder")
    tr.add_argument("--processors", default="face,pose,speech", help="among face,pose (videos) and speech (audios)")
    tr.add_argument("--pooling", choices=tuple(POOLINGS), default="mean_std", help="statistics over time")
    tr.add_argument("--no-text", action="store_true", help="leave out the transcript embedding")
    tr.add_argument("--ext-feats", action="store_true",
                    help="also pool the benchmark's ext_video_feats / ext_audio_feats: .pt files relative to the data "
                         "file (loaded with torch.load(weights_only=True)) or numbers inline; a missing or unreadable "
                         "file is listed and its features imputed")
    tr.add_argument("--embedding-model", default=None, metavar="DIR", help="text encoder (default: packaged MiniLM)")
    tr.add_argument("--C", type=float, default=1.0, help="inverse regularisation (default 1)")
    tr.add_argument("--cache", default=None, metavar="DIR",
                    help="feature cache (default: OUTPUT-features beside the model folder, never inside it)")
    tr.add_argument("--workers", type=int, default=1, help="processes for feature extraction")
    tr.add_argument("--registry", default=None, metavar="JSON", help="task registry file")
    tr.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _media_args(tr)
    tr.set_defaults(func=_cmd_train)
    pr = steps.add_parser("predict", help="predict answers; writes the JSONL that `bitbox hba evaluate` reads")
    pr.add_argument("--data", required=True, help="samples to predict (.jsonl/.parquet file or folder)")
    pr.add_argument("--model", required=True, help="model folder from `bitbox hba baseline train`")
    pr.add_argument("-o", "--output", required=True, help="predictions JSONL file")
    pr.add_argument("--cache", default=None, metavar="DIR",
                    help="feature cache (default: OUTPUT-features beside the predictions file)")
    pr.add_argument("--workers", type=int, default=1, help="processes for feature extraction")
    pr.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _media_args(pr)
    pr.set_defaults(func=_cmd_predict)
