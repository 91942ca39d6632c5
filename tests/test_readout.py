"""The fixation readout: centre prior, label smoothing, the readout-data flag, grafting (skipped without torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pillow_msroi.eval.osie import OsieImage  # noqa: E402
from pillow_msroi.training import readout as R  # noqa: E402

MODEL = Path(__file__).resolve().parent.parent / "models" / "msroi.onnx"


def test_grid_coordinates_are_cell_centres() -> None:
    u, v = R.grid_coordinates(torch.zeros(2, 3, 4, 5))
    assert u.shape == v.shape == (2, 1, 4, 5)
    torch.testing.assert_close(u[0, 0, 0], (torch.arange(5.0) + 0.5) / 5)
    torch.testing.assert_close(v[1, 0, :, 2], (torch.arange(4.0) + 0.5) / 4)


def test_centre_prior_has_its_own_weight() -> None:
    ro = R.Readout(centre_sigma=(0.2, 0.3)).eval()
    x = torch.zeros(1, 409, 9, 12)  # every cell alike: only the prior can tell them apart
    with torch.no_grad():
        ro.centre_weight.fill_(1.0)
        ld = ro.log_density(x)[0, 0]
        assert torch.exp(ld).sum().item() == pytest.approx(1.0, abs=1e-5)
        i, j = divmod(int(ld.argmax()), 12)
        assert (i, j) in {(4, 5), (4, 6)}  # the centre cells
        prior = ro.centre_prior(x)[0, 0]
        # Weight 1: the log-density is the prior (plus a constant).
        torch.testing.assert_close(ld - ld.mean(), prior - prior.mean(), rtol=1e-4, atol=1e-4)
        ro.centre_weight.fill_(0.0)
        flat = ro.log_density(x)[0, 0]
        torch.testing.assert_close(flat, torch.full_like(flat, -np.log(108.0)), rtol=1e-5, atol=1e-5)
        ro.centre_weight.fill_(2.0)
        sharp = ro.log_density(x)[0, 0]
    assert sharp.max() > ld.max()  # a heavier prior concentrates the density
    assert ro.centre_weight.requires_grad and not ro.centre_sigma.requires_grad


def _record(name: str, xs: list[int], ys: list[int], w: int = 100, h: int = 80) -> OsieImage:
    return OsieImage(name, w, h, np.array(xs, dtype=np.int64), np.array(ys, dtype=np.int64))


def test_fit_centre_sigma_is_the_rms_distance_from_the_centre() -> None:
    rec = _record("a", [49, 9], [39, 79])  # pixel centres: u = -0.005, -0.405; v = -0.00625, 0.49375
    sx, sy = R.fit_centre_sigma([rec, rec])
    assert sx == pytest.approx(np.sqrt((0.005**2 + 0.405**2) / 2))
    assert sy == pytest.approx(np.sqrt((0.00625**2 + 0.49375**2) / 2))


def test_target_density_smoothing() -> None:
    rec = _record("a", [0, 0, 99], [0, 0, 79])
    t = R.target_density(rec, 4, 5, blur=0.0, smoothing=0.0).numpy()
    assert t[0, 0] == pytest.approx(2 / 3) and t[3, 4] == pytest.approx(1 / 3) and t.sum() == pytest.approx(1)
    s = R.target_density(rec, 4, 5, blur=1.0, smoothing=0.2).numpy()
    assert s.sum() == pytest.approx(1, abs=1e-6)
    assert s.min() >= 0.2 / 20 - 1e-7  # the uniform share
    assert 0.0 < s[0, 1] and s[0, 0] < t[0, 0]  # blurred into the neighbours
    empty = R.target_density(_record("b", [], []), 4, 5, blur=1.0, smoothing=0.1).numpy()
    np.testing.assert_allclose(empty, 1 / 20, rtol=1e-6)


def _fake_set(name: str, n: int, corner: tuple[int, int], seed: int) -> R.TrainingSet:
    """Images whose fixations sit in one corner of the grid, which channel 0 of the features marks."""
    rng = np.random.default_rng(seed)
    recs, fine, coarse = [], [], []
    for k in range(n):
        a = torch.from_numpy(rng.normal(size=(152, 6, 8)).astype(np.float16))
        a[0] = -2
        a[0, corner[0], corner[1]] = 4
        fine.append(a)
        coarse.append(torch.from_numpy(rng.normal(size=(257, 3, 4)).astype(np.float16)))
        x0, y0 = corner[1] * 100 // 8 + 5, corner[0] * 80 // 6 + 5
        recs.append(_record(f"{name}{k}", [x0] * 10, [y0] * 10))
    return R.TrainingSet(name, recs, {"s384": {"fine": fine, "coarse": coarse}})


def test_readout_learns_from_the_chosen_datasets() -> None:
    a = _fake_set("osie", 6, (1, 1), 0)
    b = _fake_set("mit1003", 6, (4, 6), 1)
    cfg = R.ReadoutConfig(steps=40, batch=6, lr=1e-2, variants=("s384",), crop=0.0, smoothing=0.0, target_blur=0.0)

    def share(ro: R.Readout, s: R.TrainingSet, cell: tuple[int, int]) -> tuple[float, tuple[int, int]]:
        """The density's mass within one cell of ``cell``, and its peak."""
        m = R.readout_maps(ro, s.features["s384"]["fine"][:1], s.features["s384"]["coarse"][:1])[0]
        p = m / m.sum()
        i, j = cell
        return float(p[i - 1 : i + 2, j - 1 : j + 2].sum()), divmod(int(p.argmax()), p.shape[1])

    only_a = R.train_readout([a], cfg)
    both = R.train_readout([a, b], cfg)
    assert share(only_a, a, (1, 1))[1] == (1, 1) and share(only_a, a, (1, 1))[0] > 0.5
    # With both sets it finds each set's fixations; trained on a alone, far less of b's.
    assert share(both, a, (1, 1))[1] == (1, 1) and share(both, b, (4, 6))[1] == (4, 6)
    assert share(only_a, b, (4, 6))[0] < share(both, b, (4, 6))[0] - 0.2


