"""pillow-msroi: content-aware JPEG for Pillow.

``import pillow_msroi`` registers the save hook, so ``img.save("x.jpg", semantic=True)``
spends the bytes where the region-of-interest map is high and still writes one standard
baseline JPEG.  ``encode()`` does the same for bytes.
"""

__version__ = "0.1.0"

from ._api import encode, encode_details
from ._encoded import Encoded
from ._plugin import is_registered, register, unregister
from ._roi import encoding_map, roi_map  # onnxruntime itself is imported on the first call

__all__ = [
    "Encoded",
    "__version__",
    "encode",
    "encode_details",
    "encoding_map",
    "is_registered",
    "register",
    "roi_map",
    "unregister",
]


register()
