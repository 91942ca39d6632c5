"""The fixation readout: its network, its features cached once, its training on OSIE,
MIT1003 or both, and grafting it onto an exported trunk.

The readout sees four tensors of the frozen network (``READOUT_INPUTS``): backbone features
at stride 8 and 16, the MSROI head's 256 features and the ``msroi`` fold at stride 32.
They are computed once per training image and variant (input scale, colour jitter), by
the torch model in the full recipe or by the ONNX trunk of an existing ``msroi.onnx``
(``--trunk``), and cached on disk; training then costs seconds per hundred steps.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance
from torch import nn

from .. import _roi as roi

#: Readout-data choices of the recipe (``--readout-data``).
READOUT_DATA = ("osie", "mit1003", "both")
#: The readout's inputs, named as the exported graph names them (the outputs of block 4,
#: block 10, the MSROI head's last conv, and the fold).
READOUT_INPUTS = {
    "s8": "/_blocks.4/Add_output_0",
    "s16": "/_blocks.10/Add_output_0",
    "feats": "/conv/conv.2/Relu_output_0",
    "fold": "msroi",
}


def log(msg: str, t0: list[float] = [time.time()]) -> None:  # noqa: B006 - start time shared on purpose
    print(f"[{time.time() - t0[0]:7.1f}s] {msg}", flush=True)


# --------------------------------------------------------------------------- the network

def grid_coordinates(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres of ``like``'s grid as fractions of its width and height, (j + 0.5) / W
    and (i + 0.5) / H, built from cumulative sums so the ONNX graph keeps dynamic sizes."""
    ones = torch.ones_like(like[:, :1])
    u = (ones.cumsum(-1) - 0.5) / ones.sum(-1, keepdim=True)
    v = (ones.cumsum(-2) - 0.5) / ones.sum(-2, keepdim=True)
    return u, v


