"""Every ``semantic_*`` keyword in one place: names, defaults and validation.

Pillow passes unknown save keywords through silently, so a misspelt option would quietly
give a plain JPEG; here every name is checked and every value validated before any work.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

#: Methods that turn an image and a map into one JPEG.  "dct" quantizes in the DCT domain
#: (measured better at equal bytes); "blend" is the paper's pixel blending; "auto" is dct
#: unless the call needs blend (a selection rule was given, CMYK, smoothing, or a JPEG
#: streamtype: the DCT path does not implement the last three).
METHODS = ("auto", "dct", "blend")
#: The paper's selection rules (rule 3, deciles, is its default).
RULES = (1, 2, 3, 4, 5, 6)

DEFAULT_QUALITY = 75  # Pillow's own default JPEG quality
DEFAULT_RULE = 3
DEFAULT_SLACK = 0.0
DEFAULT_METHOD = "auto"
MAX_SLACK = 10.0

#: JPEG options that Pillow's JPEG writer understands and that ``encode()`` passes through.
JPEG_OPTIONS = frozenset(
    {
        "subsampling",
        "optimize",
        "progressive",
        "progression",
        "exif",
        "icc_profile",
        "dpi",
        "comment",
        "restart_marker_blocks",
        "restart_marker_rows",
        "smooth",
        "keep_rgb",
        "xmp",
        "streamtype",
        "extra",
    }
)

#: The save keywords this package adds to Pillow.
SEMANTIC_KEYWORDS = (
    "semantic",
    "semantic_map",
    "semantic_rule",
    "semantic_slack",
    "semantic_method",
)


@dataclass(frozen=True)
class SemanticOptions:
    """Validated options of one semantic encode."""

    quality: int | str = DEFAULT_QUALITY  # 1..100, or "keep" (a JPEG source's own tables)
    rule: int | None = None  # None: not given (blend then uses DEFAULT_RULE)
    slack: float = DEFAULT_SLACK
    method: str = DEFAULT_METHOD

    def resolve(self, mode: str, jpeg: dict[str, Any]) -> SemanticOptions:
        """Options with "auto" replaced by the method that will run and the rule filled in."""
        method = self.method
        if method == "auto":
            method = "blend" if self.rule is not None or dct_unsupported(mode, jpeg) else "dct"
        if method == "dct" and self.rule is not None:
            msg = "semantic_rule selects the blend's quality layers; method='dct' has none: drop the rule or use method='blend'"
            raise ValueError(msg)
        rule = (DEFAULT_RULE if self.rule is None else self.rule) if method == "blend" else None
        return SemanticOptions(self.quality, rule, self.slack, method)


def dct_unsupported(mode: str, jpeg: dict[str, Any]) -> str | None:
    """Why ``method="dct"`` cannot make this file (an error message), or None if it can.

    The one list of what the DCT path lacks: "auto" falls back to the blend on it, and an
    explicit "dct" raises it.
    """
    if mode == "CMYK":
        return "method='dct' does not support CMYK images; use method='blend'"
    if jpeg.get("streamtype"):
        return "method='dct' writes complete JPEG files only (no streamtype); use method='blend'"
    if jpeg.get("smooth"):
        return "method='dct' does not smooth (smooth=); use method='blend' or drop smooth"
    return None


#: Pillow's subsampling names -> its numbers (4:1:1 is written as 4:2:0, as Pillow does).
SUBSAMPLING_NAMES = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2, "4:1:1": 2}


def check_quality(quality: Any, name: str = "quality") -> int | str:
    """An integer 1..100, or "keep" (checked against the image later: it needs a JPEG source)."""
    if quality == "keep":
        return "keep"
    if isinstance(quality, str):
        msg = f"{name}={quality!r}: quality presets are not supported with semantic encoding; pass an integer 1..100 or 'keep'"
        raise ValueError(msg)
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral):
        msg = f"{name} must be an integer 1..100, got {type(quality).__name__}"
        raise TypeError(msg)
    if not 1 <= quality <= 100:
        msg = f"{name} must be in 1..100, got {quality}"
        raise ValueError(msg)
    return int(quality)


def check_rule(rule: Any, name: str = "semantic_rule") -> int | None:
    if rule is None:
        return None
    if isinstance(rule, bool) or not isinstance(rule, numbers.Integral):
        msg = f"{name} must be an integer 1..6, got {type(rule).__name__}"
        raise TypeError(msg)
    if rule not in RULES:
        msg = f"{name} must be one of 1..6 (the paper's selection rules), got {rule}"
        raise ValueError(msg)
    return int(rule)


def check_slack(slack: Any, name: str = "semantic_slack") -> float:
    if isinstance(slack, bool) or not isinstance(slack, numbers.Real):
        msg = f"{name} must be a number (0.01 allows 1 % more bytes than plain JPEG), got {type(slack).__name__}"
        raise TypeError(msg)
    value = float(slack)
    if not math.isfinite(value) or not 0.0 <= value <= MAX_SLACK:
        msg = f"{name} must be between 0 and {MAX_SLACK:g} (a fraction of the plain JPEG size), got {slack!r}"
        raise ValueError(msg)
    return value


def check_method(method: Any, name: str = "semantic_method") -> str:
    if not isinstance(method, str):
        msg = f"{name} must be a string, one of {', '.join(METHODS)}; got {type(method).__name__}"
        raise TypeError(msg)
    if method not in METHODS:
        msg = f"{name} must be one of {', '.join(repr(m) for m in METHODS)}, got {method!r}"
        raise ValueError(msg)
    return method


def check_jpeg_options(options: dict[str, Any]) -> dict[str, Any]:
    """Reject options that cannot work on a re-quantized image; resolve nothing else."""
    if options.get("qtables") is not None:
        msg = "qtables cannot be combined with semantic encoding, which chooses the quality itself; drop qtables"
        raise ValueError(msg)
    subsampling = options.get("subsampling", -1)
    valid = (*SUBSAMPLING_NAMES, "keep") if isinstance(subsampling, str) else (-1, 0, 1, 2)
    if subsampling not in valid:
        msg = f"subsampling must be 0, 1, 2, '4:4:4', '4:2:2', '4:2:0' or 'keep', got {subsampling!r}"
        raise ValueError(msg)
    return options


def _check_names(info: dict[str, Any]) -> None:
    unknown = sorted(k for k in info if k.startswith("semantic_") and k not in SEMANTIC_KEYWORDS)
    if unknown:
        msg = (
            f"unknown keyword {unknown[0]!r} for semantic JPEG saving; "
            f"valid keywords are {', '.join(SEMANTIC_KEYWORDS)}"
        )
        raise TypeError(msg)


def from_encoderinfo(info: dict[str, Any]) -> tuple[SemanticOptions, Any, dict[str, Any]]:
    """Split Pillow's ``encoderinfo`` into semantic options, the map and plain JPEG options."""
    _check_names(info)
    options = SemanticOptions(
        quality=check_quality(info.get("quality", DEFAULT_QUALITY)),
        rule=check_rule(info.get("semantic_rule")),
        slack=check_slack(info.get("semantic_slack", DEFAULT_SLACK)),
        method=check_method(info.get("semantic_method", DEFAULT_METHOD)),
    )
    jpeg = {k: v for k, v in info.items() if k not in SEMANTIC_KEYWORDS and k != "quality"}
    return options, info.get("semantic_map"), check_jpeg_options(jpeg)


def semantic_requested(info: dict[str, Any]) -> bool:
    """Whether a save asks for semantic encoding; ``semantic_*`` options alone are an error."""
    _check_names(info)
    flag = info.get("semantic", False)
    if flag is None:
        flag = False
    if not isinstance(flag, bool):
        msg = f"semantic must be True or False, got {type(flag).__name__}"
        raise TypeError(msg)
    if not flag:
        stray = sorted(k for k in info if k.startswith("semantic_"))
        if stray:
            msg = f"{stray[0]} has no effect without semantic=True; pass semantic=True to encode semantically"
            raise ValueError(msg)
    return flag
