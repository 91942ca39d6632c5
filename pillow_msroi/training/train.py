"""The full recipe: cache frozen features, fine-tune on Caltech-101, train the
OSIE fixation readout, export ONNX, evaluate. ``python -m pillow_msroi.training``."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import _roi as roi
from .._stretch_cy import upsample_bilinear
from .data import CaltechSplit, OsieImage, caltech_split, load_osie, load_square, osie_split
from .model import STAGE_ENDS, EfficientNetLite0, MSROIHead, class_maps, fold_top5, load_lite0, normalize

TRAIN_SIZE = 224
# Blocks before this index stay frozen and their output is cached; the rest of
# stage 6 (its last block), stage 7, the 1280-channel head conv and the MSROI
# head are fine-tuned.
FIRST_TRAINED_BLOCK = 14
S8_END, S16_END = STAGE_ENDS[2], STAGE_ENDS[4]  # outputs at stride 8 (40 ch) and 16 (112 ch)


def log(msg: str, t0: list[float] = [time.time()]) -> None:  # noqa: B006 - start time shared on purpose
    print(f"[{time.time() - t0[0]:7.1f}s] {msg}", flush=True)


@dataclass
class Config:
    shared: Path
    out: Path
    cache: Path
    epochs: int = 8
    batch: int = 64
    lr_head: float = 2e-3
    lr_backbone: float = 3e-4
    readout_steps: int = 600
    seed: int = 0
    #: Epochs of end-to-end fine-tuning (every backbone block and the head, on images at
    #: ``end_to_end_size`` px) after the cached stage; 0 (the shipped recipe) skips it.
    end_to_end_epochs: int = 0
    end_to_end_size: int = 160
    lr_end_to_end: float = 1e-4


# --------------------------------------------------------------------------- Caltech-101

def caltech_root(cfg: Config) -> Path:
    return cfg.shared / "data" / "caltech101" / "101_ObjectCategories"


@torch.no_grad()
def cache_caltech(net: EfficientNetLite0, split: CaltechSplit, cfg: Config) -> dict[str, torch.Tensor]:
    """Frozen-trunk features (block ``FIRST_TRAINED_BLOCK`` input) for both parts, float16, cached on disk."""
    path = cfg.cache / f"caltech_b{FIRST_TRAINED_BLOCK}_{TRAIN_SIZE}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    root = caltech_root(cfg)
    out: dict[str, torch.Tensor] = {}
    for part, items in (("train", split.train), ("test", split.test)):
        feats = []
        for i in range(0, len(items), cfg.batch):
            batch = np.stack([load_square(root / p, TRAIN_SIZE) for p, _ in items[i : i + cfg.batch]])
            x = normalize(torch.from_numpy(batch).permute(0, 3, 1, 2).float())
            feats.append(net.run_blocks(net.stem(x), 0, FIRST_TRAINED_BLOCK).half())
            if (i // cfg.batch) % 20 == 0:
                log(f"cache {part} {i + len(batch)}/{len(items)}")
        out[f"{part}_x"] = torch.cat(feats)
        out[f"{part}_y"] = torch.tensor([label for _, label in items])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


class Tail(nn.Module):
    """The fine-tuned part: remaining backbone blocks, head conv, MSROI head."""

    def __init__(self, net: EfficientNetLite0, head: MSROIHead) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[FIRST_TRAINED_BLOCK:])
        self.net = net  # for the 1280-channel head conv; its earlier blocks get no gradient
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.net.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def finetune(net: EfficientNetLite0, head: MSROIHead, feats: dict[str, torch.Tensor], cfg: Config) -> None:
    tail = Tail(net, head)
    backbone_params = [p for b in tail.blocks for p in b.parameters()]
    backbone_params += list(net._conv_head.parameters()) + list(net._bn1.parameters())
    opt = torch.optim.AdamW(
        [{"params": backbone_params, "lr": cfg.lr_backbone}, {"params": head.parameters(), "lr": cfg.lr_head}],
        weight_decay=1e-4,
    )
    x_all, y_all = feats["train_x"], feats["train_y"]
    steps = cfg.epochs * math.ceil(len(y_all) / cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[cfg.lr_backbone, cfg.lr_head], total_steps=steps, pct_start=0.15
    )
    # Mirroring the cached maps stands in for mirroring the images.
    train_epochs(tail, net, head, x_all, y_all, opt, sched, cfg.epochs, cfg.batch,
                 torch.Generator().manual_seed(cfg.seed), "epoch")


def train_epochs(model: Callable[[torch.Tensor], torch.Tensor], net: EfficientNetLite0, head: MSROIHead,
                 x_all: torch.Tensor, y_all: torch.Tensor, opt: torch.optim.Optimizer,
                 sched: torch.optim.lr_scheduler.LRScheduler, epochs: int, batch: int,
                 gen: torch.Generator, name: str) -> None:
    """Label-smoothed cross-entropy over shuffled, randomly mirrored batches of ``x_all``
    (anything ``model`` takes: cached feature maps or images); the pretrained BatchNorm
    statistics stay fixed (``net`` in eval mode).  Leaves ``net`` and ``head`` in eval mode."""
    n = len(y_all)
    for epoch in range(epochs):
        net.eval()  # fixed BatchNorm statistics; gradients still flow through the trained blocks
        head.train()
        perm = torch.randperm(n, generator=gen)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            x = x_all[idx].float()
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x[flip] = x[flip].flip(-1)
            y = y_all[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
        log(f"{name} {epoch + 1}/{epochs} loss {total / seen:.3f} train top-1 {correct / seen:.3f}")
    net.eval()
    head.eval()


def caltech_images(split: CaltechSplit, part: str, size: int, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """Square centre crops (uint8, N x 3 x size x size) and labels of one part, cached on disk."""
    path = cfg.cache / f"caltech_{part}_images_{size}.pt"
    if path.is_file():
        cached = torch.load(path, weights_only=True)
        return cached["x"], cached["y"]
    root = caltech_root(cfg)
    items = getattr(split, part)
    x = torch.from_numpy(np.stack([load_square(root / p, size) for p, _ in items])).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([label for _, label in items])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"x": x, "y": y}, path)
    log(f"caltech {part} images at {size} px cached")
    return x, y


def finetune_end_to_end(net: EfficientNetLite0, head: MSROIHead, split: CaltechSplit, cfg: Config) -> None:
    """Every backbone block, the head conv and the MSROI head together, on mirrored
    images at ``cfg.end_to_end_size`` px, after the cached stage (which starts the head
    from trained weights).  BatchNorm statistics stay the pretrained ones, as before;
    learning rates follow a cosine from ``cfg.lr_end_to_end`` (backbone; the head 5x)."""
    x_all, y_all = caltech_images(split, "train", cfg.end_to_end_size, cfg)
    trained = [p for name, p in net.named_parameters() if not name.startswith("_fc.")]
    for p in trained:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(
        [{"params": trained, "lr": cfg.lr_end_to_end}, {"params": head.parameters(), "lr": 5 * cfg.lr_end_to_end}],
        weight_decay=1e-4,
    )
    steps = cfg.end_to_end_epochs * math.ceil(len(y_all) / cfg.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    train_epochs(lambda x: head(net.features(normalize(x))), net, head, x_all, y_all, opt, sched,
                 cfg.end_to_end_epochs, cfg.batch, torch.Generator().manual_seed(cfg.seed + 1), "end-to-end epoch")
    for p in trained:
        p.requires_grad_(False)


@torch.no_grad()
def evaluate_caltech_images(net: EfficientNetLite0, head: MSROIHead, split: CaltechSplit, cfg: Config) -> dict[str, float]:
    """Held-out accuracy through the whole network on the test images at ``TRAIN_SIZE``
    (after end-to-end fine-tuning the cached trunk features are stale)."""
    x_all, y = caltech_images(split, "test", TRAIN_SIZE, cfg)
    logits = torch.cat([head(net.features(normalize(x_all[i : i + 64].float()))) for i in range(0, len(y), 64)])
    return accuracy(logits, y)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Top-1 and top-5 accuracy (top-k over fewer classes than 5: all of them)."""
    top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
    return {
        "top1": float((top5[:, 0] == y).float().mean()),
        "top5": float((top5 == y[:, None]).any(1).float().mean()),
        "n_test": int(len(y)),
    }


