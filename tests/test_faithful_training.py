"""Faithfulness-aware interpreter training and the linear-magnitude mask variant."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_WIDTHS

from engine.bundles.bundle import Bundle, load_bundle, make_manifest, save_bundle
from engine.dsp.features import FrontEndConfig
from engine.explanation.explain import Explainer
from engine.explanation.masks import apply_mask, group_mask, split
from engine.models.classifier import VGGClassifier, VGGConfig, default_taps
from engine.models.interpreter import Interpreter, InterpreterConfig
from engine.models.taps import LayerTaps
from trainer import pipeline
from trainer.faithful_loss import faithfulness_terms, soft_mask
from trainer.train_interpreter import InterpreterTrainConfig, train_interpreter


def test_linear_masks_scale_the_magnitude_and_add_up():
    X = torch.rand(6, 5) * 4
    for domain in ("log", "linear"):
        assert torch.allclose(apply_mask(X, torch.ones_like(X), domain), X, atol=1e-5)
        assert torch.equal(apply_mask(X, torch.zeros_like(X), domain), torch.zeros_like(X))
    half = apply_mask(X, torch.full_like(X, 0.5), "linear")
    assert torch.allclose(torch.expm1(half), 0.5 * torch.expm1(X), rtol=1e-5)
    W, H = torch.rand(6, 4), torch.rand(4, 5)
    x_in, x_out = split(X, W, H, [0, 2], "linear")
    assert torch.allclose(torch.expm1(x_in) + torch.expm1(x_out), torch.expm1(X), rtol=1e-4)
    x_in, x_out = split(X, W, H, [0, 2], "log")
    assert torch.allclose(x_in + x_out, X, atol=1e-6)
    with pytest.raises(ValueError, match="mask domain"):
        apply_mask(X, X, "dB")


def test_soft_mask_with_0_1_weights_is_the_selection_mask():
    W, H = torch.rand(7, 5), torch.rand(2, 5, 9)
    weights = torch.tensor([[1.0, 0, 1, 0, 0], [0, 0, 0, 0, 1]])
    m = soft_mask(W, H, weights)
    assert m.shape == (2, 7, 9) and 0 <= m.min() and m.max() <= 1
    assert torch.allclose(m[0], group_mask(W, H[0], [0, 2]), atol=1e-6)
    assert torch.allclose(m[1], group_mask(W, H[1], [4]), atol=1e-6)


@pytest.fixture(scope="module")
def setup(tiny_esc10, cache_dir):
    """Real 1-s log-magnitudes, an untrained tiny classifier and its tapped maps."""
    torch.manual_seed(0)
    p = pipeline.prepare(tiny_esc10, test_fold=1, clip_seconds=1.0, cache_dir=cache_dir)
    fe = p.frontend
    clf = VGGClassifier(3, VGGConfig(widths=list(TINY_WIDTHS))).eval()
    layers = default_taps(clf)
    W = torch.rand(fe.n_freqs, 8)
    W = W / W.norm(dim=0, keepdim=True)
    return p, clf, layers, W


def _interpreter_and_inputs(setup):
    p, clf, layers, W = setup
    rows = p.train_rows[:6]
    X = torch.from_numpy(np.asarray(p.features.log_mag[rows], dtype=np.float32))
    mel = torch.from_numpy(np.asarray(p.features.log_mel[rows], dtype=np.float32))
    with LayerTaps(clf, layers) as taps, torch.no_grad():
        logits, maps = taps(mel)
    interp = Interpreter(InterpreterConfig(k=8, n_classes=3,
                                           map_shapes=[list(m.shape[1:]) for m in maps]))
    return interp, maps, X, logits.softmax(-1)


def test_gradients_reach_psi_but_never_the_classifier(setup):
    p, clf, _, W = setup
    interp, maps, X, target = _interpreter_and_inputs(setup)
    clf.requires_grad_(False)
    H, _, z = interp(maps, X.shape[-1])
    keep, lose, size = faithfulness_terms(clf, H, z, interp.class_weights, W, X, target,
                                          p.frontend, "linear", False)
    assert 0 < size.item() <= 1
    (keep + lose + size).backward()
    psi_grads = [q.grad for n, q in interp.named_parameters() if not n.startswith("theta")]
    assert any(g is not None and g.abs().sum() > 0 for g in psi_grads)
    assert interp.class_weights.grad is not None
    assert all(q.grad is None for q in clf.parameters())


def test_small_steps_on_the_lose_term_lower_it(setup):
    """The gradient points the right way: removing what the mask selects makes the
    classifier less sure of its class (an untrained classifier plateaus quickly, once
    the masked-out input is nearly silent, so only the direction is checked)."""
    p, clf, _, W = setup
    interp, maps, X, target = _interpreter_and_inputs(setup)
    clf.requires_grad_(False)
    interp.eval()  # no dropout: the same objective at every step
    opt = torch.optim.SGD(interp.parameters(), lr=1e-3)

    def lose_now() -> torch.Tensor:
        H, _, z = interp(maps, X.shape[-1])
        return faithfulness_terms(clf, H, z, interp.class_weights, W, X, target,
                                  p.frontend, "log", False)[1]

    first = lose_now().item()
    for _ in range(3):
        loss = lose_now()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert lose_now().item() < first


def test_linear_domain_training_round_trips_into_the_explainer(setup, tmp_path):
    p, clf, layers, W = setup
    rows = p.train_rows
    cfg = InterpreterTrainConfig(epochs=2, batch_size=4, faith_in=1.0, faith_out=1.0,
                                 mask_domain="linear", val_fraction=0.0)
    interp, info = train_interpreter(clf, layers, W, p.features.log_mag[rows],
                                     p.features.log_mel[rows], p.dataset.labels[rows], 3,
                                     False, cfg, frontend=p.frontend)
    last = info["history"][-1]
    assert all(np.isfinite(last[k]) for k in ("keep", "lose", "mask"))
    assert interp.config.mask_domain == "linear"
    manifest = make_manifest(name="faithful", frontend=p.frontend, classes=p.dataset.classes,
                             multilabel=False, classifier_arch="vgg",
                             classifier_config=clf.config.to_dict(), layers=layers,
                             dictionary={"k": 8}, interpreter=interp.config,
                             clip_seconds=1.0)
    path = save_bundle(Bundle(manifest, clf, interp.eval(), W), tmp_path / "f.l2i")
    with Explainer(load_bundle(path)) as ex:
        assert ex.mask_domain == "linear"
        a = ex.analyse(np.random.default_rng(0).standard_normal(44100).astype(np.float32))
        r = ex.render(a, [0, 3])
        X_res = torch.log1p(torch.expm1(a.log_mag) - torch.expm1(torch.from_numpy(r.log_mag)))
        assert torch.isfinite(X_res).all()


def test_faithful_training_needs_a_log_mel_classifier(setup):
    p, clf, layers, W = setup
    from engine.runtime.errors import L2IError
    with pytest.raises(L2IError, match="log-mel"):
        train_interpreter(clf, layers, W, p.features.log_mag[:4], p.features.log_mel[:4],
                          p.dataset.labels[:4], 3, False,
                          InterpreterTrainConfig(epochs=1, faith_out=1.0))
    assert FrontEndConfig().n_freqs == W.shape[0]


def test_init_starts_from_the_given_interpreter_and_refuses_another_shape(setup):
    from engine.runtime.errors import L2IError
    from trainer.train_interpreter import warm_start
    p, clf, layers, W = setup
    start, *_ = _interpreter_and_inputs(setup)
    with torch.no_grad():
        for q in start.parameters():
            q.add_(0.5)  # unlike any fresh initialisation
    rows = p.train_rows
    cfg = InterpreterTrainConfig(epochs=1, batch_size=4, lr=0.0, val_fraction=0.0)
    interp, _ = train_interpreter(clf, layers, W, p.features.log_mag[rows],
                                  p.features.log_mel[rows], p.dataset.labels[rows], 3,
                                  False, cfg, init=start)
    # lr 0: the weights are exactly the starting point (batch-norm statistics still move)
    for (name, a), b in zip(interp.named_parameters(), start.parameters()):
        assert torch.equal(a, b), name
    other = Interpreter(InterpreterConfig(k=9, n_classes=3,
                                          map_shapes=start.config.map_shapes))
    with pytest.raises(L2IError, match="--init: .* k 9"):
        warm_start(Interpreter(start.config), other)


def test_psi_size_flags_reach_the_config_and_init_lends_its_own(setup):
    """--hidden/--adapter-channels/--temporal-stride choose Psi's size; with --init and
    no size flag, the starting bundle's size is used (a fine-tuning needs no repeat)."""
    from trainer.cli import build_parser
    from trainer.commands import _interp_cfg
    base = ["train", "interpreter", "--data", "d", "--classifier", "c", "--dictionary",
            "w", "--out", "o"]
    args = build_parser().parse_args(base)
    cfg = _interp_cfg(args)
    assert (cfg.adapter_channels, cfg.hidden, cfg.temporal_stride) == (128, 256, 1)
    args = build_parser().parse_args([*base, "--hidden", "96", "--temporal-stride", "4"])
    cfg = _interp_cfg(args)
    assert (cfg.adapter_channels, cfg.hidden, cfg.temporal_stride) == (128, 96, 4)
    start, *_ = _interpreter_and_inputs(setup)
    small = Interpreter(InterpreterConfig(**{**start.config.to_dict(), "hidden": 24,
                                             "adapter_channels": 12, "temporal_stride": 3}))
    init = Bundle(start_manifest(small), None, small, setup[3])
    cfg = _interp_cfg(build_parser().parse_args(base), init)
    assert (cfg.adapter_channels, cfg.hidden, cfg.temporal_stride) == (12, 24, 3)
    cfg = _interp_cfg(build_parser().parse_args([*base, "--hidden", "32"]), init)
    assert (cfg.adapter_channels, cfg.hidden, cfg.temporal_stride) == (12, 32, 3)


