"""Training recipe for the bundled MSROI model (needs torch; never imported at run time).

Reproduce the shipped model with::

    python -m pillow_msroi.training --shared ../shared --out models/
"""
