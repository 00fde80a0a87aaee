"""Every image, checkpoint and run folder a user hands the tool, however broken or hostile, gets
one line on stderr (`cifarbench: error: ...`) and exit code 2: never a traceback, never code run."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from cifarbench.cli import main
from conftest import png_bytes


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("hostile") / "runs"
    assert main(["train", "--model", "lenet-small", "--epochs", "1", "--no-plots", "--quiet", "--runs-dir", str(runs),
                 "--dataset", "synthetic", "--set", "data.synthetic_train_size=64", "--set",
                 "data.synthetic_test_size=32", "--device", "cpu"]) == 0
    (run,) = runs.iterdir()
    return run


def refused(capsys, *argv) -> str:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cifarbench: error:"), err
    return lines[0]


# ---------------------------------------------------------------- images


def png_claiming(width: int, height: int) -> bytes:
    """A real PNG whose header says width x height (its CRC fixed up), e.g. a decompression bomb."""
    data = bytearray(png_bytes((8, 8, 3)))
    start = data.index(b"IHDR")
    data[start + 4:start + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[start:start + 17])) & 0xFFFFFFFF
    data[start + 17:start + 21] = struct.pack(">I", crc)
    return bytes(data)


BROKEN_IMAGES = {
    "empty": b"",
    "random-bytes": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    "truncated-png": png_bytes((32, 32, 3))[:60],
    "decompression-bomb": png_claiming(100_000, 100_000),
    "text": b"this is not an image\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN_IMAGES))
def test_predict_refuses_a_broken_image_in_one_line(name, good_run, tmp_path, capsys):
    image = tmp_path / f"{name}.png"
    image.write_bytes(BROKEN_IMAGES[name])
    line = refused(capsys, "predict", str(good_run), str(image), "--device", "cpu")
    assert str(image) in line


def test_predict_refuses_a_folder_or_a_missing_file(good_run, tmp_path, capsys):
    assert str(tmp_path) in refused(capsys, "predict", str(good_run), str(tmp_path), "--device", "cpu")
    assert "nothing.png" in refused(capsys, "predict", str(good_run), str(tmp_path / "nothing.png"), "--device", "cpu")


@pytest.mark.parametrize("mode", ["P", "RGBA", "I;16", "CMYK", "LA", "1"])
def test_predict_converts_odd_image_modes(mode, good_run, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / f"odd.{'tiff' if mode in ('I;16', 'CMYK') else 'png'}"
    Image.new(mode, (20, 12)).save(image)
    assert main(["predict", str(good_run), str(image), "--device", "cpu"]) == 0
    assert capsys.readouterr().out.startswith(str(image))


# ---------------------------------------------------------------- checkpoints


class RunsCode:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/cifarbench-hostile-checkpoint-ran-code")


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "not a checkpoint")
    return buffer.getvalue()


def checkpoint_cases(good: dict) -> dict[str, bytes]:
    no_shape = {**good, "data": {k: v for k, v in good["data"].items() if k != "shape"}}
    return {
        "random-bytes": bytes(np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8)),
        "empty": b"",
        "zip-not-torch": zip_bytes(),
        "a-list": torch_bytes([1, 2, 3]),
        "no-model": torch_bytes({k: v for k, v in good.items() if k != "model"}),
        "garbage-config": torch_bytes({**good, "config": "not a config"}),
        "unknown-config-key": torch_bytes({**good, "config": {**good["config"], "bogus": 1}}),
        "data-without-shape": torch_bytes(no_shape),
        "wrong-shape-type": torch_bytes({**good, "data": {**good["data"], "shape": "3x32x32"}}),
        "weights-of-another-model": torch_bytes({**good, "model_name": "resnet18"}),
        "weights-not-tensors": torch_bytes({**good, "model": {k: "x" for k in good["model"]}}),
        "unknown-model": torch_bytes({**good, "model_name": "no-such-net"}),
        "pickle-that-runs-code": pickle.dumps({"format": 1, "model": RunsCode()}),
    }


def test_every_broken_checkpoint_is_refused_in_one_line_by_every_command(good_run, tmp_path, capsys):
    good = torch.load(good_run / "checkpoints" / "last.pt", weights_only=True)
    image = tmp_path / "ok.png"
    image.write_bytes(png_bytes())
    MARKER.unlink(missing_ok=True)
    for name, content in checkpoint_cases(good).items():
        path = tmp_path / name / "last.pt"
        path.parent.mkdir()
        path.write_bytes(content)
        for argv in (["eval", str(path)], ["predict", str(path), str(image)], ["activations", str(path)]):
            line = refused(capsys, *argv, "--device", "cpu")
            assert name in line or "last.pt" in line, (name, argv, line)
    assert not MARKER.exists(), "a checkpoint ran code when it was loaded"


def test_broken_mlx_checkpoints_are_refused_in_one_line(good_run, tmp_path, capsys):
    good = torch.load(good_run / "checkpoints" / "last.pt", weights_only=True)
    meta = {k: good[k] for k in ("config", "model_name", "data")}
    arrays = io.BytesIO()
    np.savez(arrays, w=np.zeros(3, dtype=np.float32))
    cases = {
        "garbage-npz": (b"PK\x03\x04 not really", json.dumps(meta)),
        "garbage-json": (arrays.getvalue(), "{not json"),
        "json-without-data": (arrays.getvalue(), json.dumps({"model_name": "lenet-small", "config": {}})),
        "weights-missing": (arrays.getvalue(), json.dumps(meta)),
        "object-array": (b"", json.dumps(meta)),
    }
    objects = io.BytesIO()
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(buffer := io.BytesIO(), "w") as z:
        z.writestr("w.npy", objects.getvalue())
    cases["object-array"] = (buffer.getvalue(), json.dumps(meta))
    for name, (npz, meta_text) in cases.items():
        run = tmp_path / name
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "last.npz").write_bytes(npz)
        (run / "checkpoints" / "last.json").write_text(meta_text)
        refused(capsys, "eval", str(run), "--device", "cpu")
    no_meta = tmp_path / "no-meta" / "checkpoints"
    no_meta.mkdir(parents=True)
    (no_meta / "last.npz").write_bytes(arrays.getvalue())
    refused(capsys, "eval", str(no_meta.parent), "--device", "cpu")


# ---------------------------------------------------------------- run folders


@pytest.mark.parametrize("broken", ["run_log.json", "history.json", "metrics.json", "config.yaml"])
def test_run_folders_with_garbage_files_are_refused_in_one_line(broken, good_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    (run / broken).write_bytes(b"\xff\xfe{{{ not json: [yaml")
    if broken != "config.yaml":
        assert broken in refused(capsys, "plot", str(run))
    assert broken in refused(capsys, "compare", str(run), str(good_run))
    if broken == "config.yaml":
        assert broken in refused(capsys, "train", "--resume", str(run), "--quiet")


def test_valid_json_of_the_wrong_shape_is_refused_by_plot(good_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    (run / "metrics.json").write_text(json.dumps({"per_class": 3}))
    assert str(run) in refused(capsys, "plot", str(run))
    assert str(tmp_path / "nope") in refused(capsys, "plot", str(tmp_path / "nope"))
    assert str(tmp_path / "nope") in refused(capsys, "report", str(tmp_path / "nope"), "-o", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
