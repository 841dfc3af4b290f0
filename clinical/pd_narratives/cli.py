"""``bitbox narratives train|evaluate|predict``: span models for cognitive categories in narratives."""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def _summary_line(name: str, result: dict) -> str:
    s, le = result["strict"], result["lenient"]
    return (f"  {name:<18} strict micro F1 {s['micro']['f1']:.2f} (macro {s['macro']['f1']:.2f})   "
            f"lenient micro F1 {le['micro']['f1']:.2f} (macro {le['macro']['f1']:.2f})")


def _cmd_train(args: argparse.Namespace) -> int:
    from bitbox.processors.span_model import SpanCategorizer

    from .train import train_and_evaluate, write_training_outputs

    model = SpanCategorizer(encoder=args.encoder, level=args.level, max_width=args.max_width,
                            max_epochs=args.max_epochs, patience=args.patience,
                            fine_tune_encoder=args.fine_tune_encoder, seed=args.seed)
    run = train_and_evaluate(args.corpus, model=model, hierarchy=args.hierarchy, split_seed=args.split_seed,
                             progress=not args.quiet)
    out = write_training_outputs(run, args.output)
    n = {p: len(v) for p, v in run.metrics["split"].items()}
    print(f"bitbox narratives: {n['train']} training, {n['validation']} validation, {n['test']} test files; "
          f"best epoch {run.model.best_epoch_}, validation F1 {run.model.validation_f1_:.2f}")
    print("Held-out test files:")
    print(_summary_line("model", run.metrics["model"]))
    print(_summary_line("lexicon baseline", run.metrics["lexicon_baseline"]))
    print(f"Model: {out}  (metrics.json, report.html, splits.csv)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bitbox.io import write_json
    from bitbox.processors.narrative_format import LabelHierarchy, read_narratives

    from .evaluate import evaluate_spans, read_predictions
    from .report import write_report

    hierarchy = None if args.hierarchy is None else LabelHierarchy.from_file(args.hierarchy)
    gold = read_narratives(args.gold, hierarchy)
    predicted = read_predictions(args.pred, gold)
    result = evaluate_spans(gold, predicted, level=args.level, hierarchy=hierarchy, on_unknown=args.on_unknown,
                            lenient=args.lenient, macro=args.macro)
    out = Path(args.output)
    write_json(out / "metrics.json", result)
    write_report(out / "report.html", {"predictions": result}, title=f"Span evaluation: {Path(args.pred).name}")
    print(f"bitbox narratives: {result['n_files']} gold files, {result['n_sentences']} sentences; lenient rule "
          f"{result['lenient_rule']}, macro over {len(result['lenient']['macro_categories'])} "
          f"{'categories' if result['level'] == 'category' else 'labels'}")
    print(_summary_line("predictions", result))
    if result["lenient_rule"] == "paper" and result["duplicate_sentences"]:
        print(f"  {result['duplicate_sentences']} sentence(s) repeat an earlier sentence's text and were scored once "
              "(the paper's notebook keys sentences by text; --lenient one-to-one scores each)")
    if result["missing_predictions"]:
        print(f"  {len(result['missing_predictions'])} gold file(s) without predictions, scored as empty: "
              + ", ".join(result["missing_predictions"]))
    if result["extra_predictions"]:
        print(f"  {len(result['extra_predictions'])} prediction file(s) without a gold file, ignored: "
              + ", ".join(result["extra_predictions"]))
    if result["dropped_predictions"]:
        print(f"  {result['dropped_predictions']} prediction(s) with labels outside the hierarchy left out")
    print(f"Results: {out / 'metrics.json'}, {out / 'report.html'}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from bitbox.errors import ParameterError
    from bitbox.processors.span_model import load_span_model

    from .train import predict_files

    files: list[Path] = []
    for item in args.inputs:
        path = Path(item)
        files += sorted(p for p in path.iterdir() if p.suffix in (".txt", ".json")) if path.is_dir() else [path]
    stems = [p.stem for p in files]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ParameterError(f"Two inputs share the name(s) {', '.join(duplicates)}; outputs are named after the "
                             "input's stem. Rename one or predict them separately.")
    written = predict_files(files, args.output, model=load_span_model(args.model))
    print(f"bitbox narratives: {len(written)} file(s) annotated -> {args.output}")
    return 0


def _cmd_upgrade(args: argparse.Namespace) -> int:
    from bitbox.processors.span_model import upgrade_span_model

    folder = upgrade_span_model(args.model)
    print(f"bitbox narratives: {folder} now records the SHA-256 of its files (format 2); only do this for a model "
          "you trained or trust")
    return 0


def register(sub) -> None:
    """Add ``bitbox narratives`` (``train``, ``evaluate``, ``predict``, ``upgrade-model``) to the ``bitbox`` subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the ``bitbox`` parser (what ``ArgumentParser.add_subparsers`` returns); each
        subcommand sets ``func``, the function that runs it and returns the exit status.
    """
    group = sub.add_parser("narratives", help="cognitive span categories in narratives (Khanna, Bhatt et al. 2025)")
    commands = group.add_subparsers(dest="narratives_command", required=True)

    tr = commands.add_parser("train", help="train a span model on an annotated corpus (70/10/20 split by file) "
                                           "and score it and the lexicon baseline on the held-out files")
    tr.add_argument("corpus", help="folder of annotation JSON files")
    tr.add_argument("-o", "--output", required=True, help="model folder to write")
    tr.add_argument("--encoder", default=None, metavar="DIR",
                    help="Hugging Face encoder folder, e.g. Bio_ClinicalBERT (default: the packaged MiniLM)")
    tr.add_argument("--level", choices=("category", "label"), default="category",
                    help="predict the 12 categories (default) or the fine labels")
    tr.add_argument("--max-width", type=int, default=12, help="longest span in words (default 12)")
    tr.add_argument("--max-epochs", type=int, default=60, help="upper bound on epochs (default 60)")
    tr.add_argument("--patience", type=int, default=8, help="early-stopping patience in epochs (default 8)")
    tr.add_argument("--fine-tune-encoder", action="store_true", help="train the encoder too (slow on a CPU)")
    tr.add_argument("--hierarchy", default=None, metavar="JSON", help="label hierarchy file (default: the paper's)")
    tr.add_argument("--seed", type=int, default=0, help="seed of the model (default 0)")
    tr.add_argument("--split-seed", type=int, default=42, help="seed of the file split (default 42)")
    tr.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=_cmd_train)

    ev = commands.add_parser("evaluate", help="score predictions against gold annotations (strict and lenient)")
    ev.add_argument("--gold", required=True, help="folder of gold annotation JSON files")
    ev.add_argument("--pred", required=True, help="folder of predictions with the same file names: annotation JSON, "
                                                  "or .txt with LLM answers in the paper's Annotation(...) format")
    ev.add_argument("-o", "--output", required=True, help="output folder (metrics.json, report.html)")
    ev.add_argument("--level", choices=("category", "label"), default="category",
                    help="score the categories (default, as the paper) or the fine labels")
    ev.add_argument("--on-unknown", choices=("error", "drop"), default="error",
                    help="a predicted label outside the hierarchy: stop with an error (default) or leave it out")
    ev.add_argument("--hierarchy", default=None, metavar="JSON", help="label hierarchy file (default: the paper's)")
    ev.add_argument("--lenient", choices=("paper", "one-to-one"), default="paper",
                    help="paper (default): the authors' notebook, a prediction counts when a gold term of its category "
                         "shares more than half of the longer term's whitespace-separated words (case-sensitive), a "
                         "gold term only leniently matched still "
                         "counts as missed, sentences keyed by text; one-to-one: the stricter variant, lower-cased "
                         "words, each gold term matched at most once, every sentence scored")
    ev.add_argument("--macro", choices=("all", "present"), default="all",
                    help="macro average over all the hierarchy's categories, absent ones scoring 0 (default, as the "
                         "paper), or over the categories in the gold or the predictions")
    ev.set_defaults(func=_cmd_evaluate)

    pr = commands.add_parser("predict", help="annotate .txt (or annotation .json) files with a span model")
    pr.add_argument("inputs", nargs="+", help="files or folders")
    pr.add_argument("-o", "--output", required=True, help="folder for the annotation JSON files")
    pr.add_argument("--model", default=None, metavar="DIR", help="span model folder (default: the shipped one)")
    pr.set_defaults(func=_cmd_predict)

    up = commands.add_parser("upgrade-model", help="record the SHA-256 of the files of a span model saved by an "
                                                   "older Bitbox (only for a model you trust)")
    up.add_argument("model", help="span model folder (format 1)")
    up.set_defaults(func=_cmd_upgrade)
