"""The tagger network: one window of frames -> one logit per label.

A window is `frames` consecutive samples (2, half a second apart, for a 1 s window). Temporal pooling
happens at the input: the CNN sees the window's first frame (appearance) stacked with the change from
first to last frame (motion) as 6 channels, so "moving" and "still" are decided inside the window
and a window's scores never depend on its neighbours (segments of a video tag independently).
Global average + max pooling keeps small objects visible; a linear head gives sigmoid logits.
"""

from __future__ import annotations

import torch
from torch import nn

#: (out_channels, stride) of each 3x3 conv; ~0.4 M parameters at 13 labels.
ENCODER = ((24, 2), (48, 2), (48, 1), (96, 2), (96, 1), (128, 2), (128, 1))


def conv_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class WindowTagger(nn.Module):
    """Input float [B, T, 3, H, W] (normalized frames of a window), output logits [B, labels]."""

    def __init__(self, num_labels: int, encoder=ENCODER, dropout: float = 0.2):
        super().__init__()
        layers = []
        cin = 6
        for cout, stride in encoder:
            layers.append(conv_block(cin, cout, stride))
            cin = cout
        self.encoder = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * cin, num_labels)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        appearance = frames[:, 0]
        motion = frames[:, -1] - frames[:, 0]
        features = self.encoder(torch.cat([appearance, motion], dim=1))
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
        return self.head(self.dropout(pooled))
