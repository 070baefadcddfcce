"""Focus training: the mixtures it draws, the separation term, refinement of the
activations on the input, and a real (tiny) training run with --focus."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.dsp.features import FrontEndConfig
from engine.dsp.nmf import objective, refine
from trainer.focus_training import MixturePool, separation_loss

CFG = FrontEndConfig()


def _pool(n_per_class: int = 3, classes: int = 3, seconds: float = 0.5) -> MixturePool:
    rng = np.random.default_rng(0)
    n = int(seconds * CFG.sample_rate)
    waves = rng.standard_normal((n_per_class * classes, n)).astype(np.float32)
    waves *= rng.uniform(0.01, 1.0, size=(len(waves), 1)).astype(np.float32)
    return MixturePool(waves, np.repeat(np.arange(classes), n_per_class), CFG)


def test_mixtures_are_two_sources_of_different_classes_at_0_db():
    pool = _pool()
    mb = pool.draw(8, np.random.default_rng(1), torch.device("cpu"))
    assert mb.classes.shape == (8, 2)
    assert (mb.classes[:, 0] != mb.classes[:, 1]).all()
    # the STFT is linear: the mixture's spectrum is the sum of the sources'
    assert torch.allclose(mb.spectrum, mb.sources.sum(dim=1), atol=1e-4)
    energy = mb.sources.abs().square().sum(dim=(2, 3))
    assert torch.allclose(energy[:, 0], energy[:, 1], rtol=0.05)  # 0 dB (frame edges aside)
    assert torch.allclose(mb.log_mag, mb.spectrum.abs().log1p(), atol=1e-5)
    # seeded: the same generator state gives the same mixtures
    again = pool.draw(8, np.random.default_rng(1), torch.device("cpu"))
    assert torch.equal(mb.spectrum, again.spectrum)


def test_a_pool_needs_two_classes_and_one_label_per_clip():
    from engine.runtime.errors import L2IError

    waves = np.ones((4, 100), np.float32)
    with pytest.raises(L2IError, match="two classes"):
        MixturePool(waves, np.zeros(4, int), CFG)
    with pytest.raises(L2IError, match="single-label"):
        MixturePool(waves, np.eye(4, dtype=int), CFG)


def _two_source_batch():
    """Source 0 lives in bins 0-9 (component 0), source 1 in bins 10-19 (component 1)."""
    from trainer.focus_training import MixtureBatch

    F, T = 20, 6
    W = torch.zeros(F, 2)
    W[:10, 0] = W[10:, 1] = 1 / np.sqrt(10)
    s0 = torch.zeros(F, T, dtype=torch.complex64)
    s1 = torch.zeros(F, T, dtype=torch.complex64)
    s0[:10] = 2.0 + 1.0j
    s1[10:] = -1.0 + 0.5j
    S = s0 + s1
    H = torch.ones(1, 2, T)
    batch = MixtureBatch(S.abs().log1p()[None], torch.zeros(1, 4, T), S[None],
                         torch.stack([s0, s1])[None], torch.tensor([[0, 1]]))
    return W, H, batch


def test_separation_loss_rewards_the_explanation_that_isolates_each_source():
    W, H, batch = _two_source_batch()
    theta = torch.eye(2)  # class c is read from component c
    good = separation_loss(W, H, torch.ones(1, 2), theta, batch, hard_tau=0.1)
    swapped = separation_loss(W, H, torch.ones(1, 2), theta.flip(0), batch, hard_tau=0.1)
    everything = separation_loss(W, H, torch.ones(1, 2), torch.ones(2, 2), batch,
                                 hard_tau=0.1)
    assert good < -10  # both sources recovered exactly: error ~ 0
    # the whole mixture for each class: ln(E_1 / E_0) and ln(E_0 / E_1) average to 0
    assert float(everything) == pytest.approx(0.0, abs=1e-5)
    # each class explained by the other source: ln((E0 + E1) / E0), ln((E0 + E1) / E1)
    assert float(swapped) == pytest.approx((np.log(375 / 300) + np.log(375 / 75)) / 2,
                                           rel=1e-4)


def test_the_straight_through_mask_is_hard_forward_and_has_a_gradient():
    W, H, batch = _two_source_batch()
    z = torch.tensor([[1.0, 0.05]], requires_grad=True)  # r = [1, 0.05]: only 0 selected
    theta = torch.ones(2, 2)
    loss = separation_loss(W, H, z, theta, batch, hard_tau=0.1)
    loss.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    # forward: exactly the hard selection {0} for both classes
    hard = separation_loss(W, H, torch.tensor([[1.0, 0.0]]), theta, batch, hard_tau=0.1)
    assert loss.item() == pytest.approx(hard.item(), abs=1e-6)


def test_refine_keeps_the_support_and_lowers_the_objective():
    g = torch.Generator().manual_seed(0)
    W = torch.rand(30, 8, generator=g)
    W /= W.norm(dim=0)
    X = W @ torch.rand(8, 50, generator=g) * 2
    H0 = torch.rand(8, 50, generator=g)
    H0[3] = 0
    H0[:, :5] = 0
    H = refine(X, W, H0, 20, sparsity=0.1)
    assert (H[3] == 0).all() and (H[:, :5] == 0).all() and (H >= 0).all()
    assert objective(X, W, H, 2.0, 0.1) < objective(X, W, H0, 2.0, 0.1)
    assert refine(X, W, H0, 0) is H0
    # differentiable end to end
    H1 = H0.clone().requires_grad_(True)
    refine(X, W, H1, 3).sum().backward()
    assert torch.isfinite(H1.grad).all() and H1.grad.abs().sum() > 0


def test_explainer_refines_the_interpreters_activations(tmp_path):
    """A bundle saved with refine_iterations: loaded back, explanations use the refined
    H while the relevance stays the interpreter's."""
    import dataclasses

    from conftest import random_bundle

    from engine.bundles.bundle import load_bundle, make_manifest, read_manifest, save_bundle
    from engine.explanation.explain import Explainer

    plain = random_bundle()
    icfg = dataclasses.replace(plain.interpreter.config, refine_iterations=7)
    m = plain.manifest
    manifest = make_manifest(name="refined", frontend=plain.frontend, classes=plain.classes,
                             multilabel=False, classifier_arch="vgg",
                             classifier_config=m["classifier"]["config"], layers=plain.layers,
                             dictionary={"k": plain.k}, interpreter=icfg)
    plain.interpreter.config = icfg
    plain.manifest = manifest
    path = save_bundle(plain, tmp_path / "refined.l2i")
    assert read_manifest(path)["schema_version"] == 2
    assert read_manifest(path)["interpreter"]["refine_iterations"] == 7
    b = load_bundle(path)
    wave = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    with Explainer(b) as ex:
        a = ex.analyse(wave)
        maps = ex.taps(a.log_mel[None])[1]
        H_raw, _, z = b.interpreter(maps, a.log_mag.shape[-1])
    assert torch.allclose(a.z, z[0])
    assert torch.allclose(a.H, refine(a.log_mag, b.W, H_raw[0], 7), atol=1e-5)
    # the paper's method is still written as schema 1, without the new keys
    paper = random_bundle()
    path1 = save_bundle(paper, tmp_path / "paper.l2i")
    assert read_manifest(path1)["schema_version"] == 1
    assert "refine_iterations" not in read_manifest(path1)["interpreter"]


