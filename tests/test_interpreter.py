"""engine.models.interpreter (Psi, Theta), engine.models.taps and the classifier's named layers."""

from __future__ import annotations

import pytest
import torch

from engine.models.classifier import VGGClassifier, VGGConfig, build_classifier, default_taps
from engine.models.interpreter import Interpreter, InterpreterConfig, Psi, Theta
from engine.models.taps import LayerTaps, named_layer_shapes, run_with_layer_shapes
from engine.runtime.errors import Cancelled


def _cfg(shapes, k=6, n_classes=4, pooling="attention", **kw) -> InterpreterConfig:
    small = {"adapter_channels": 8, "hidden": 16, "attention_hidden": 12}
    return InterpreterConfig(k=k, n_classes=n_classes, map_shapes=[list(s) for s in shapes],
                             pooling=pooling, **(small | kw))


def _maps(shapes, batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *s, generator=g) for s in shapes]


SHAPE_SETS = {
    "vgg-like 2-D": [(16, 16, 13), (32, 8, 7), (32, 4, 4)],
    "one 2-D": [(8, 5, 9)],
    "one-bin 2-D": [(4, 1, 3)],
    "1-D only": [(12, 20)],
    "two 1-D": [(6, 3), (10, 50)],
    "mixture": [(16, 16, 13), (24, 30), (32, 2, 100)],
}


@pytest.mark.parametrize("shapes", list(SHAPE_SETS.values()), ids=list(SHAPE_SETS))
@pytest.mark.parametrize("n_frames", [1, 7, 64, 431])
def test_psi_gives_non_negative_h_of_k_by_t(shapes, n_frames):
    torch.manual_seed(0)
    cfg = _cfg(shapes, k=6)
    psi = Psi(cfg).eval()
    with torch.no_grad():
        H = psi(_maps(shapes, batch=2), n_frames)
    assert tuple(H.shape) == (2, 6, n_frames)
    assert torch.isfinite(H).all()
    assert (H >= 0).all()


