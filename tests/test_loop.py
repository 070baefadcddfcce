"""The shared epoch loop: model selection without validation data, exact resume
(augmentation streams included), and a clear error for a foreign checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models.classifier import VGGConfig
from engine.runtime.errors import Cancelled, L2IError
from engine.runtime.progress import TaskState
from trainer.augment import AugmentConfig
from trainer.cli import main
from trainer.train_classifier import ClassifierTrainConfig, train_classifier


def _data(n_per_class: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    mel = rng.normal(-40, 10, (2 * n_per_class, 32, 24)).astype(np.float32)
    labels = np.repeat([0, 1], n_per_class)
    mel[labels == 1, :8] += 30  # class 1 is loud in the low bands: learnable
    return mel, labels


def _cfg(**kw) -> ClassifierTrainConfig:
    base = dict(epochs=4, batch_size=4, lr=3e-3, model=VGGConfig(widths=[4, 8]),
                augment=AugmentConfig(gain_db=6, shift=True, freq_mask=4, time_mask=4,
                                      mix_probability=0.5))
    return ClassifierTrainConfig(**(base | kw))


class _StopAfter(TaskState):
    def __init__(self, epochs: int) -> None:
        super().__init__(self._on)
        self.epochs = epochs

    def _on(self, rep) -> None:
        if rep.stage.endswith(" epochs") and rep.done >= self.epochs:
            self.cancel()


def test_without_validation_clips_the_last_epoch_is_kept():
    mel, labels = _data()
    _, info = train_classifier(mel, labels, 2, False, _cfg(val_fraction=0.0))
    assert info["validation_clips"] == 0
    assert info["best_epoch"] == 4


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    mel, labels = _data()
    straight, info_a = train_classifier(mel, labels, 2, False, _cfg())
    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(Cancelled):
        train_classifier(mel, labels, 2, False, _cfg(), checkpoint=ckpt, task=_StopAfter(2))
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1  # two epochs done
    resumed, info_b = train_classifier(mel, labels, 2, False, _cfg(), checkpoint=ckpt,
                                       resume=True)
    losses_a = [row["loss"] for row in info_a["history"]]
    losses_b = [row["loss"] for row in info_b["history"]]
    assert len(losses_b) == 4
    np.testing.assert_allclose(losses_b, losses_a, rtol=1e-5)
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def test_resume_from_a_checkpoint_of_other_settings_is_one_clear_error(tmp_path):
    mel, labels = _data()
    ckpt = tmp_path / "checkpoint.pt"
    train_classifier(mel, labels, 2, False, _cfg(epochs=1), checkpoint=ckpt)
    with pytest.raises(L2IError, match="other settings"):
        train_classifier(mel, labels, 2, False, _cfg(model=VGGConfig(widths=[4, 16])),
                         checkpoint=ckpt, resume=True)


def test_train_all_on_missing_data_leaves_no_work_folder(tmp_path, capsys):
    out = tmp_path / "model.l2i"
    assert main(["train", "all", "--data", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "l2i: error:" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