@torch.no_grad()
def evaluate_caltech(net: EfficientNetLite0, head: MSROIHead, feats: dict[str, torch.Tensor]) -> dict[str, float]:
    tail = Tail(net, head).eval()
    logits = torch.cat([tail(feats["test_x"][i : i + 256].float()) for i in range(0, len(feats["test_y"]), 256)])
    return accuracy(logits, feats["test_y"])


# --------------------------------------------------------------------------- the shipped graph

class MSROINet(nn.Module):
    """What is exported: image (N, 3, H, W) float 0..255, H and W multiples of 32 ->
    ``logits`` (N, classes), ``msroi`` (N, 1, H/32, W/32) top-5 fold in [0, 1],
    ``readout`` (N, 1, H/16, W/16) fixation map in [0, 1]."""

    def __init__(self, net: EfficientNetLite0, head: MSROIHead, readout: Readout) -> None:
        super().__init__()
        self.net = net
        self.head = head
        self.readout = readout

    def multiscale(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.net.stem(normalize(image))
        s8 = self.net.run_blocks(x, 0, S8_END)
        s16 = self.net.run_blocks(s8, S8_END, S16_END)
        s32 = self.net.head(self.net.run_blocks(s16, S16_END, len(self.net._blocks)))
        feats = self.head.features(s32)
        logits = self.head.fc(feats.mean(dim=(2, 3)))
        cams = class_maps(feats, self.head.fc.weight)
        fold = fold_top5(cams, logits)
        return logits, s8, s16, feats, fold

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, s8, s16, feats, fold = self.multiscale(image)
        return logits, fold, self.readout(s8, s16, feats, fold)


class Readout(nn.Module):
    """DeepGaze-II-style readout on frozen features: a small 1x1-conv network over
    multi-scale backbone features and the MSROI fold, plus a learned centre bias,
    as a log-density over the stride-16 grid. The exported output is
    ``exp(log-density - max)``, a map in (0, 1]."""

    def __init__(self, c8: int = 40, c16: int = 112, c32: int = 256, hidden: int = 32) -> None:
        super().__init__()
        cin = c8 + c16 + c32 + 1
        # Per-channel standardisation (statistics of the training features, fixed):
        # the inputs mix activations of very different scales.
        self.register_buffer("mean", torch.zeros(1, cin, 1, 1))
        self.register_buffer("std", torch.ones(1, cin, 1, 1))
        self.net = nn.Sequential(
            nn.Conv2d(cin, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, 16, 1), nn.ReLU(), nn.Conv2d(16, 1, 1)
        )
        # Centre bias as a coarse grid, resized to the feature map so any aspect ratio works.
        self.centre = nn.Parameter(torch.zeros(1, 1, 6, 8))
        self.blur = nn.Conv2d(1, 1, 5, padding=2, bias=False, padding_mode="replicate")
        with torch.no_grad():
            g = torch.exp(-0.5 * (torch.arange(5.0) - 2) ** 2)
            self.blur.weight.copy_((g[:, None] * g[None, :] / g.sum() ** 2)[None, None])

    def inputs(self, s8: torch.Tensor, s16: torch.Tensor, feats: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
        size = s16.shape[-2:]
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        return torch.cat([F.avg_pool2d(s8, 2), s16, up(feats), up(fold)], dim=1)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        centre = F.interpolate(self.centre, size=x.shape[-2:], mode="bilinear", align_corners=False)
        logit = self.blur(self.net((x - self.mean) / self.std)) + centre
        return logit - torch.logsumexp(logit.flatten(1), dim=1)[:, None, None, None]

    def forward(self, s8: torch.Tensor, s16: torch.Tensor, feats: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
        ld = self.log_density(self.inputs(s8, s16, feats, fold))
        return torch.exp(ld - ld.flatten(1).amax(dim=1)[:, None, None, None])


# --------------------------------------------------------------------------- OSIE

def osie_input(cfg: Config, rec: OsieImage) -> torch.Tensor:
    from PIL import Image

    with Image.open(cfg.shared / "data" / "osie" / "stimuli" / rec.name) as im:
        return torch.from_numpy(roi.network_input(im))


@torch.no_grad()
def imagenet_fold(net: EfficientNetLite0, image: torch.Tensor) -> torch.Tensor:
    """The un-fine-tuned baseline: ImageNet CAMs (1280-d features x fc weights), top-5 fold."""
    feats = net.features(normalize(image))
    logits = net._fc(feats.mean(dim=(2, 3)))
    return fold_top5(class_maps(feats, net._fc.weight), logits)


def train_readout(model: MSROINet, train: list[OsieImage], cfg: Config) -> None:
    ro = model.readout
    xs, targets = [], []
    with torch.no_grad():
        for rec in train:
            _, s8, s16, feats, fold = model.multiscale(osie_input(cfg, rec))
            x = ro.inputs(s8, s16, feats, fold)[0]
            h, w = x.shape[-2:]
            gx = np.minimum(rec.fix_x * w // rec.width, w - 1)
            gy = np.minimum(rec.fix_y * h // rec.height, h - 1)
            counts = np.zeros((h, w), np.float32)
            np.add.at(counts, (gy, gx), 1.0)
            xs.append(x)
            targets.append(torch.from_numpy(counts / max(counts.sum(), 1.0)))
    x_all, t_all = torch.stack(xs), torch.stack(targets)[:, None]
    log(f"readout inputs {tuple(x_all.shape)}")
    ro.mean.copy_(x_all.mean(dim=(0, 2, 3), keepdim=True))
    ro.std.copy_(x_all.std(dim=(0, 2, 3), keepdim=True) + 1e-3)
    opt = torch.optim.Adam([p for n, p in ro.named_parameters() if not n.startswith("blur")], lr=3e-3,
                           weight_decay=1e-4)
    gen = torch.Generator().manual_seed(cfg.seed)
    for step in range(cfg.readout_steps):
        idx = torch.randperm(len(x_all), generator=gen)[:64]
        x, t = x_all[idx], t_all[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        t = torch.where(flip[:, None, None, None], t.flip(-1), t)
        # Cross-entropy between the fixation distribution and the predicted log-density.
        loss = -(t * ro.log_density(x)).flatten(1).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == cfg.readout_steps - 1:
            log(f"readout step {step} nll {loss.item():.4f} (uniform {math.log(x.shape[-1] * x.shape[-2]):.4f})")
    ro.eval()


# --------------------------------------------------------------------------- export

def export_onnx(model: MSROINet, path: Path) -> None:
    import warnings

    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.rand(1, 3, 256, 384) * 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (dummy,), str(path), dynamo=False, opset_version=17,
            input_names=["image"], output_names=["logits", "msroi", "readout"],
            dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n"},
                          "msroi": {0: "n", 2: "h32", 3: "w32"}, "readout": {0: "n", 2: "h16", 3: "w16"}},
        )


def set_metadata(path: Path, meta: dict[str, str]) -> None:
    import onnx

    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, str(path))


def write_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / (path.name + ".sha256")).write_text(f"{digest}  {path.name}\n")
    return digest


# --------------------------------------------------------------------------- evaluation

def evaluate_osie(onnx_path: Path, baseline_net: EfficientNetLite0, val: list[OsieImage], cfg: Config
                  ) -> dict[str, dict[str, float]]:
    """NSS, AUC-Judd and CC on the OSIE validation images, maps at full image resolution.

    The fine-tuned maps come from the exported ONNX through ``roi.roi_map`` so
    the figures describe what ships.
    """
    import os

    from PIL import Image

    from ..eval import saliency as sm

    os.environ[roi.MODEL_ENV] = str(onnx_path)
    names = ("centre_gaussian", "imagenet_cam_fold", "msroi", "msroi_x_centre", "readout")
    scores: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for rec in val:
        with Image.open(cfg.shared / "data" / "osie" / "stimuli" / rec.name) as im:
            im.load()
            h, w = im.height, im.width
            centre = sm.centre_gaussian(h, w)
            maps = {
                "centre_gaussian": centre,
                "imagenet_cam_fold": upsample_bilinear(imagenet_fold(baseline_net, torch.from_numpy(roi.network_input(im)))[0, 0].numpy(), h, w),
                "msroi": roi.roi_map(im, kind="msroi"),
                "readout": roi.roi_map(im, kind="readout"),
            }
        maps["msroi_x_centre"] = maps["msroi"] * centre
        density = sm.fixation_density(rec.fix_x, rec.fix_y, h, w)
        for n in names:
            m = maps[n]
            scores[n].append((sm.nss(m, rec.fix_x, rec.fix_y), sm.auc_judd(m, rec.fix_x, rec.fix_y), sm.cc(m, density)))
    return {
        n: dict(zip(("nss", "auc_judd", "cc"), (float(v) for v in np.mean(np.array(s), axis=0))))
        for n, s in scores.items()
    }


def run(cfg: Config) -> dict:
    torch.manual_seed(cfg.seed)
    t_start = time.time()
    results: dict = {"config": {k: str(v) for k, v in vars(cfg).items()}}
    net = load_lite0()
    baseline = copy.deepcopy(net).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    for module in (*net._blocks[FIRST_TRAINED_BLOCK:], net._conv_head, net._bn1):
        for p in module.parameters():
            p.requires_grad_(True)

    split = caltech_split(cfg.shared / "data" / "caltech101")
    results["caltech_split"] = {"classes": len(split.classes), "train": len(split.train), "test": len(split.test)}
    log(f"caltech split {results['caltech_split']}")
    feats = cache_caltech(net, split, cfg)
    log("caltech features cached")
    head = MSROIHead(num_classes=len(split.classes))
    finetune(net, head, feats, cfg)
    results["caltech_heldout"] = evaluate_caltech(net, head, feats)
    log(f"caltech held-out {results['caltech_heldout']}")
    del feats
    if cfg.end_to_end_epochs > 0:
        results["caltech_heldout_before_end_to_end"] = results["caltech_heldout"]
        finetune_end_to_end(net, head, split, cfg)
        results["caltech_heldout"] = evaluate_caltech_images(net, head, split, cfg)
        log(f"caltech held-out after end-to-end {results['caltech_heldout']}")

    for p in net.parameters():
        p.requires_grad_(False)
    for p in head.parameters():
        p.requires_grad_(False)
    model = MSROINet(net, head, Readout()).eval()
    osie = load_osie(cfg.shared / "data" / "osie")
    train, val = osie_split(osie)
    results["osie_split"] = {"train": len(train), "val": len(val), "val_first": [r.name for r in val[:5]]}
    train_readout(model, train, cfg)

    onnx_path = cfg.out / "msroi.onnx"
    export_onnx(model, onnx_path)
    log(f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB)")
    results["osie_val"] = evaluate_osie(onnx_path, baseline, val, cfg)
    best = max(("msroi", "readout"), key=lambda k: results["osie_val"][k]["nss"])
    results["default_kind"] = best
    set_metadata(onnx_path, {"default_kind": best, "input_max_side": str(roi.MAX_SIDE),
                             "classes": ",".join(split.classes)})
    results["onnx_bytes"] = onnx_path.stat().st_size
    results["sha256"] = write_sha256(onnx_path)
    results["wall_s"] = time.time() - t_start
    (cfg.cache / "results.json").write_text(json.dumps(results, indent=2))
    log(json.dumps(results, indent=2))
    return results
