"""pillow_msroi.dask on a local cluster of two worker processes."""

from __future__ import annotations

import io

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
fsspec = pytest.importorskip("fsspec")

import dask_helpers  # noqa: E402  (needs distributed)
from imaging import centred_map, synthetic_rgb  # noqa: E402
from PIL import Image  # noqa: E402

import pillow_msroi  # noqa: E402
from pillow_msroi import _batch as batch
from pillow_msroi import cli  # noqa: E402
from pillow_msroi import dask as msroi_dask  # noqa: E402

MAP = centred_map(12, 8)


def _png(seed: int, size=(96, 64)) -> bytes:
    buf = io.BytesIO()
    synthetic_rgb(*size, seed=seed).save(buf, "PNG")
    return buf.getvalue()


def _serial(data: bytes, **options) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return pillow_msroi.encode(batch.jpeg_ready(im), **options)


def test_without_a_client_the_error_says_what_to_do(tmp_path):
    # First in the file: the module's cluster, once made, is the default client.
    (tmp_path / "a.png").write_bytes(_png(1))
    with pytest.raises(ValueError, match="no Dask client: pass client= or scheduler="):
        msroi_dask.compress(str(tmp_path / "a.png"), str(tmp_path / "out"), map=MAP, client=None)


@pytest.fixture(scope="module")
def client():
    dask_helpers.register()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    ) as cluster, distributed.Client(cluster) as c:
        c.register_plugin(dask_helpers.RegisterFileSystems())
        yield c


def test_memory_filesystem_byte_identical_to_serial_encode(client):
    files = {"/in/a.png": _png(1), "/in/sub/b.png": _png(2, (64, 80)), "/in/sub/c.png": _png(3), "/in/bad.png": b"\x89PNG broken"}
    dask_helpers.clear_memory()
    dask_helpers.fill_memory(files)  # here, for finding the files
    client.run(dask_helpers.clear_memory)
    client.run(dask_helpers.fill_memory, files)  # and in each worker (memory:// is per process)
    rows = msroi_dask.compress("memory://in", "memory://out", client=client, recursive=True, map=MAP, quality=60)
    assert [r.input for r in rows] == ["memory:///in/a.png", "memory:///in/bad.png", "memory:///in/sub/b.png", "memory:///in/sub/c.png"]
    by_input = {r.input: r for r in rows}
    bad = by_input.pop("memory:///in/bad.png")
    assert bad.status == "failed" and bad.error.startswith("cannot read as an image") and bad.output == "memory:///out/bad.jpg"
    assert all(r.status == "written" and r.error is None for r in by_input.values())
    written: dict[str, bytes] = {}
    for per_worker in client.run(dask_helpers.read_memory, "/out").values():
        assert not set(per_worker) & set(written)  # each file written once
        written.update(per_worker)
    assert sorted(written) == ["/out/a.jpg", "/out/sub/b.jpg", "/out/sub/c.jpg"]  # no temporary keys left
    for name in ("a", "sub/b", "sub/c"):
        expected = _serial(files[f"/in/{name}.png"], map=MAP, quality=60)
        assert written[f"/out/{name}.jpg"] == expected
        assert by_input[f"memory:///in/{name}.png"].bytes == len(expected)


def test_local_folder_with_the_network_and_a_manifest(client, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "deep").mkdir(parents=True)
    data = {"x.png": _png(4), "deep/y.png": _png(5, (80, 80)), "z.png": b"not an image"}
    for name, blob in data.items():
        (src / name).write_bytes(blob)
    manifest = tmp_path / "rows.jsonl"
    rows = msroi_dask.compress(str(src), str(out), client=client, recursive=True, manifest=str(manifest))
    assert [r.status for r in rows] == ["written", "written", "failed"]  # deep/y, x, z
    assert (out / "x.jpg").read_bytes() == _serial(data["x.png"])  # the network, in the workers
    assert (out / "deep" / "y.jpg").read_bytes() == _serial(data["deep/y.png"])
    assert not (out / "z.jpg").exists()
    with open(manifest) as fp:
        assert batch.read_manifest(fp, "jsonl") == [dict(zip(batch.MANIFEST_FIELDS, (getattr(r, f) for f in batch.MANIFEST_FIELDS))) for r in rows]
    # Run again: everything is skipped, as with the CLI.
    again = msroi_dask.compress(str(src), str(out), client=client, recursive=True)
    assert [r.status for r in again] == ["skipped", "skipped", "failed"]


def test_a_killed_worker_s_task_runs_again(client, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(4):
        (src / f"p{i}.png").write_bytes(_png(10 + i))
    rows = msroi_dask.compress(f"killonce://{src}", str(out), client=client, map=MAP)
    # Every file's first read killed the worker reading it; each ran again and succeeded.
    assert sorted(p.name for p in src.iterdir() if p.name.endswith(".killed")) == [f"p{i}.png.killed" for i in range(4)]
    assert [r.status for r in rows] == ["written"] * 4
    for i in range(4):
        assert (out / f"p{i}.jpg").read_bytes() == _serial((src / f"p{i}.png").read_bytes(), map=MAP)
    client.wait_for_workers(2)


def test_a_failed_write_is_retried_and_leaves_no_temporary_file(client, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a.png").write_bytes(_png(20))
    rows = msroi_dask.compress(str(src), f"failonce://{out}", client=client, map=MAP)
    assert [r.status for r in rows] == ["written"]
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.jpg.failed"]  # the marker: it did fail once
    assert (out / "a.jpg").read_bytes() == _serial((src / "a.png").read_bytes(), map=MAP)
    # Without retries the failure is the row's error, and still no half file.
    (src / "b.png").write_bytes(_png(21))
    rows = msroi_dask.compress(str(src), f"failonce://{out}", client=client, map=MAP, retries=0)
    assert [(r.status, r.input.endswith("b.png")) for r in rows] == [("skipped", False), ("failed", True)]
    assert "Input/output error (injected once)" in rows[1].error
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.jpg.failed", "b.jpg.failed"]


def test_cli_dask_option(client, tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a.png").write_bytes(_png(30))
    m = tmp_path / "map.png"
    Image.fromarray((MAP * 255).astype(np.uint8)).save(m)
    address = client.scheduler.address
    assert cli.main(["compress", str(src), "--out-dir", str(out), "--dask", address, "--map", str(m)]) == 0
    assert "msroi: 1 written, 0 skipped (existing), 0 failed" in capsys.readouterr().out
    assert (out / "a.jpg").read_bytes() == _serial((src / "a.png").read_bytes(), map=batch.read_map(m))
    assert cli.main(["compress", str(src), "-o", str(out / "x.jpg"), "--dask", address]) == 2
    assert "--dask writes to --out-dir" in capsys.readouterr().err


def test_writes_to_other_filesystems_are_all_or_nothing(monkeypatch):
    fs = fsspec.filesystem("memory")
    dask_helpers.clear_memory()
    storage = msroi_dask.FsspecStorage()
    storage.write("memory:///w/a.jpg", b"complete")
    assert fs.cat_file("/w/a.jpg") == b"complete" and fs.find("/w") == ["/w/a.jpg"]

    def broken_move(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(fs), "mv", broken_move)
    with pytest.raises(OSError, match="No space left"):
        storage.write("memory:///w/b.jpg", b"never seen")
    assert fs.find("/w") == ["/w/a.jpg"]  # neither b.jpg nor its temporary key


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    import dask

    (tmp_path / "a.png").write_bytes(_png(1))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = cli.main(["compress", str(tmp_path / "a.png"), "--out-dir", str(tmp_path / "out"), "--dask", "tcp://127.0.0.1:1"])
    assert code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