def test_readout_data_flag() -> None:
    from pillow_msroi.training.train import Config, readout_datasets

    assert readout_datasets(Config(Path("."), Path("."), Path("."), readout_data="both")) == ("osie", "mit1003")
    assert readout_datasets(Config(Path("."), Path("."), Path("."), readout_data="mit1003")) == ("mit1003",)
    with pytest.raises(ValueError, match="one of osie, mit1003, both, got 'cat2000'"):
        readout_datasets(Config(Path("."), Path("."), Path("."), readout_data="cat2000"))


def test_graft_replaces_the_readout_and_keeps_the_rest(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    if not MODEL.is_file():
        pytest.skip("models/msroi.onnx not present")
    torch.manual_seed(0)
    ro = R.Readout(centre_sigma=(0.22, 0.2)).eval()
    with torch.no_grad():
        ro.centre_weight.fill_(0.7)
    out = tmp_path / "grafted.onnx"
    R.graft_readout(MODEL, ro, out)
    image = np.random.default_rng(0).uniform(0, 255, (1, 3, 96, 160)).astype(np.float32)
    old = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    new = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    o_logits, o_fold, o_map = old.run(["logits", "msroi", "readout"], {"image": image})
    n_logits, n_fold, n_map = new.run(["logits", "msroi", "readout"], {"image": image})
    np.testing.assert_allclose(n_logits, o_logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(n_fold, o_fold, rtol=1e-5, atol=1e-5)
    assert n_map.shape == o_map.shape == (1, 1, 6, 10)
    # The new map is the torch readout on the trunk's features.
    fine, coarse = R.onnx_extractor(MODEL)(image)
    expected = R.readout_maps(ro, [fine], [coarse])[0]
    np.testing.assert_allclose(n_map[0, 0], expected, rtol=2e-2, atol=2e-3)  # float16 cache
    assert new.get_modelmeta().custom_metadata_map == old.get_modelmeta().custom_metadata_map
    # A grafted file serves as a trunk again (its old readout's names are the new one's).
    again = tmp_path / "again.onnx"
    R.graft_readout(out, ro, again)
    (twice,) = ort.InferenceSession(str(again), providers=["CPUExecutionProvider"]).run(["readout"], {"image": image})
    np.testing.assert_allclose(twice, n_map, rtol=1e-6, atol=1e-7)


def test_recipe_export_names_the_readout_inputs_and_torch_features_match(tmp_path: Path) -> None:
    """The full recipe's torch path: its exported graph can serve as a --trunk, and the
    features the torch trunk caches are the ONNX trunk's."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from pillow_msroi.training import model as M
    from pillow_msroi.training import train as T

    torch.manual_seed(1)
    net, head = M.EfficientNetLite0().eval(), M.MSROIHead(num_classes=6).eval()  # the fold needs 5
    model = T.MSROINet(net, head, R.Readout()).eval()
    path = tmp_path / "msroi.onnx"
    T.export_onnx(model, path)
    image = np.random.default_rng(1).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    fine_t, coarse_t = R.torch_extractor(model)(image)
    fine_o, coarse_o = R.onnx_extractor(path)(image)
    assert fine_t.shape == fine_o.shape == (152, 4, 6) and coarse_t.shape == coarse_o.shape == (257, 2, 3)
    torch.testing.assert_close(fine_o.float(), fine_t.float(), rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(coarse_o.float(), coarse_t.float(), rtol=2e-2, atol=2e-2)