class Readout(nn.Module):
    """DeepGaze-II-style readout on frozen features, as a log-density over the stride-16 grid.

    Per-cell features (standardized with fixed statistics of the training features) go
    through a 1x1 conv to ``hidden`` channels; with ``context`` > 0, their local mean over
    ``context`` x ``context`` cells and their mean over the whole image are added (what else
    is in the picture; measured no better, so off by default, see ``ReadoutConfig``); two
    1x1 convs and a fixed 5x5 blur give the image's saliency.  A centre prior, a centred Gaussian
    log-density with the standard deviations fitted on the training fixations (fixed
    buffers), is added with its own learned weight, as DeepGaze adds its centre bias.  The
    exported output is ``exp(log-density - max)``, a map in (0, 1].
    """

    def __init__(self, c8: int = 40, c16: int = 112, c32: int = 256, hidden: int = 32, context: int = 0,
                 centre_sigma: tuple[float, float] = (0.25, 0.25)) -> None:
        super().__init__()
        cin = c8 + c16 + c32 + 1
        self.register_buffer("mean", torch.zeros(1, cin, 1, 1))
        self.register_buffer("std", torch.ones(1, cin, 1, 1))
        self.context = context
        self.embed = nn.Sequential(nn.Conv2d(cin, hidden, 1), nn.ReLU())
        width = hidden * (3 if context else 1)
        self.net = nn.Sequential(nn.Conv2d(width, 16, 1), nn.ReLU(), nn.Conv2d(16, 1, 1))
        #: Standard deviations (x, y) of the centre prior as fractions of the width and height.
        self.register_buffer("centre_sigma", torch.tensor(centre_sigma, dtype=torch.float32))
        self.centre_weight = nn.Parameter(torch.ones(()))
        self.blur = nn.Conv2d(1, 1, 5, padding=2, bias=False, padding_mode="replicate")
        with torch.no_grad():
            g = torch.exp(-0.5 * (torch.arange(5.0) - 2) ** 2)
            self.blur.weight.copy_((g[:, None] * g[None, :] / g.sum() ** 2)[None, None])
        self.blur.weight.requires_grad_(False)

    @staticmethod
    def inputs(s8: torch.Tensor, s16: torch.Tensor, feats: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
        return Readout.join(torch.cat([F.avg_pool2d(s8, 2), s16], 1), torch.cat([feats, fold], 1))

    @staticmethod
    def join(fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """Stride-16 features and stride-32 ones upsampled to them: the readout's input."""
        up = F.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([fine, up], dim=1)

    def centre_prior(self, like: torch.Tensor) -> torch.Tensor:
        """Log of the centred Gaussian (unnormalized) on ``like``'s grid, (N, 1, H, W)."""
        u, v = grid_coordinates(like)
        return -0.5 * (((u - 0.5) / self.centre_sigma[0]) ** 2 + ((v - 0.5) / self.centre_sigma[1]) ** 2)

    def saliency(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed((x - self.mean) / self.std)
        if self.context:
            local = F.avg_pool2d(h, self.context, stride=1, padding=self.context // 2, count_include_pad=False)
            whole = h.mean(dim=(2, 3), keepdim=True).expand_as(h)
            h = torch.cat([h, local, whole], dim=1)
        return self.blur(self.net(h))

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.saliency(x)
        logit = logit + self.centre_weight * self.centre_prior(logit)
        return logit - torch.logsumexp(logit.flatten(1), dim=1)[:, None, None, None]

    def forward(self, s8: torch.Tensor, s16: torch.Tensor, feats: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
        ld = self.log_density(self.inputs(s8, s16, feats, fold))
        return torch.exp(ld - ld.flatten(1).amax(dim=1)[:, None, None, None])


def fit_centre_sigma(records: Sequence[Any]) -> tuple[float, float]:
    """Standard deviations (x, y), as fractions of width and height, of all fixations about
    the image centre: the centred Gaussian fitted (maximum likelihood) on ``records``."""
    u = np.concatenate([(r.fix_x + 0.5) / r.width - 0.5 for r in records])
    v = np.concatenate([(r.fix_y + 0.5) / r.height - 0.5 for r in records])
    return float(np.sqrt(np.mean(u * u))), float(np.sqrt(np.mean(v * v)))


# --------------------------------------------------------------------------- feature sources

Extract = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]


def onnx_trunk(model_path: Path) -> Any:
    """``model_path``'s graph without the readout, with the readout's four inputs as outputs
    (and ``logits``, ``msroi``), as an ``onnx.ModelProto``."""
    import onnx

    model = onnx.load(str(model_path))
    g = model.graph
    produced = {o for n in g.node for o in n.output}
    missing = [t for t in READOUT_INPUTS.values() if t not in produced]
    if missing:
        raise ValueError(f"{model_path} has no tensors {missing}: it was not exported by this recipe")
    wanted = ["logits", "msroi", *(t for k, t in READOUT_INPUTS.items() if k != "fold")]
    keep = _needed_nodes(g, wanted)
    nodes = [n for i, n in enumerate(g.node) if i in keep]
    used = {i for n in nodes for i in n.input}
    inits = [t for t in g.initializer if t.name in used]
    outputs = [o for o in g.output if o.name in ("logits", "msroi")]
    outputs += [onnx.helper.make_tensor_value_info(READOUT_INPUTS[k], onnx.TensorProto.FLOAT, None)
                for k in ("s8", "s16", "feats")]
    graph = onnx.helper.make_graph(nodes, g.name, list(g.input), outputs, inits)
    trunk = onnx.helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    del trunk.metadata_props[:]
    trunk.metadata_props.extend(model.metadata_props)
    return trunk


def _needed_nodes(graph: Any, outputs: Sequence[str]) -> set[int]:
    """Indices of the nodes ``outputs`` depend on."""
    producer = {o: i for i, n in enumerate(graph.node) for o in n.output}
    keep: set[int] = set()
    todo = [producer[o] for o in outputs if o in producer]
    while todo:
        i = todo.pop()
        if i in keep:
            continue
        keep.add(i)
        todo.extend(producer[t] for t in graph.node[i].input if t in producer)
    return keep


def onnx_extractor(model_path: Path) -> Extract:
    """Features of one prepared image (1, 3, h, w) from the ONNX trunk of ``model_path``."""
    import onnxruntime as ort

    trunk = onnx_trunk(model_path)
    opts = ort.SessionOptions()
    # One thread: with two, a few float16 features in a million come out one step apart
    # (measured: 0-35 per cached variant file), and training turns that into maps up to
    # 0.03 apart, so the recipe would not reproduce its own file.
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(trunk.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    names = [READOUT_INPUTS[k] for k in ("s8", "s16", "feats", "fold")]

    def extract(image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        s8, s16, feats, fold = (torch.from_numpy(a) for a in session.run(names, {"image": image}))
        return split_features(s8, s16, feats, fold)

    return extract


def torch_extractor(model: nn.Module) -> Extract:
    """Features of one prepared image from the torch ``MSROINet`` (the full recipe)."""

    @torch.no_grad()
    def extract(image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        _, s8, s16, feats, fold = model.multiscale(torch.from_numpy(image))
        return split_features(s8, s16, feats, fold)

    return extract


def split_features(s8: torch.Tensor, s16: torch.Tensor, feats: torch.Tensor, fold: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(fine, coarse): the stride-16 channels (stride 8 pooled, stride 16) and the stride-32
    ones (MSROI features, fold), float16, one image: half the bytes of the joined input."""
    fine = torch.cat([F.avg_pool2d(s8, 2), s16], 1)[0].half()
    coarse = torch.cat([feats, fold], 1)[0].half()
    return fine, coarse


# --------------------------------------------------------------------------- cached variants

@dataclass(frozen=True)
class Variant:
    """One way of showing a training image to the trunk: longer side and colour jitter."""

    name: str
    max_side: int = roi.MAX_SIDE
    colour: bool = False


#: The plain input (what ships) first; then two scales and a colour-jittered copy.
VARIANTS = (Variant("s384"), Variant("s320", 320), Variant("s448", 448), Variant("c384", colour=True))


def jitter_colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brightness, contrast and saturation each scaled by a factor in [0.7, 1.3]."""
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhance(image).enhance(float(rng.uniform(0.7, 1.3)))
    return image


def variant_input(path: Path, variant: Variant, seed: int) -> np.ndarray:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    if variant.colour:
        rgb = jitter_colour(rgb, np.random.default_rng(seed))
    return roi.network_input(rgb, max_side=variant.max_side)


def trunk_key(model_path: Path | None, tag: str | None = None) -> str:
    """Cache key of a trunk: the sha256 prefix of its ONNX file, or ``tag`` for a torch one."""
    if model_path is not None:
        return hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:12]
    if tag is None:
        raise ValueError("a torch trunk needs a cache tag")
    return tag


def cache_features(extract: Extract, dataset: str, folder: Path, records: Sequence[Any], variants: Sequence[Variant],
                   cache: Path, key: str, part: str) -> dict[str, dict[str, list[torch.Tensor]]]:
    """``{variant: {"fine": [...], "coarse": [...]}}`` for ``records`` (in order), computed once
    and kept in ``cache`` under the trunk's ``key``; the file also names the records, so a
    changed split is recomputed, not silently reused."""
    out: dict[str, dict[str, list[torch.Tensor]]] = {}
    names = [r.name for r in records]
    for variant in variants:
        path = cache / f"readout_{key}_{dataset}_{part}_{variant.name}.pt"
        if path.is_file():
            stored = torch.load(path, weights_only=True)
            if stored["names"] == names:
                out[variant.name] = stored
                continue
        fine, coarse = [], []
        for i, rec in enumerate(records):
            seed = int.from_bytes(hashlib.sha256(f"{dataset}/{rec.name}".encode()).digest()[:4], "little")
            a, b = extract(variant_input(folder / "stimuli" / rec.name, variant, seed))
            fine.append(a)
            coarse.append(b)
            if i % 200 == 0:
                log(f"features {dataset} {part} {variant.name} {i + 1}/{len(records)}")
        stored = {"names": names, "fine": fine, "coarse": coarse}
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(stored, path)
        out[variant.name] = stored
    return out


# --------------------------------------------------------------------------- training

@dataclass
class ReadoutConfig:
    """Readout training settings.  The defaults were chosen on an inner split of the
    training parts (a seeded fifth of each held out; 400 steps, NSS on the held-out fifth,
    OSIE / MIT1003): with a blurred target (1 cell) 2.55 / 2.25, without 2.90 / 2.43;
    crops 2.89 / 2.42 against 2.90 / 2.43 without; the context branch 2.90 / 2.43 against
    2.91 / 2.44 without; uniform smoothing 0.1 2.91 / 2.43 against 2.90 / 2.43.  So the
    target is not blurred, there are no crops and no context branch; the 0.1 uniform share
    stays (it bounds the log of the target's empty cells, at no measured cost)."""

    steps: int = 1000
    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    #: Label smoothing of the fixation density: the binned fixations are blurred by a
    #: Gaussian of this many grid cells, then mixed with the uniform density by ``smoothing``.
    target_blur: float = 0.0
    smoothing: float = 0.1
    #: Probability of a random crop (each side keeps 75-100 % of the grid) per image.
    crop: float = 0.0
    #: Variants drawn for training (the first is also the one the statistics come from).
    variants: tuple[str, ...] = tuple(v.name for v in VARIANTS)
    #: Side of the context branch's local mean in cells; 0: no context branch.
    context: int = 0


def target_density(rec: Any, height: int, width: int, blur: float, smoothing: float) -> torch.Tensor:
    """The fixations of ``rec`` binned on an (height, width) grid, blurred by ``blur`` cells,
    mixed with ``smoothing`` of the uniform density; sums to 1."""
    gx = np.minimum(rec.fix_x * width // rec.width, width - 1)
    gy = np.minimum(rec.fix_y * height // rec.height, height - 1)
    counts = np.zeros((height, width), np.float64)
    np.add.at(counts, (gy, gx), 1.0)
    if blur > 0:
        from ..eval.saliency import gaussian_blur

        counts = gaussian_blur(counts, blur)
    total = counts.sum()
    p = counts / total if total > 0 else np.full((height, width), 1.0 / (height * width))
    p = (1 - smoothing) * p + smoothing / (height * width)
    return torch.from_numpy(p.astype(np.float32))


@dataclass
class TrainingSet:
    """The cached features and fixations of one dataset's training part."""

    name: str
    records: list[Any]
    features: dict[str, dict[str, list[torch.Tensor]]]


def train_readout(sets: Sequence[TrainingSet], cfg: ReadoutConfig, readout: Readout | None = None) -> Readout:
    """Fit a readout on the cached features of ``sets`` (each step draws half its batch from
    each set): cross-entropy between the smoothed fixation density and the predicted
    log-density, with random variants, mirroring and crops."""
    threads = torch.get_num_threads()
    # The tensors are small (a few hundred cells by 409 channels): a second thread saves
    # little, and on a busy machine the threads' waiting on each other costs 5-8x.
    torch.set_num_threads(1)
    try:
        return _train_readout(sets, cfg, readout)
    finally:
        torch.set_num_threads(threads)


def _train_readout(sets: Sequence[TrainingSet], cfg: ReadoutConfig, readout: Readout | None) -> Readout:
    torch.manual_seed(cfg.seed)
    records = [r for s in sets for r in s.records]
    ro = readout or Readout(context=cfg.context, centre_sigma=fit_centre_sigma(records))
    first = cfg.variants[0]
    with torch.no_grad():
        total = 0
        mean = torch.zeros(ro.mean.shape[1], dtype=torch.float64)
        sq = torch.zeros_like(mean)
        for s in sets:
            for a, b in zip(s.features[first]["fine"], s.features[first]["coarse"]):
                x = Readout.join(a[None].float(), b[None].float())[0].double()
                mean += x.sum(dim=(1, 2))
                sq += (x * x).sum(dim=(1, 2))
                total += x.shape[1] * x.shape[2]
        mean /= total
        std = (sq / total - mean * mean).clamp_min(0).sqrt()
        ro.mean.copy_(mean.float()[None, :, None, None])
        ro.std.copy_(std.float()[None, :, None, None] + 1e-3)
    params = [p for p in ro.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    targets: dict[tuple[str, int, str], torch.Tensor] = {}
    ro.train()
    for step in range(cfg.steps):
        picks: list[tuple[TrainingSet, int, str]] = []
        for k, s in enumerate(sets):
            n = cfg.batch // len(sets) + (1 if k < cfg.batch % len(sets) else 0)
            for i in torch.randint(len(s.records), (n,), generator=gen).tolist():
                picks.append((s, i, cfg.variants[int(rng.integers(len(cfg.variants)))]))
        groups: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        for s, i, v in picks:
            a = s.features[v]["fine"][i]
            b = s.features[v]["coarse"][i]
            tkey = (s.name, i, v)
            if tkey not in targets:
                targets[tkey] = target_density(s.records[i], a.shape[1], a.shape[2], cfg.target_blur, cfg.smoothing)
            x = Readout.join(a[None].float(), b[None].float())[0]
            t = targets[tkey][None]
            if rng.random() < 0.5:
                x, t = x.flip(-1), t.flip(-1)
            if rng.random() < cfg.crop:
                x, t = _random_crop(x, t, rng)
            groups.setdefault(tuple(x.shape), []).append((x, t))
        loss = torch.zeros(())
        for items in groups.values():
            x = torch.stack([x for x, _ in items])
            t = torch.stack([t for _, t in items])
            t = t / t.sum(dim=(1, 2, 3), keepdim=True)
            loss = loss - (t * ro.log_density(x)).flatten(1).sum(1).sum()
        loss = loss / len(picks)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0 or step == cfg.steps - 1:
            log(f"readout step {step} nll {loss.item():.4f} centre weight {ro.centre_weight.item():.3f}")
    return ro.eval()


def _random_crop(x: torch.Tensor, t: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A crop keeping 75-100 % of each side of the grid, at a random place."""
    h, w = x.shape[-2:]
    ch = max(2, int(round(h * rng.uniform(0.75, 1.0))))
    cw = max(2, int(round(w * rng.uniform(0.75, 1.0))))
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return x[:, top : top + ch, left : left + cw], t[:, top : top + ch, left : left + cw]


@torch.no_grad()
def readout_maps(ro: Readout, fine: Sequence[torch.Tensor], coarse: Sequence[torch.Tensor]) -> list[np.ndarray]:
    """The readout's small maps, ``exp(log-density - max)``, for cached features."""
    out = []
    for a, b in zip(fine, coarse):
        ld = ro.log_density(Readout.join(a[None].float(), b[None].float()))[0, 0]
        out.append(torch.exp(ld - ld.max()).numpy())
    return out


# --------------------------------------------------------------------------- export

class _ReadoutGraph(nn.Module):
    def __init__(self, readout: Readout) -> None:
        super().__init__()
        self.readout = readout

    def forward(self, s8: torch.Tensor, s16: torch.Tensor, feats: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
        return self.readout(s8, s16, feats, fold)


def graft_readout(trunk_path: Path, readout: Readout, out: Path) -> None:
    """Write ``out``: ``trunk_path``'s graph with its readout replaced by ``readout``
    (exported alone and joined at ``READOUT_INPUTS``); the metadata is kept."""
    import warnings

    import onnx

    readout = readout.eval()
    dummy = (torch.rand(1, 40, 32, 48), torch.rand(1, 112, 16, 24), torch.rand(1, 256, 8, 12), torch.rand(1, 1, 8, 12))
    names = ["s8", "s16", "feats", "fold"]
    axes = {n: {0: "n", 2: f"{n}_h", 3: f"{n}_w"} for n in names}
    axes["readout"] = {0: "n", 2: "h16", 3: "w16"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_ReadoutGraph(readout), dummy, buf, dynamo=False, opset_version=17,
                          input_names=names, output_names=["readout"], dynamic_axes=axes)
    part = onnx.load_from_string(buf.getvalue())
    part = onnx.compose.add_prefix(part, "readout_v2/", rename_inputs=False, rename_outputs=False)
    rename = {n: READOUT_INPUTS[n] for n in names}
    for node in part.graph.node:
        for k, name in enumerate(node.input):
            if name in rename:
                node.input[k] = rename[name]
    trunk = onnx.load(str(trunk_path))
    g = trunk.graph
    keep = _needed_nodes(g, ["logits", "msroi", *(READOUT_INPUTS[k] for k in ("s8", "s16", "feats"))])
    kept = [n for i, n in enumerate(g.node) if i in keep]
    # Only the kept trunk's own initializers: a trunk that was grafted before holds the old
    # readout's, under the same names as the new one's.
    used = {i for n in kept for i in n.input}
    nodes = kept + list(part.graph.node)
    inits = [t for t in g.initializer if t.name in used] + list(part.graph.initializer)
    outputs = [o for o in g.output if o.name in ("logits", "msroi")] + list(part.graph.output)
    graph = onnx.helper.make_graph(nodes, g.name, list(g.input), outputs, inits)
    model = onnx.helper.make_model(graph, opset_imports=list(trunk.opset_import), ir_version=trunk.ir_version)
    model.metadata_props.extend(trunk.metadata_props)
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))


def readout_summary(ro: Readout) -> dict[str, float]:
    return {"centre_weight": ro.centre_weight.item(), "centre_sigma_x": float(ro.centre_sigma[0]),
            "centre_sigma_y": float(ro.centre_sigma[1])}


def uniform_nll(h: int, w: int) -> float:
    return math.log(h * w)