def start_manifest(interp: Interpreter) -> dict:
    return {"interpreter": interp.config.to_dict()}


def test_a_strided_interpreter_trains_and_round_trips_through_a_bundle(setup, tmp_path):
    p, clf, layers, W = setup
    rows = p.train_rows
    cfg = InterpreterTrainConfig(epochs=1, batch_size=4, val_fraction=0.0, hidden=16,
                                 adapter_channels=8, temporal_stride=2)
    interp, _ = train_interpreter(clf, layers, W, p.features.log_mag[rows],
                                  p.features.log_mel[rows], p.dataset.labels[rows], 3,
                                  False, cfg)
    assert (interp.config.hidden, interp.config.temporal_stride) == (16, 2)
    manifest = make_manifest(name="strided", frontend=p.frontend, classes=["a", "b", "c"],
                             multilabel=False, classifier_arch="vgg",
                             classifier_config=clf.config.to_dict(), layers=layers,
                             dictionary={"k": 8}, interpreter=interp.config)
    save_bundle(Bundle(manifest, clf, interp.eval(), W), tmp_path / "s.l2i")
    back = load_bundle(tmp_path / "s.l2i")
    assert back.interpreter.config.temporal_stride == 2
    with torch.no_grad():
        maps = _frozen_maps(clf, layers, p, rows[:2])
        T = p.features.log_mag.shape[-1]
        torch.testing.assert_close(back.interpreter(maps, T)[0], interp(maps, T)[0])


def _frozen_maps(clf, layers, p, rows):
    with LayerTaps(clf, layers) as taps:
        _, maps = taps(torch.from_numpy(np.asarray(p.features.log_mel[rows])))
    return maps