@pytest.mark.parametrize("stride", [2, 4])
@pytest.mark.parametrize("n_frames", [1, 3, 64, 431])
def test_psi_with_a_temporal_stride_gives_every_frame(stride, n_frames):
    """The 1-D convs run on ceil(T / stride) frames; H is those frames' rectified output
    interpolated linearly back to T, so it stays >= 0 and lies between coarse frames."""
    shapes = SHAPE_SETS["vgg-like 2-D"]
    torch.manual_seed(0)
    psi = Psi(_cfg(shapes, temporal_stride=stride)).eval()
    coarse: list[torch.Tensor] = []
    psi.temporal.register_forward_hook(lambda m, i, o: coarse.append(o))
    with torch.no_grad():
        H = psi(_maps(shapes, batch=2), n_frames)
    assert tuple(H.shape) == (2, 6, n_frames)
    assert (H >= 0).all() and torch.isfinite(H).all()
    assert coarse[0].shape[-1] == -(-n_frames // stride)
    expected = torch.relu(coarse[0])
    if stride > 1:
        expected = torch.nn.functional.interpolate(expected, size=n_frames, mode="linear",
                                                   align_corners=False)
    torch.testing.assert_close(H, expected)


def test_a_temporal_stride_makes_psi_cheaper_in_operations():
    """Same weights, the stride only changes how many frames the 1-D convs see."""
    shapes = SHAPE_SETS["vgg-like 2-D"]
    seen: list[int] = []
    for stride in (1, 4):
        psi = Psi(_cfg(shapes, temporal_stride=stride)).eval()
        psi.temporal[0].register_forward_hook(lambda m, i, o: seen.append(o.shape[-1]))
        with torch.no_grad():
            psi(_maps(shapes, batch=1), 431)
    assert seen == [431, 108]


@pytest.mark.parametrize("shapes", list(SHAPE_SETS.values()), ids=list(SHAPE_SETS))
def test_psi_accepts_other_map_lengths_than_configured(shapes):
    """A clip of another length gives maps with another T'; Psi follows."""
    psi = Psi(_cfg(shapes)).eval()
    for t_prime in (1, 3, 40):
        maps = [torch.rand(1, *s[:-1], t_prime) for s in shapes]
        with torch.no_grad():
            H = psi(maps, 25)
        assert tuple(H.shape) == (1, 6, 25)


def test_psi_in_eval_mode_is_per_example():
    shapes = SHAPE_SETS["mixture"]
    torch.manual_seed(1)
    psi = Psi(_cfg(shapes)).eval()
    maps = _maps(shapes, batch=3, seed=4)
    with torch.no_grad():
        both = psi(maps, 30)
        alone = psi([m[2:3] for m in maps], 30)
    torch.testing.assert_close(both[2:3], alone, atol=1e-5, rtol=1e-5)


def test_psi_training_step_has_gradients():
    shapes = SHAPE_SETS["vgg-like 2-D"]
    psi = Psi(_cfg(shapes)).train()
    H = psi(_maps(shapes, batch=2), 20)
    H.sum().backward()
    grads = [p.grad for p in psi.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_freq_cells_derived_from_shallowest_2d_map():
    assert _cfg([(4, 16, 5), (4, 3, 5)]).freq_cells == 3
    assert _cfg([(4, 64, 5), (4, 32, 5)]).freq_cells == 8
    assert _cfg([(4, 20)]).freq_cells == 1
    assert _cfg([(4, 16, 5)], freq_cells=2).freq_cells == 2


@pytest.mark.parametrize("bad", [
    {"pooling": "mean"},
    {"map_shapes": []},
    {"map_shapes": [[4, 5, 6, 7]]},
    {"map_shapes": [[4]]},
    {"temporal_stride": 0},
    {"temporal_stride": 17},
    {"temporal_stride": 2.0},
])
def test_config_validation(bad):
    kw = {"k": 4, "n_classes": 2, "map_shapes": [[4, 5, 6]]} | bad
    with pytest.raises(ValueError):
        InterpreterConfig(**kw)


def test_theta_max_pooling():
    cfg = _cfg([(4, 5, 6)], k=5, n_classes=3, pooling="max")
    theta = Theta(cfg).eval()
    H = torch.rand(2, 5, 17)
    logits, z = theta(H)
    assert tuple(logits.shape) == (2, 3) and tuple(z.shape) == (2, 5)
    torch.testing.assert_close(z, H.amax(dim=-1))
    torch.testing.assert_close(logits, z @ theta.fc.weight.T)  # no bias


@pytest.mark.parametrize("n_frames", [1, 9, 431])
def test_theta_attention_pooling_is_a_weighted_mean_over_time(n_frames):
    torch.manual_seed(0)
    cfg = _cfg([(4, 5, 6)], k=5, n_classes=3)
    theta = Theta(cfg).eval()
    H = torch.rand(3, 5, n_frames)
    logits, z = theta(H)
    assert tuple(logits.shape) == (3, 3) and tuple(z.shape) == (3, 5)
    # attention weights are a softmax over time: z lies between min and max of each row
    assert (z >= H.amin(dim=-1) - 1e-6).all() and (z <= H.amax(dim=-1) + 1e-6).all()
    torch.testing.assert_close(logits, z @ theta.fc.weight.T)
    if n_frames == 1:
        torch.testing.assert_close(z, H[..., 0])
    constant = torch.full((1, 5, n_frames), 0.7)
    torch.testing.assert_close(theta.pool(constant), torch.full((1, 5), 0.7))


def test_theta_has_no_bias():
    theta = Theta(_cfg([(4, 5, 6)], k=5, n_classes=3))
    assert theta.fc.bias is None
    _, z = theta.eval()(torch.zeros(1, 5, 10))
    logits, _ = theta(torch.zeros(1, 5, 10))
    assert torch.count_nonzero(logits) == 0 and torch.count_nonzero(z) == 0


@pytest.mark.parametrize("pooling", ["attention", "max"])
def test_interpreter_forward(pooling):
    shapes = SHAPE_SETS["mixture"]
    interp = Interpreter(_cfg(shapes, k=7, n_classes=5, pooling=pooling)).eval()
    with torch.no_grad():
        H, logits, z = interp(_maps(shapes, batch=2), 50)
    assert tuple(H.shape) == (2, 7, 50) and (H >= 0).all()
    assert tuple(logits.shape) == (2, 5) and tuple(z.shape) == (2, 7)
    assert tuple(interp.class_weights.shape) == (5, 7)
    assert (z >= 0).all()


# --- taps on a real classifier -----------------------------------------------------------


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return VGGClassifier(3, VGGConfig(widths=[8, 16, 16, 32])).eval()


def test_layer_taps_capture_named_layers(vgg):
    x = torch.randn(2, 128, 100)
    names = ["blocks.1", "blocks.3", "input_norm"]
    with LayerTaps(vgg, names) as taps, torch.no_grad():
        logits, maps = taps(x)
    assert tuple(logits.shape) == (2, 3)
    assert [tuple(m.shape) for m in maps] == [(2, 16, 32, 25), (2, 32, 8, 7),
                                                 (2, 1, 128, 100)]
    with torch.no_grad():
        torch.testing.assert_close(maps[1], vgg.features(x))
        torch.testing.assert_close(logits, vgg(x))


def test_layer_taps_capture_what_the_layer_returned(vgg):
    """The tap of a BatchNorm is the BatchNorm's output, even when the next module is an
    in-place ReLU (negative values must survive)."""
    x = torch.randn(1, 128, 20)
    with LayerTaps(vgg, ["blocks.0.1"]) as taps, torch.no_grad():
        _, (bn_map,) = taps(x)
        expected = vgg.blocks[0][1](vgg.blocks[0][0](vgg.input_norm(x.unsqueeze(1))))
    assert float(expected.min()) < 0
    torch.testing.assert_close(bn_map, expected)


def test_layer_taps_unknown_name(vgg):
    with pytest.raises(ValueError, match="blocks.99"):
        LayerTaps(vgg, ["blocks.1", "blocks.99"])
    with pytest.raises(ValueError):
        LayerTaps(vgg, [])
    assert all(not m._forward_hooks for m in vgg.modules())  # nothing left registered


def test_layer_taps_remove_hooks(vgg):
    taps = LayerTaps(vgg, ["blocks.2", "blocks.3"])
    assert vgg.blocks[2]._forward_hooks
    with taps:
        pass
    assert all(not m._forward_hooks for m in vgg.modules())
    with torch.no_grad():
        vgg(torch.zeros(1, 128, 10))
    assert taps._captured == {}


def test_named_layer_shapes(vgg):
    shapes = dict(named_layer_shapes(vgg, torch.zeros(1, 128, 100)))
    assert shapes["blocks.0"] == (8, 64, 50)
    assert shapes["blocks.1"] == (16, 32, 25)
    assert shapes["blocks.2"] == (16, 16, 13)
    assert shapes["blocks.3"] == (32, 8, 7)
    assert shapes["head"] == (3,)
    assert "" not in shapes
    assert all(not m._forward_hooks for m in vgg.modules())
    # the shapes are those LayerTaps sees
    with LayerTaps(vgg, ["blocks.2"]) as taps, torch.no_grad():
        _, (m,) = taps(torch.zeros(1, 128, 100))
    assert tuple(m.shape[1:]) == shapes["blocks.2"]


def test_one_pass_gives_the_shapes_and_the_output_and_can_stop_early(vgg):
    x = torch.randn(1, 128, 40)
    shapes, out = run_with_layer_shapes(vgg.eval(), x)
    assert shapes == named_layer_shapes(vgg, x)
    with torch.no_grad():
        torch.testing.assert_close(out, vgg(x))
    seen = []

    def stop_after_two() -> None:
        seen.append(1)
        if len(seen) == 2:
            raise Cancelled("cancelled")
    with pytest.raises(Cancelled):
        run_with_layer_shapes(vgg, x, stop_after_two)
    assert len(seen) == 2 < len(shapes)
    assert all(not m._forward_hooks for m in vgg.modules())


def test_one_frame_input_keeps_a_cell_per_block(vgg):
    shapes = dict(named_layer_shapes(vgg, torch.zeros(1, 128, 1)))
    assert shapes["blocks.3"] == (32, 8, 1)


def test_default_taps_and_registry(vgg):
    assert default_taps(vgg) == ["blocks.1", "blocks.2", "blocks.3"]
    with pytest.raises(ValueError):
        default_taps(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="unknown classifier architecture"):
        build_classifier("resnet", 3, {})
    with pytest.raises(ValueError, match="unknown VGG settings"):
        build_classifier("vgg", 3, {"depth": 3})
    m = build_classifier("vgg", 5, {"widths": [4, 8]})
    assert m(torch.zeros(1, 128, 10)).shape == (1, 5)


def test_interpreter_on_real_taps(vgg):
    """End to end: taps of the classifier feed Psi for the STFT's T frames."""
    x = torch.randn(1, 128, 431)
    names = default_taps(vgg)
    with LayerTaps(vgg, names) as taps, torch.no_grad():
        _, maps = taps(x)
        cfg = _cfg([list(m.shape[1:]) for m in maps], k=10, n_classes=3)
        H, logits, z = Interpreter(cfg).eval()(maps, 431)
    assert tuple(H.shape) == (1, 10, 431) and (H >= 0).all()
    assert cfg.freq_cells == 8
