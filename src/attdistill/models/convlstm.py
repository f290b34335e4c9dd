"""A convolutional LSTM cell (Shi et al., "Convolutional LSTM Network", NIPS 2015) without peepholes.

The recurrence of "Where and When to Look? Spatio-temporal Attention for Action Recognition in Videos" (§3.3),
with ``*`` a 2D convolution and ``∘`` the Hadamard product::

    I_t = σ(W_xi * Y_t + W_hi * H_{t-1} + b_i)                     input gate
    F_t = σ(W_xf * Y_t + W_hf * H_{t-1} + b_f)                     forget gate
    C_t = F_t ∘ C_{t-1} + I_t ∘ tanh(W_xc * Y_t + W_hc * H_{t-1} + b_c)   cell state
    O_t = σ(W_xo * Y_t + W_ho * H_{t-1} + b_o)                     output gate
    H_t = O_t ∘ tanh(C_t)                                          hidden state

The four input convolutions W_x· are one ``conv_x`` with 4·hidden output channels, the four state convolutions
W_h· one bias-free ``conv_h``; their output channels are stacked in the gate order (i, f, c, o), hidden channels
each. Convolutions use "same" padding so the state keeps the input's spatial size.
"""

from __future__ import annotations

import torch
from torch import nn

#: Order of the gates along the stacked output channels of ``conv_x`` / ``conv_h``.
GATES: tuple[str, ...] = ("i", "f", "c", "o")


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: (Y_t, (H_{t-1}, C_{t-1})) -> (H_t, C_t).

    Y_t: (N, C_in, H, W); H_t, C_t: (N, hidden, H, W). ``kernel_size`` must be odd ("same" padding).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        self.hidden_channels = hidden_channels
        pad = kernel_size // 2
        self.conv_x = nn.Conv2d(in_channels, 4 * hidden_channels, kernel_size, padding=pad, bias=True)
        self.conv_h = nn.Conv2d(hidden_channels, 4 * hidden_channels, kernel_size, padding=pad, bias=False)

    def forward(self, y: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state                                                   # (N, hidden, H, W) each
        gates = self.conv_x(y) + self.conv_h(h)                        # (N, 4 hidden, H, W) in GATES order
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c
