"""Content-aware region-of-interest maps from the bundled MSROI network.

``roi_map`` resizes an image so its longer side is about ``MAX_SIDE`` pixels
(each side a multiple of the network stride, aspect ratio kept), runs the ONNX
network fully convolutionally with onnxruntime, and bilinearly upsamples the
small map it returns to the image size. onnxruntime is imported lazily so
that importing the package stays cheap and works without it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ._maps import normalize
from ._modes import is_wide, wide_to_l
from ._stretch_cy import upsample_bilinear

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime

__all__ = ["ENCODING_GAMMA", "KINDS", "MAX_SIDE", "encoding_map", "model_path", "roi_map"]

#: Valid values of ``roi_map(kind=...)``.
KINDS: tuple[str, ...] = ("default", "msroi", "readout")
#: Longer side of the network input (the training recipe evaluates at the same size); a
#: 768x512 Kodak image maps in 21-29 ms on 2 cores (bench/test_roi_speed.py).
MAX_SIDE = 384
#: Total stride of the backbone: input sides must be multiples of it.
STRIDE = 32
MODEL_ENV = "MSROI_MODEL"
#: The encoder's map is the network's map raised to this power.  The readout is a fixation
#: density, sharply peaked (a Kodak map's mean is about 0.02), so as it is the encoder
#: favours only the peaks' few blocks; flattened, it favours the whole region people look
#: at.  Chosen on *training* images of OSIE and MIT1003 by fixation-weighted PSNR at equal
#: bytes (``bench/experiments/encoding_gamma.py``); the sweep and its table: models/README.md.
ENCODING_GAMMA = 0.2
_OUTPUTS = ("msroi", "readout")  # the model's map outputs, named as the kinds
_FALLBACK_DEFAULT = "readout"

_lock = threading.Lock()
_session: onnxruntime.InferenceSession | None = None
_session_path: Path | None = None
_default_kind: str = _FALLBACK_DEFAULT


def model_path() -> Path:
    """Where the ONNX model is looked for.

    ``$MSROI_MODEL`` wins; otherwise the copy installed inside the package,
    then the top-level ``models/`` of a source checkout. When neither exists
    the installed location is returned, so errors name where it should be.
    """
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    candidates = (here / "models" / "msroi.onnx", here.parent / "models" / "msroi.onnx")
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "roi_map() needs onnxruntime, which could not be imported "
            f"({exc}); install it with: pip install onnxruntime"
        ) from exc
    return onnxruntime


def _session_for(path: Path) -> tuple[onnxruntime.InferenceSession, str]:
    """One shared session per model path, created once under a lock, and the model's
    default kind (read together, so a concurrent model switch cannot mix them).

    The path is re-read on every call so that changing ``$MSROI_MODEL`` takes
    effect; ``InferenceSession.run`` itself is thread-safe.
    """
    global _session, _session_path, _default_kind
    with _lock:
        if _session is not None and _session_path == path:
            return _session, _default_kind
        ort = _import_onnxruntime()
        remedy = f"set {MODEL_ENV} to a valid msroi.onnx or reinstall pillow-msroi"
        if not path.is_file():
            raise OSError(f"MSROI model not found at {path}: {remedy}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # keep onnxruntime's own warnings off stderr
        # Spinning worker threads busy-wait for work; with the cores shared by the
        # encoder's own threads (or other processes) that only takes time from them.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            outputs = {o.name for o in session.get_outputs()}
            if not set(_OUTPUTS) <= outputs:
                raise ValueError(f"outputs {sorted(outputs)} lack {sorted(_OUTPUTS)}")
        except Exception as exc:
            raise OSError(f"MSROI model at {path} is corrupt or unreadable ({exc}): {remedy}") from exc
        meta = session.get_modelmeta().custom_metadata_map
        default = meta.get("default_kind", _FALLBACK_DEFAULT)
        _default_kind = default if default in _OUTPUTS else _FALLBACK_DEFAULT
        _session, _session_path = session, path
        return session, _default_kind


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB; wide integer and float modes are rescaled, not clipped."""
    if is_wide(image.mode):
        image = wide_to_l(image)
    return image if image.mode == "RGB" else image.convert("RGB")


def input_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """Network input (width, height): longer side near ``max_side``, both multiples of ``STRIDE``."""
    scale = max_side / max(width, height)
    return (
        max(STRIDE, round(width * scale / STRIDE) * STRIDE),
        max(STRIDE, round(height * scale / STRIDE) * STRIDE),
    )


def network_input(image: Image.Image, max_side: int = MAX_SIDE) -> np.ndarray:
    """RGB image -> (1, 3, h, w) float32 in 0..255, the ONNX input (normalisation is in the graph)."""
    rgb = _to_rgb(image)
    size = input_size(*rgb.size, max_side=max_side)
    if size != rgb.size:
        rgb = rgb.resize(size, Image.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)[None])


def small_map(image: Image.Image, *, kind: str = "default") -> np.ndarray:
    """The network's map at feature resolution (before upsampling), float32 2-D."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"roi_map() expects a PIL.Image.Image, got {type(image).__name__}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    session, default_kind = _session_for(model_path())
    name = default_kind if kind == "default" else kind
    (out,) = session.run([name], {"image": network_input(image)})
    return out[0, 0]


def encoding_map(image: Image.Image, *, kind: str = "default") -> np.ndarray:
    """The map ``semantic=True`` uses without ``semantic_map``: the network's small map,
    normalized to [0, 1] and raised to ``ENCODING_GAMMA``, float32 (h, w) at the network's
    resolution (the encoder stretches it to the image)."""
    # The session's output is a fresh array: normalized in place.
    small = normalize(np.asarray(small_map(image, kind=kind), dtype=np.float32), in_place=True)
    return np.power(small, np.float32(ENCODING_GAMMA), dtype=np.float32)


def roi_map(image: Image.Image, *, kind: str = "default") -> np.ndarray:
    """Importance map of ``image``: float32 (height, width) in [0, 1], higher = more important.

    ``kind``: ``"msroi"`` is the paper's top-5 class-activation fold,
    ``"readout"`` the fixation readout trained on OSIE and MIT1003, and ``"default"``
    whichever of the two scored better on the OSIE validation split (recorded
    in the model's metadata).
    """
    small = np.ascontiguousarray(small_map(image, kind=kind), dtype=np.float32)
    return normalize(upsample_bilinear(small, image.height, image.width), in_place=True)
