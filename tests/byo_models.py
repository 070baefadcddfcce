"""Small classifiers written the way a user would write theirs, outside the project: the
bring-your-own tests load them from this file (as a Python file, or as the entry point
``byo_models:build_mel_model``)."""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class WaveNet(nn.Module):
    """Reads the waveform (B, N): a learned filter bank, then three conv blocks."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.filters = nn.Conv1d(1, 16, 1024, stride=512, padding=512)
        self.blocks = nn.Sequential(_block(1, 8), _block(8, 8), _block(8, 16))
        self.head = nn.Linear(16, n_classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = torch.log1p(self.filters(wave.unsqueeze(1)).abs())  # (B, 16, T)
        x = self.blocks(x.unsqueeze(1))  # (B, 16, 2, T/8)
        return self.head(x.mean(dim=(2, 3)))


class MelNet(nn.Module):
    """Reads log-mel (B, n_mels, T) like the built-in CNN, with other layer names."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.stem = nn.BatchNorm2d(1)
        self.layer1 = _block(1, 8)
        self.layer2 = _block(8, 8)
        self.layer3 = _block(8, 16)
        self.layer4 = _block(16, 16)
        self.classifier = nn.Linear(16, n_classes)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.stem(mel.unsqueeze(1))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.classifier(x.mean(dim=(2, 3)))


def build_model(n_classes: int) -> nn.Module:
    return WaveNet(n_classes)


def build_mel_model() -> nn.Module:  # no argument: three classes, fixed
    return MelNet(3)


class TokenNet(nn.Module):
    """A small transformer over time: log-mel frames (B, n_mels, T) -> tokens
    (B, T/2, 32) through two encoder blocks, averaged over tokens."""

    def __init__(self, n_classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Conv1d(128, 32, 3, stride=2, padding=1)
        block = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(block, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, n_classes)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(mel).transpose(1, 2)  # (B, tokens, channels)
        return self.head(self.encoder(tokens).mean(dim=1))


def build_token_model() -> nn.Module:  # three classes, as build_mel_model
    return TokenNet(3)
