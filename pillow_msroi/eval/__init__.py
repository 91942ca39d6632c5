"""Evaluation of pillow-msroi: encoders at equal bytes, maps against eye fixations.

Needs the ``bench`` extra (``pip install "pillow-msroi[bench]"``: scipy, matplotlib,
jpeglib, ssimulacra2, ...); ``import pillow_msroi`` never imports this subpackage.

==============  ===============================================================
``encoders``    the registry of encoders compared (Pillow, mozjpeg, jpegli, ours)
``maps``        maps for the benchmark: network, centred Gaussian, spectral residual
``runner``      ``msroi bench``: every encoder at equal bytes, rows to results.csv
``results``     results.csv rows, paired deltas, bootstrap intervals
``report``      summary.md and the plots
``fixations``   ``msroi bench-maps``: maps scored against eye fixations
``metrics``     image quality metrics (public: ``pillow_msroi.eval.metrics``)
``saliency``    saliency metrics (NSS, AUC-Judd, CC) and fixation densities
``osie``        the OSIE eye-tracking data set and its recorded split
``progress``    the progress line of long runs
``cli``         the ``bench`` and ``bench-maps`` subcommands of ``msroi``
==============  ===============================================================
"""


class BenchError(Exception):
    """A problem that stops a benchmark run, reported without a traceback."""