@pytest.mark.slow
def test_focus_training_runs_and_is_recorded(tiny_esc10, tiny_bundle, cache_dir, tmp_path):
    from engine.bundles.bundle import load_bundle, read_manifest
    from trainer.artifacts import save_dictionary
    from trainer.cli import main

    b = load_bundle(tiny_bundle)
    dictionary = tmp_path / "W.safetensors"
    save_dictionary(dictionary, b.W.numpy(), {"k": b.k})
    out = tmp_path / "focus.l2i"
    rc = main(["train", "interpreter", "--data", str(tiny_esc10), "--test-fold", "1",
               "--classifier", str(tiny_bundle), "--dictionary", str(dictionary),
               "--focus", "2", "--focus-mixtures", "4", "--refine", "3",
               "--mask-domain", "linear", "--epochs", "2", "--out", str(out),
               "--cache", str(cache_dir), "--device", "cpu"])
    assert rc == 0
    m = read_manifest(out)
    training = m["provenance"]["interpreter"]["training"]
    assert training["focus"] == 2 and training["refine_iterations"] == 3
    assert m["interpreter"]["refine_iterations"] == 3
    history = m["provenance"]["interpreter"]["history"]
    assert all(np.isfinite(h["separation"]) for h in history)
    assert "val_separation" in history[-1]
