"""What each ``l2i`` subcommand does, given parsed arguments (trainer.dispatch says
which function runs which command)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from engine.bundles.bundle import Bundle, load_bundle, save_bundle
from engine.dsp import nmf
from engine.dsp.features import FrontEndConfig
from engine.explanation.explain import Explainer
from engine.models.classifier import VGGConfig, vgg_config
from engine.runtime.errors import L2IError
from engine.tools.explain_files import explain_to_folder
from resources import default_bundle_path
from trainer import distributed as D
from trainer import lmac_cli, pipeline, slime_cli, unlabelled
from trainer.byo_args import choice_from_args, frontend_from_args
from trainer.checkpoint import atomic_write_json, seed_everything
from trainer.contaminate import KINDS
from trainer.datasets import load_dataset
from trainer.evaluate import evaluate_bundle, format_table
from trainer.focus_eval import evaluate_focus, format_focus
from trainer.model_check import check_on_data
from trainer.plan import (
    ClassifierChoice,
    TrainingPlan,
    align_classes,
    brought_artifact,
    check_class_names,
    run_plan,
)
from trainer.progress_bar import TerminalProgress
from trainer.train_classifier import ClassifierTrainConfig
from trainer.train_interpreter import InterpreterTrainConfig
from trainer.work_folder import WorkFiles, default_work

log = logging.getLogger(__name__)
Handler = Callable[[argparse.Namespace, D.Context, TerminalProgress], int]


def in_training_context(handler: Handler, args: argparse.Namespace) -> int:
    """Run a training or evaluation command: one process or torchrun's many, seeded per
    rank, with progress bars (rank 0's) that the first Ctrl-C stops."""
    ctx = D.setup(getattr(args, "device", "auto"))
    log.debug("rank %d of %d on %s", ctx.rank, ctx.world_size, ctx.device)
    progress = TerminalProgress(enabled=ctx.is_main)
    previous = _stop_at_the_next_step_on_ctrl_c(progress)
    try:
        seed_everything(getattr(args, "seed", 0) + ctx.rank)
        return handler(args, ctx, progress)
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


def explain(args: argparse.Namespace) -> int:
    slime_cli.check(args)
    bundle = load_bundle(_bundle_path(args.bundle), trust_code=args.trust_code)
    if args.method == "slime":
        return slime_cli.run(args, bundle)
    if args.method == "lmac":
        return lmac_cli.explain(args, bundle)
    doc = explain_to_folder(args.clip, bundle, args.out, args.target, args.threshold,
                            args.device)
    top = doc["predictions"][0]
    chosen = sum(c["selected"] for c in doc["components"])
    print(f"{args.clip}: {top['label']} ({top['probability']:.2f}); explained "
          f"'{doc['explained_class']}' with {chosen} components -> {args.out}")
    return 0


def _prepare(args, ctx, progress, frontend: FrontEndConfig | None = None,
             recorded_split_seed: int | None = None) -> pipeline.Prepared:
    p = pipeline.prepare(args.data, unlabelled.layout_of(args), args.test_fold, frontend,
                         clip_seconds=args.clip_seconds, cache_dir=args.cache,
                         seed=unlabelled.data_seed(args, recorded_split_seed), ctx=ctx,
                         task=progress, inner_folds_of=args.inner_folds_of)
    _describe(p, ctx)
    return p


def _describe(p: pipeline.Prepared, ctx: D.Context) -> None:
    if ctx.is_main:
        ds = p.dataset
        what = f"{len(ds.classes)} classes, layout {ds.layout}, folds {ds.fold_ids}" \
            if ds.labelled else ds.notes[0]  # "no labels read: 5 folds split by ..."
        print(f"data: {len(ds)} clips, {what}; {len(p.train_rows)} for training",
              file=sys.stderr)
        if p.features.skipped:
            print(f"skipped {len(p.features.skipped)} unreadable files, e.g. "
                  f"{p.features.skipped[0][1]}", file=sys.stderr)


def _classifier_cfg(args) -> ClassifierTrainConfig:
    model = VGGConfig()
    if getattr(args, "widths", None):
        model.widths = _widths(args.widths)
    return ClassifierTrainConfig(epochs=args.epochs, seed=args.seed, model=model,
                                 val_by_recording=getattr(args, "val_by_recording", False))


def _widths(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise L2IError("--widths takes channel counts separated by commas, e.g. "
                       f"16,32,64,128; not {text!r}") from None
    try:
        vgg_config({"widths": widths})
    except ValueError as exc:
        raise L2IError(f"--widths: {exc}") from None
    return widths


def _nmf_cfg(args) -> nmf.NMFConfig:
    if args.k < 1 or args.iterations < 1 or args.inner < 1 or args.inner_w < 0:
        raise L2IError("--k, --iterations and --inner must be at least 1, --inner-w >= 0")
    if getattr(args, "max_frames", None) is not None and args.max_frames < 1:
        raise L2IError("--max-frames must be at least 1")
    if args.online_batch < 0 or (args.online_batch and args.divergence != 2):
        raise L2IError("--online-batch must be at least 1 frame, and needs the Euclidean "
                       "cost (--beta 2)")
    return nmf.NMFConfig(k=args.k, sparsity=args.sparsity, beta=args.divergence,
                         iterations=args.iterations, inner=args.inner, seed=args.seed,
                         inner_w=args.inner_w, online_batch=args.online_batch)


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


def train_classifier(args, ctx, progress) -> int:
    unlabelled.refuse(unlabelled.layout_of(args), trains_classifier=True)
    p = _prepare(args, ctx, progress)
    art = pipeline.classifier_stage(p, _classifier_cfg(args), args.out, ctx, args.resume,
                                    progress)
    if ctx.is_main:
        print(f"classifier: best epoch {art.info['best_epoch']} -> {args.out}")
    return 0


def train_dictionary(args, ctx, progress) -> int:
    cfg = _nmf_cfg(args)  # the flags are checked before the data is read
    p = _prepare(args, ctx, progress, frontend_from_args(args))  # as --model's, if any
    W, info = pipeline.dictionary_stage(p, cfg, args.out, ctx, args.max_frames, progress)
    if ctx.is_main:
        print(f"dictionary: K={W.shape[1]}, objective {info['final_objective']:.6g} "
              f"-> {args.out}")
    return 0


def train_interpreter(args, ctx, progress) -> int:
    from trainer.artifacts import load_classifier, load_dictionary

    choice = choice_from_args(args)  # --model: the flags are checked before anything runs
    if choice is None and args.classifier is None:
        raise L2IError("give --classifier FOLDER|BUNDLE, or your own with --model FILE.py "
                       "--weights W --input waveform|logmel --trust-code (or --model "
                       "hf:FOLDER)")
    layout = unlabelled.layout_of(args)
    unlabelled.refuse(layout, focus=args.focus)
    # the classifier is built and run on a real clip before any feature is computed
    ds = load_dataset(args.data, layout, unlabelled.data_seed(args), args.inner_folds_of)
    if choice is not None:
        clf = brought_artifact(choice, ds.classes if ds.labelled else None, ds.multilabel,
                               FrontEndConfig.from_dict(choice.frontend), args.clip_seconds)
    else:
        clf = load_classifier(args.classifier, trust_code=args.trust_code)
    layers = check_on_data(clf.model, clf.input, clf.frontend, ds.paths, args.clip_seconds,
                           clf.classes, _layers(args), labelled=ds.labelled)
    if ds.labelled:
        check_class_names(clf.classes, ds.classes)
    W, info = load_dictionary(args.dictionary)
    if W.shape[0] != clf.frontend.n_freqs:
        raise L2IError(f"the dictionary has {W.shape[0]} frequency bins, the classifier's "
                       f"front-end gives {clf.frontend.n_freqs}")
    init = load_bundle(args.init, trust_code=args.trust_code) if args.init else None
    p = _prepare(args, ctx, progress, clf.frontend)
    align_classes(p, clf.classes, clf.multilabel)
    files = WorkFiles(default_work(args.out))
    files.root.mkdir(parents=True, exist_ok=True)
    bundle = pipeline.interpreter_stage(p, clf, W, info, _interp_cfg(args, init), args.out,
                                        layers, ctx, args.resume,
                                        files.interpreter_checkpoint, task=progress, init=init)
    if ctx.is_main:
        print(f"bundle: {bundle.name} (K={bundle.k}, {len(bundle.classes)} classes) "
              f"-> {args.out}")
    return 0


def plan_from_args(args: argparse.Namespace) -> TrainingPlan:
    """``l2i train all``'s flags as the plan the wizard would make of the same choices."""
    clf = _classifier_cfg(args)
    choice = choice_from_args(args) or ClassifierChoice(
        widths=list(clf.model.widths), epochs=clf.epochs, val_by_recording=clf.val_by_recording)
    return TrainingPlan(
        data=str(args.data), work=str(args.work or default_work(args.out)),
        layout=unlabelled.layout_of(args), test_fold=args.test_fold,
        clip_seconds=args.clip_seconds,
        classifier=choice,
        layers=_layers(args), nmf=_nmf_cfg(args).to_dict(), max_frames=args.max_frames,
        interpreter=_interp_cfg(args).to_dict(), device=args.device,
        cache=str(args.cache) if args.cache else None, name=args.out.stem, seed=args.seed,
        inner_folds_of=args.inner_folds_of, out=str(args.out),
        split_seed=unlabelled.data_seed(args) if args.unlabelled else 0,
        lmac=lmac_cli.train_config(args).to_dict() if args.with_lmac else None,
        lmac_layers=lmac_cli.layers_of(args))


def train_all(args, ctx, progress) -> int:
    plan = plan_from_args(args)  # the flags are checked before the data is read
    result = run_plan(plan, progress, args.resume, ctx, on_data=lambda p: _describe(p, ctx))
    if ctx.is_main:
        print(format_table(result.metrics))
        print(f"bundle -> {args.out}")
    return 0


def evaluate(args, ctx, progress) -> int:
    if not ctx.is_main:
        return 0
    try:
        taus = [float(t) for t in args.taus.split(",") if t.strip()]
    except ValueError:
        taus = []
    if not taus or any(not 0 <= t < 1 for t in taus):
        raise L2IError("--taus must be numbers in [0, 1), e.g. 0.1,0.3,0.5")
    kinds = [k.strip() for k in args.contaminate.split(",") if k.strip()]
    if set(kinds) - set(KINDS):
        raise L2IError(f"--contaminate takes {','.join(KINDS)}, not {args.contaminate}")
    if not 0 <= args.quality_tau < 1:
        raise L2IError("--quality-tau must be in [0, 1)")
    if args.focus < 0 or (args.focus_only and not args.focus):
        raise L2IError("--focus takes a number of mixtures (e.g. 200); --focus-only needs it")
    unlabelled.refuse(unlabelled.layout_of(args), focus_evaluation=args.focus)
    bundle = load_bundle(args.bundle, trust_code=args.trust_code)
    if args.method == "lmac":
        from trainer.evaluate_lmac import check_lmac

        check_lmac(bundle, args)
    # unlabelled: the split the bundle was trained with, unless --split-seed says another
    p = _prepare(args, ctx, progress, bundle.frontend,
                 unlabelled.recorded_split_seed(bundle.manifest.get("provenance", {})))
    align_classes(p, bundle.classes, bundle.multilabel)  # unlabelled data takes the bundle's
    rows = p.test_rows if args.test_fold is not None else p.train_rows
    if args.focus and bundle.multilabel:
        raise L2IError("--focus is measured on single-label data")
    if args.method == "lmac":
        from trainer.evaluate_lmac import run_evaluation

        return run_evaluation(args, bundle, p, rows, kinds, str(ctx.device), progress)
    result: dict = {}
    if not args.focus_only:
        result = evaluate_bundle(bundle, p.dataset, rows, taus, str(ctx.device), args.seed,
                                 progress, args.quality_tau, kinds, args.speech)
        print(format_table(result))
    result["evaluated_on"] = ("test fold" if args.test_fold is not None
                              else "training clips")
    result |= unlabelled.provenance(p.dataset, p.seed)  # the split, to make it again
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


