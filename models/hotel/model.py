"""The hotel price network: per-night demand, per-stay adjustments, three quantile heads.

Structure (mirrors how a stay is priced, which keeps it small and accurate):

* a destination embedding (8 dims) conditions everything;
* the **night net** maps each night's calendar features (+ destination) to a log demand
  multiplier and a 4-dim summary; the stay's demand is the log of the *mean* multiplier over its
  nights (`logsumexp - log n`, masked), so any stay length 1..MAX_NIGHTS works in one pass;
* the **stay net** maps destination, hotel (stars, rating), lead time, nights, guests, the night
  summary and the stay demand to the median's log adjustment and the two interval half-widths;
* log q50 = log(base price) + stay demand + adjustment; log q10 = log q50 - softplus(.), log q90 =
  log q50 + softplus(.), so q10 <= q50 <= q90 always holds.

Training (`models.build.train_hotel`) minimises the pinball loss of q10/q50/q90 on log prices
(quantiles commute with log).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

QUANTILES = (0.1, 0.5, 0.9)


class HotelPriceNet(nn.Module):
    def __init__(self, n_destinations: int, n_night_features: int, n_stay_features: int,
                 dest_dim: int = 8, night_hidden: int = 48, night_summary: int = 4,
                 stay_hidden: int = 64):
        super().__init__()
        self.config = {
            "n_destinations": n_destinations, "n_night_features": n_night_features,
            "n_stay_features": n_stay_features, "dest_dim": dest_dim, "night_hidden": night_hidden,
            "night_summary": night_summary, "stay_hidden": stay_hidden,
        }
        self.dest_emb = nn.Embedding(n_destinations, dest_dim)
        self.night_net = nn.Sequential(
            nn.Linear(n_night_features + dest_dim, night_hidden), nn.SiLU(),
            nn.Linear(night_hidden, night_hidden), nn.SiLU(),
            nn.Linear(night_hidden, 1 + night_summary),
        )
        self.stay_net = nn.Sequential(
            nn.Linear(dest_dim + n_stay_features + night_summary + 1, stay_hidden), nn.SiLU(),
            nn.Linear(stay_hidden, stay_hidden), nn.SiLU(),
            nn.Linear(stay_hidden, 3),
        )
        with torch.no_grad():  # start with half-widths of ~0.1 in log space
            self.stay_net[-1].bias.copy_(torch.tensor([0.0, -2.25, -2.25]))

    def forward(self, dest: torch.Tensor, night_x: torch.Tensor, mask: torch.Tensor,
                stay_x: torch.Tensor, log_base: torch.Tensor) -> torch.Tensor:
        """dest [B] long, night_x [B, N, Fn], mask [B, N] bool (>= 1 true per row), stay_x [B, Fs],
        log_base [B] -> log prices [B, 3] for QUANTILES."""
        e = self.dest_emb(dest)
        h = self.night_net(torch.cat([night_x, e[:, None, :].expand(-1, night_x.shape[1], -1)], -1))
        n = mask.sum(1, keepdim=True).to(h.dtype)
        log_m = h[..., 0].masked_fill(~mask, float("-inf"))
        demand = torch.logsumexp(log_m, 1, keepdim=True) - torch.log(n)
        summary = (h[..., 1:] * mask[..., None]).sum(1) / n
        z = self.stay_net(torch.cat([e, stay_x, summary, demand], -1))
        mid = log_base + demand[:, 0] + z[:, 0]
        return torch.stack([mid - F.softplus(z[:, 1]), mid, mid + F.softplus(z[:, 2])], -1)
