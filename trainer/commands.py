"""What each ``l2i`` subcommand does, given parsed arguments."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from engine.bundles.bundle import Bundle, load_bundle, save_bundle
from engine.dsp import nmf
from engine.explanation.explain import Explainer
from engine.models.classifier import VGGConfig
from engine.runtime.errors import L2IError
from engine.tools.explain_files import explain_to_folder
from resources import default_bundle_path
from trainer import corruption_cli, pipeline, report_cli, slime_cli
from trainer import distributed as D
from trainer.checkpoint import atomic_write_json, seed_everything
from trainer.contaminate import KINDS
from trainer.evaluate import evaluate_bundle, format_table
from trainer.focus_eval import evaluate_focus, format_focus
from trainer.progress_bar import TerminalProgress
from trainer.train_classifier import ClassifierTrainConfig
from trainer.train_interpreter import InterpreterTrainConfig


def run(args: argparse.Namespace) -> int:
    if args.command == "explain":
        return _explain(args)
    if args.command == "corrupt":
        return corruption_cli.run(args)
    if args.command == "report":
        return report_cli.run(args)
    ctx = D.setup(getattr(args, "device", "auto"))
    progress = TerminalProgress(enabled=ctx.is_main)
    previous = _stop_at_the_next_step_on_ctrl_c(progress)
    try:
        seed_everything(getattr(args, "seed", 0) + ctx.rank)
        if args.command == "evaluate":
            return _evaluate(args, ctx, progress)
        return {"classifier": _train_classifier, "dictionary": _train_dictionary,
                "interpreter": _train_interpreter, "all": _train_all}[args.what](
            args, ctx, progress)
    finally:
        progress.close()
        D.cleanup(ctx)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _stop_at_the_next_step_on_ctrl_c(progress: TerminalProgress):
    """The first Ctrl-C cancels the task: the loop stops at its next step (every step
    reports) and the command exits 130. A KeyboardInterrupt raised at an arbitrary point
    can land inside the progress bar's lock and hang the exit; a second Ctrl-C still
    raises it at once. Returns the handler to restore (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def first(_sig, _frame) -> None:
        progress.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return signal.signal(signal.SIGINT, first)


def _bundle_path(arg: Path | None) -> Path:
    if arg is not None:
        return arg
    default = default_bundle_path()
    if default is None:
        raise L2IError("no default bundle ships with this version yet; pass --bundle PATH")
    return default


def _explain(args) -> int:
    slime_cli.check(args)
    bundle = load_bundle(_bundle_path(args.bundle))
    if args.method == "slime":
        return slime_cli.run(args, bundle)
    doc = explain_to_folder(args.clip, bundle, args.out, args.target, args.threshold,
                            args.device)
    top = doc["predictions"][0]
    chosen = sum(c["selected"] for c in doc["components"])
    print(f"{args.clip}: {top['label']} ({top['probability']:.2f}); explained "
          f"'{doc['explained_class']}' with {chosen} components -> {args.out}")
    return 0


def _prepare(args, ctx, progress) -> pipeline.Prepared:
    p = pipeline.prepare(args.data, args.layout, args.test_fold,
                         clip_seconds=args.clip_seconds, cache_dir=args.cache,
                         seed=args.seed, ctx=ctx, task=progress,
                         inner_folds_of=args.inner_folds_of)
    if ctx.is_main:
        ds = p.dataset
        print(f"data: {len(ds)} clips, {len(ds.classes)} classes, layout {ds.layout}, "
              f"folds {ds.fold_ids}; {len(p.train_rows)} for training", file=sys.stderr)
        if p.features.skipped:
            print(f"skipped {len(p.features.skipped)} unreadable files, e.g. "
                  f"{p.features.skipped[0][1]}", file=sys.stderr)
    return p


def _classifier_cfg(args) -> ClassifierTrainConfig:
    model = VGGConfig()
    if getattr(args, "widths", None):
        model.widths = [int(w) for w in args.widths.split(",")]
    return ClassifierTrainConfig(epochs=args.epochs, seed=args.seed, model=model,
                                 val_by_recording=getattr(args, "val_by_recording", False))


def _nmf_cfg(args) -> nmf.NMFConfig:
    if args.k < 1 or args.iterations < 1 or args.inner < 1 or args.inner_w < 0:
        raise L2IError("--k, --iterations and --inner must be at least 1, --inner-w >= 0")
    return nmf.NMFConfig(k=args.k, sparsity=args.sparsity, beta=args.divergence,
                         iterations=args.iterations, inner=args.inner, seed=args.seed,
                         inner_w=args.inner_w)


def _interp_cfg(args, init: Bundle | None = None) -> InterpreterTrainConfig:
    """``init``: Psi's size comes from that bundle unless the flags name one."""
    if min(args.faith_in, args.faith_out, args.faith_size, args.focus) < 0:
        raise L2IError("--faith-in, --faith-out, --faith-size and --focus must be >= 0")
    if not args.fidelity_weight > 0:
        raise L2IError("--fidelity-weight must be > 0")
    if args.focus_mixtures < 1:
        raise L2IError("--focus-mixtures must be at least 1")
    if not 0 <= args.refine <= 1000:
        raise L2IError("--refine takes 0 to 1000 updates")
    size = {}
    for name in ("adapter_channels", "hidden", "temporal_stride"):
        value = getattr(args, name, None)
        if value is None and init is not None:
            value = getattr(init.interpreter.config, name)
        if value is not None:
            size[name] = value
    return InterpreterTrainConfig(**size, pooling=args.pooling, alpha=args.alpha, beta=args.l1,
                                  epochs=args.iepochs or 35, lr=args.lr, seed=args.seed,
                                  fidelity_weight=args.fidelity_weight,
                                  faith_in=args.faith_in, faith_out=args.faith_out,
                                  faith_size=args.faith_size, focus=args.focus,
                                  focus_mixtures=args.focus_mixtures,
                                  focus_selection=args.focus_selection,
                                  refine_iterations=args.refine,
                                  mask_domain=args.mask_domain,
                                  init=str(args.init) if getattr(args, "init", None)
                                  else None)


def _layers(args) -> list[str] | None:
    return [s.strip() for s in args.layers.split(",") if s.strip()] if args.layers else None


def _train_classifier(args, ctx, progress) -> int:
    p = _prepare(args, ctx, progress)
    art = pipeline.classifier_stage(p, _classifier_cfg(args), args.out, ctx, args.resume,
                                    progress)
    if ctx.is_main:
        print(f"classifier: best epoch {art.info['best_epoch']} -> {args.out}")
    return 0


def _train_dictionary(args, ctx, progress) -> int:
    p = _prepare(args, ctx, progress)
    W, info = pipeline.dictionary_stage(p, _nmf_cfg(args), args.out, ctx, args.max_frames,
                                        progress)
    if ctx.is_main:
        print(f"dictionary: K={W.shape[1]}, objective {info['final_objective']:.6g} "
              f"-> {args.out}")
    return 0


def _train_interpreter(args, ctx, progress) -> int:
    from trainer.artifacts import load_classifier, load_dictionary

    p = _prepare(args, ctx, progress)
    clf = load_classifier(args.classifier)
    W, info = load_dictionary(args.dictionary)
    ckpt = _work_dir(args) / "interpreter.pt"
    init = load_bundle(args.init) if args.init else None
    bundle = pipeline.interpreter_stage(p, clf, W, info, _interp_cfg(args, init), args.out,
                                        _layers(args), ctx, args.resume, ckpt, task=progress,
                                        init=init)
    if ctx.is_main:
        print(f"bundle: {bundle.name} (K={bundle.k}, {len(bundle.classes)} classes) "
              f"-> {args.out}")
    return 0


def _work_dir(args) -> Path:
    work = getattr(args, "work", None) or args.out.with_name(args.out.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    return work


def _train_all(args, ctx, progress) -> int:
    from trainer.artifacts import CLASSIFIER_JSON, load_classifier, load_dictionary

    p = _prepare(args, ctx, progress)  # checks the data before anything is created
    work = _work_dir(args)
    clf_dir = work / "classifier"
    if args.resume and (clf_dir / CLASSIFIER_JSON).is_file():
        clf = load_classifier(clf_dir)
    else:
        clf = pipeline.classifier_stage(p, _classifier_cfg(args), clf_dir, ctx, args.resume,
                                        progress)
    dict_file = work / "dictionary.safetensors"
    if args.resume and dict_file.is_file():
        W, dinfo = load_dictionary(dict_file)
    else:
        W, dinfo = pipeline.dictionary_stage(p, _nmf_cfg(args), dict_file, ctx,
                                             args.max_frames, progress)
    bundle = pipeline.interpreter_stage(p, clf, W, dinfo, _interp_cfg(args), args.out,
                                        _layers(args), ctx, args.resume,
                                        work / "interpreter.pt", task=progress)
    if ctx.is_main:
        result = pipeline.evaluation_stage(bundle, p, args.out, device=str(ctx.device),
                                           task=progress)
        atomic_write_json(work / "evaluation.json", result)
        print(format_table(result))
        print(f"bundle -> {args.out}")
    D.barrier(ctx)
    return 0


def _evaluate(args, ctx, progress) -> int:
    if not ctx.is_main:
        return 0
    taus = [float(t) for t in args.taus.split(",") if t.strip()]
    if not taus or any(not 0 <= t < 1 for t in taus):
        raise L2IError("--taus must be numbers in [0, 1), e.g. 0.1,0.3,0.5")
    kinds = [k.strip() for k in args.contaminate.split(",") if k.strip()]
    if set(kinds) - set(KINDS):
        raise L2IError(f"--contaminate takes {','.join(KINDS)}, not {args.contaminate}")
    if not 0 <= args.quality_tau < 1:
        raise L2IError("--quality-tau must be in [0, 1)")
    bundle = load_bundle(args.bundle)
    p = _prepare(args, ctx, progress)
    if list(p.dataset.classes) != bundle.classes:
        raise L2IError("the bundle's classes differ from the data's classes")
    rows = p.test_rows if args.test_fold is not None else p.train_rows
    if args.focus < 0 or (args.focus_only and not args.focus):
        raise L2IError("--focus takes a number of mixtures (e.g. 200); --focus-only needs it")
    if args.focus and bundle.multilabel:
        raise L2IError("--focus is measured on single-label data")
    result: dict = {}
    if not args.focus_only:
        result = evaluate_bundle(bundle, p.dataset, rows, taus, str(ctx.device), args.seed,
                                 progress, args.quality_tau, kinds, args.speech)
        print(format_table(result))
    result["evaluated_on"] = ("test fold" if args.test_fold is not None
                              else "training clips")
    if args.focus:
        with Explainer(bundle, str(ctx.device)) as ex:
            result["focus"] = evaluate_focus(ex, p.dataset, rows, args.focus, args.seed,
                                             args.quality_tau, progress)
        print(format_focus(result["focus"]))
    if args.json:
        atomic_write_json(args.json, result)
    if args.into_bundle:
        if args.focus_only:
            result = bundle.manifest.get("metrics", {}) | {"focus": result["focus"]}
        bundle.manifest["metrics"] = result
        save_bundle(bundle, args.bundle)
        print(f"metrics stored in {args.bundle}")
    return 0


