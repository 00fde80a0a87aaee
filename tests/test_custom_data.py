"""Your own images: folder:, csv: and npz: sources built in a temporary folder, every bad case
refused in one line before anything is written, the cache, and runs end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cifarbench import cli
from cifarbench.data.custom import Options, load_custom
from cifarbench.data.sources import SOURCES
from cifarbench.data.sources import base as sources_base
from cifarbench.errors import ConfigError, DataError
from conftest import needs_extra

FASHION = Path("/usr/share/datasets/fashion-mnist")


def write_images(folder: Path, classes=("cat", "dog"), n=6, size=(20, 24), mode="RGB", seed=0) -> dict:
    """n random images per class in folder/<class>/; {path: pixels}."""
    rng = np.random.default_rng(seed)
    written = {}
    for cls in classes:
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            path = folder / cls / f"{i:03d}.png"
            Image.fromarray(pixels, mode).save(path)
            written[path] = pixels
    return written


def load(name: str, tmp_path: Path, **options):
    return load_custom(name, Options(**options), tmp_path / "cache")


def test_a_folder_without_splits_is_split_per_class_resized_and_cached(tmp_path, monkeypatch):
    write_images(tmp_path / "imgs", n=10, size=(20, 28))
    ds = load(f"folder:{tmp_path / 'imgs'}", tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.name == "folder-imgs"
    assert ds.train.images.shape == (16, 3, 24, 24) and ds.test.images.shape == (4, 3, 24, 24)  # median 24
    assert ds.train.images.dtype == torch.uint8 and sorted(ds.test.labels.tolist()) == [0, 0, 1, 1]
    source = ds.files[0]
    assert source["images_per_class"] == {"train": {"cat": 8, "dog": 8}, "test": {"cat": 2, "dog": 2}}
    assert source["resize"]["side"] == 24 and source["resize"]["mode"] == "RGB" and source["skipped"] == 0
    # the same split every time: drawn again from the files with the cache gone, not read back from it
    import shutil

    shutil.rmtree(Path(ds.location).parent)
    decoded = []
    real_decode = sources_base.decode
    monkeypatch.setattr(sources_base, "decode", lambda *a: decoded.append(a) or real_decode(*a))
    again_split = load(f"folder:{tmp_path / 'imgs'}", tmp_path)
    assert decoded and Path(again_split.location).is_file()
    assert torch.equal(again_split.test.images, ds.test.images) and torch.equal(again_split.train.labels,
                                                                                ds.train.labels)
    monkeypatch.setattr(sources_base, "decode", lambda *a: pytest.fail("decoded again instead of read from the cache"))
    cached = load(f"folder:{tmp_path / 'imgs'}", tmp_path)
    assert torch.equal(cached.train.images, ds.train.images) and cached.location.endswith(".pt")


def test_the_cache_is_rebuilt_when_a_file_changes(tmp_path):
    write_images(tmp_path / "imgs", n=4)
    first = load(f"folder:{tmp_path / 'imgs'}", tmp_path)
    Image.fromarray(np.zeros((24, 20, 3), np.uint8)).save(tmp_path / "imgs" / "dog" / "extra.png")
    second = load(f"folder:{tmp_path / 'imgs'}", tmp_path)
    assert len(second.train) + len(second.test) == len(first.train) + len(first.test) + 1
    assert second.files[0]["digest"] != first.files[0]["digest"]


def test_train_and_test_folders_and_grayscale_at_a_chosen_size(tmp_path):
    pixels = write_images(tmp_path / "d" / "train", classes=("a", "b", "c"), n=3, size=(16, 16), mode="L")
    write_images(tmp_path / "d" / "test", classes=("a", "b", "c"), n=2, size=(16, 16), mode="L", seed=1)
    ds = load(f"folder:{tmp_path / 'd'}", tmp_path)
    assert ds.train.images.shape == (9, 1, 16, 16) and ds.test.images.shape == (6, 1, 16, 16)
    first = next(iter(pixels.values()))
    assert torch.equal(ds.train.images[0, 0], torch.from_numpy(first))  # no resize: the same pixels
    resized = load(f"folder:{tmp_path / 'd'}", tmp_path, image_size=8)
    assert resized.train.images.shape == (9, 1, 8, 8)


def test_mixed_grayscale_and_colour_becomes_rgb(tmp_path):
    write_images(tmp_path / "m", classes=("a",), n=2, mode="L")
    write_images(tmp_path / "m", classes=("b",), n=2, mode="RGB")
    assert load(f"folder:{tmp_path / 'm'}", tmp_path).train.images.shape[1] == 3


@pytest.mark.parametrize("break_it, message", [
    (lambda d: (d / "cat" / "notes.txt").write_text("hello"), "1 bad file, the first {d}/cat/notes.txt (not an image"),
    (lambda d: (d / "dog" / "003.png").write_bytes((d / "dog" / "003.png").read_bytes()[:60]),
     "1 bad file, the first {d}/dog/003.png (OSError"),
    (lambda d: [(d / "cat" / f"bad{i}.jpg").write_bytes(b"not a jpeg") for i in range(3)],
     "3 bad files, the first {d}/cat/bad0.jpg"),
    (lambda d: (d / "bird").mkdir(), "class folder {d}/bird has no images"),
])
def test_bad_files_are_one_line_naming_the_file_and_nothing_is_written(tmp_path, break_it, message):
    d = tmp_path / "imgs"
    write_images(d, n=4)
    break_it(d)
    with pytest.raises(DataError) as caught:
        load(f"folder:{d}", tmp_path)
    text = str(caught.value)
    assert message.format(d=d) in text and len(text.splitlines()) == 1, text
    assert not (d / ".cifarbench-cache").exists() and not (tmp_path / "cache").exists()


def test_skip_bad_skips_counts_and_lists_them(tmp_path):
    d = tmp_path / "imgs"
    write_images(d, n=4)
    (d / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    ds = load(f"folder:{d}", tmp_path, skip_bad=True)
    assert len(ds.train) + len(ds.test) == 8
    assert ds.files[0]["skipped"] == 1 and "broken.png" in ds.files[0]["skipped_files"][0]


def test_a_decompression_bomb_is_refused(tmp_path, monkeypatch):
    d = tmp_path / "imgs"
    write_images(d, n=3, size=(64, 64))
    monkeypatch.setattr(sources_base, "MAX_PIXELS", 1000)  # 64x64 is then a bomb (Pillow refuses past twice the limit)
    with pytest.raises(DataError, match="DecompressionBomb"):
        load(f"folder:{d}", tmp_path)


def test_split_problems_are_named(tmp_path):
    one = tmp_path / "one"
    write_images(one, n=3)
    for f in list((one / "dog").iterdir())[1:]:
        f.unlink()
    with pytest.raises(DataError, match="class 'dog' has 1 image; a class needs at least 2"):
        load(f"folder:{one}", tmp_path)
    uneven = tmp_path / "uneven"
    write_images(uneven / "train", classes=("a", "b"), n=2)
    write_images(uneven / "test", classes=("a",), n=2)
    with pytest.raises(DataError, match="class 'b' is in one of"):
        load(f"folder:{uneven}", tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load(f"folder:{tmp_path / 'nowhere'}", tmp_path)


def test_a_csv_of_paths_labels_and_splits(tmp_path):
    pixels = write_images(tmp_path / "pics", n=3)
    rows = ["file,kind,part"] + [f"pics/{p.parent.name}/{p.name},{p.parent.name},{'test' if p.stem == '002' else 'train'}"
                                 for p in pixels]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    ds = load(f"csv:{tmp_path / 'list.csv'}", tmp_path, path_column="file", label_column="kind", split_column="part")
    assert len(ds.train) == 4 and len(ds.test) == 2 and ds.classes == ["cat", "dog"]
    with pytest.raises(DataError, match="has no column 'path'"):
        load(f"csv:{tmp_path / 'list.csv'}", tmp_path)
    (tmp_path / "missing.csv").write_text("path,label\npics/cat/000.png,cat\npics/cat/gone.png,cat\n"
                                          "pics/dog/000.png,dog\n")
    with pytest.raises(DataError, match=r"1 bad file, the first .*gone.png \(line 3: no such file\)"):
        load(f"csv:{tmp_path / 'missing.csv'}", tmp_path)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "NHW"])
def test_numpy_arrays_in_any_layout(tmp_path, layout):
    rng = np.random.default_rng(0)
    nchw = rng.integers(0, 256, (10, 1 if layout == "NHW" else 3, 8, 8), dtype=np.uint8)
    stored = {"NHWC": nchw.transpose(0, 2, 3, 1), "NCHW": nchw, "NHW": nchw[:, 0]}[layout]
    labels = np.arange(10) % 2
    np.savez(tmp_path / "d.npz", train_images=stored[:6], train_labels=labels[:6], test_images=stored[6:],
             test_labels=labels[6:], classes=np.array(["even", "odd"]))
    ds = load(f"npz:{tmp_path / 'd.npz'}", tmp_path)
    assert torch.equal(ds.train.images, torch.from_numpy(nchw[:6])) and ds.classes == ["even", "odd"]


@pytest.mark.parametrize("arrays, message", [
    ({"train_labels": np.zeros(5, int)}, "has 6 train_images but 5 train_labels"),
    ({"test_labels": np.array([0, 7])}, "test_labels must be integers in [0, 2)"),
    ({"train_images": np.zeros((6, 8, 8, 3), np.float32)}, "train_images are float32, not uint8"),
    ({"test_labels": np.array([0, 0])}, "class 'b' has no test images"),
    ({"test_images": np.zeros((2, 4, 4, 3), np.uint8)}, "train images are (3, 8, 8), test images (3, 4, 4)"),
])
def test_bad_arrays_are_one_line(tmp_path, arrays, message):
    values = {"train_images": np.zeros((6, 8, 8, 3), np.uint8), "train_labels": np.array([0, 1] * 3),
              "test_images": np.zeros((2, 8, 8, 3), np.uint8), "test_labels": np.array([0, 1]),
              "classes": np.array(["a", "b"]), **arrays}
    np.savez(tmp_path / "d.npz", **values)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load(f"npz:{tmp_path / 'd.npz'}", tmp_path)


def test_train_eval_and_predict_on_a_folder_end_to_end(tmp_path, capsys):
    """The whole tool on your own images: a run, its per-class report with the folder's class
    names, eval and predict naming them, and run_log recording the source."""
    from cifarbench.cli import main

    d = tmp_path / "shapes"
    write_images(d, classes=("circle", "square", "star"), n=8, size=(16, 16))
    runs = tmp_path / "runs"
    assert main(["train", "--dataset", f"folder:{d}", "--model", "lenet-small", "--epochs", "1", "--batch-size", "8",
                 "--device", "cpu", "--quiet", "--no-plots", "--runs-dir", str(runs)]) == 0
    (run_dir,) = runs.iterdir()
    log = json.loads((run_dir / "run_log.json").read_text())
    assert log["dataset"] == "folder-shapes" and log["data_files"][0]["source"] == f"folder:{d}"
    assert log["data_files"][0]["images_per_class"]["test"] == {"circle": 2, "square": 2, "star": 2}
    assert set(log["per_class_accuracy"]) == {"circle", "square", "star"}
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == ["circle", "square", "star"]
    assert main(["predict", str(run_dir), str(d / "star" / "000.png"), "--top-k", "3", "--device", "cpu"]) == 0
    line = capsys.readouterr().out
    assert all(name in line for name in ("circle", "square", "star"))
    assert main(["train", "--dataset", f"folder:{tmp_path / 'none'}", "--runs-dir", str(tmp_path / "r2")]) == 2
    assert not (tmp_path / "r2").exists()


@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_written_as_pngs_decodes_to_the_same_pixels_and_trains_the_same(tmp_path):
    """The built-in Fashion-MNIST written out as PNG files in the folder: layout (a slice of it)
    decodes image for image to the same pixels, and a run on it is, loss for loss, a run on the
    built-in tensors in the folder's order (given as npz:): decoding, labels and order are right."""
    from cifarbench.api import train
    from cifarbench.data.store import load_dataset
    from cifarbench.resolve import resolve_config

    builtin = load_dataset("fashion-mnist", download=False)
    folder_of = {c: c.replace("/", "-") for c in builtin.classes}  # "T-shirt/top" cannot be a folder name
    names = sorted(folder_of.values())  # the folder's classes: its subfolders, sorted
    root = tmp_path / "fashion"
    arrays = {}
    for split, data, n in (("train", builtin.train, 2000), ("test", builtin.test, 400)):
        for i in range(n):
            path = root / split / folder_of[builtin.classes[int(data.labels[i])]] / f"{i:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(data.images[i, 0].numpy(), "L").save(path)
        label = [names.index(folder_of[builtin.classes[int(k)]]) for k in data.labels[:n]]
        order = torch.tensor(sorted(range(n), key=lambda i: (label[i], i)))  # class by class, then by file name
        arrays[f"{split}_images"] = data.images[order].numpy()
        arrays[f"{split}_labels"] = np.array(label)[order.numpy()]
    mine = load_dataset(f"folder:{root}", custom=Options(image_size=28))
    assert mine.classes == names and mine.shape == (1, 28, 28)
    for split in ("train", "test"):
        assert torch.equal(getattr(mine, split).images, torch.from_numpy(arrays[f"{split}_images"]))  # image for image
        assert getattr(mine, split).labels.tolist() == arrays[f"{split}_labels"].tolist()
    np.savez(tmp_path / "builtin.npz", classes=np.array(names), **arrays)

    settings = {"train": {"epochs": 2, "batch_size": 64, "device": "cpu", "plots": False, "threads": 1},
                "data": {"image_size": 28}, "runs_dir": str(tmp_path / "runs")}
    runs = [train(resolve_config("lenet-small-onecycle", settings, {"data": {"dataset": dataset}}), quiet=True)
            for dataset in (f"folder:{root}", f"npz:{tmp_path / 'builtin.npz'}")]
    assert [h["train_loss"] for h in runs[0].history] == [h["train_loss"] for h in runs[1].history]
    assert runs[0].metrics["accuracy"] == runs[1].metrics["accuracy"] > 0.5


def test_a_plan_on_your_own_images_says_there_is_no_frontier(tmp_path):
    """No frontier exists for new data: a budget is planned from calibration on a default
    schedule, a target refused with the reason."""
    from cifarbench.planner.calibrate import Timing
    from cifarbench.planner.plan import make_plan

    write_images(tmp_path / "imgs", n=5, size=(16, 16))
    layers = {"data": {"dataset": f"folder:{tmp_path / 'imgs'}"}, "train": {"batch_size": 4}}

    def timer(config, shape, classes):
        assert shape == (3, 16, 16) and classes == 2
        return Timing(step_seconds=0.01, image_view_seconds=0.0, init_seconds=0.0, seconds=0.1)

    made_up = {"timer": timer, "end_timer": lambda plots, classes: 0.0, "clock": lambda: 0.1}
    plan = make_plan(layers, budget_s=2.0, **made_up)
    assert plan.frontier_kind == "none" and plan.chosen.accuracy is None and plan.chosen.epochs > 1
    with pytest.raises(ConfigError, match=f"no frontier for 'folder:{tmp_path / 'imgs'}'"):
        make_plan(layers, target=0.9, **made_up)


@pytest.mark.parametrize("form", ["csv", "npz"])
def test_train_and_export_on_a_csv_and_on_arrays(form, tmp_path, capsys):
    """The other two forms through the whole run, and an export that carries their class names."""
    from safetensors import safe_open

    from cifarbench.cli import main

    pixels = write_images(tmp_path / "pics", classes=("ant", "bee"), n=6, size=(32, 32))
    if form == "csv":
        rows = ["path,label"] + [f"pics/{p.parent.name}/{p.name},{p.parent.name}" for p in pixels]
        (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
        dataset = f"csv:{tmp_path / 'list.csv'}"
    else:
        images = np.stack(list(pixels.values()))  # NHWC
        labels = np.array([0 if p.parent.name == "ant" else 1 for p in pixels])
        np.savez(tmp_path / "d.npz", train_images=images[::2], train_labels=labels[::2], test_images=images[1::2],
                 test_labels=labels[1::2], classes=np.array(["ant", "bee"]))
        dataset = f"npz:{tmp_path / 'd.npz'}"
    runs = tmp_path / "runs"
    assert main(["train", "--dataset", dataset, "--model", "lenet-small", "--epochs", "1", "--batch-size", "4",
                 "--device", "cpu", "--quiet", "--no-plots", "--runs-dir", str(runs)]) == 0
    (run_dir,) = runs.iterdir()
    out = tmp_path / "model.safetensors"
    assert main(["export", str(run_dir), "--format", "safetensors", "-o", str(out)]) == 0
    with safe_open(str(out), framework="pt") as f:
        meta = json.loads(f.metadata()["cifarbench"])
    assert meta["data"]["classes"] == ["ant", "bee"] and meta["data"]["shape"] == [3, 32, 32]
    # a net too deep for the images is one line naming the shape, before a run folder exists
    capsys.readouterr()
    assert main(["train", "--dataset", dataset, "--model", "lenet-small", "--set", "data.image_size=8",
                 "--batch-size", "4", "--device", "cpu", "--runs-dir", str(tmp_path / "small")]) == 2
    err = capsys.readouterr().err
    expected = ("model 'lenet-small' cannot take 3x8x8 images" if form == "csv"
                else "holds 32x32 images, used as stored: data.image_size 8 does not apply")
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "small").exists()


def test_tune_ablate_and_mlx_take_your_own_images(tmp_path, capsys):
    """The commands past train on a folder of images: a tune study whose trials train on a
    validation part of the folder's training images (the test split sealed) and whose best.yaml
    names the folder, an ablation row per trick, and an MLX run reporting the folder's classes."""
    needs_extra("tune", "optuna")
    needs_extra("mlx", "mlx.core")
    import yaml

    from cifarbench.cli import main

    d = tmp_path / "sprites"
    write_images(d, classes=("ship", "frog", "bird"), n=12, size=(16, 16), mode="L")
    tiny = ["--dataset", f"folder:{d}", "--model", "airbench-tiny", "--batch-size", "8", "--set",
            "train.eval_batch_size=16", "--set", "hardware.channels_last=false", "--device", "cpu", "--quiet"]
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"optim.lr": {"low": 1.0, "high": 8.0, "log": True}, "train.epochs": [1]}))
    assert main(["tune", "--recipe", "airbench94", *tiny, "--space", str(space), "--trials", "2",
                 "--runs-dir", str(tmp_path / "tune")]) == 0
    (study,) = (tmp_path / "tune").iterdir()
    trials = json.loads((study / "trials.json").read_text())["trials"]
    assert len(trials) == 2 and all(t["val_accuracy"] is not None for t in trials)
    assert yaml.safe_load((study / "best.yaml").read_text())["data"]["dataset"] == f"folder:{d}"
    trial_log = json.loads(next((study / "trials").rglob("run_log.json")).read_text())
    assert trial_log["dataset"] == "folder-sprites" and "test_accuracy" not in trial_log

    assert main(["ablate", "--recipe", "airbench94", *tiny, "--epochs", "1", "--seeds", "1",
                 "--runs-dir", str(tmp_path / "ablate")]) == 0
    (folder,) = (tmp_path / "ablate").iterdir()
    result = json.loads((folder / "bench.json").read_text())
    assert len(result["rows"]) == len(result["tricks"]) + 1 and len(result["tricks"]) > 3

    assert main(["train", "--dataset", f"folder:{d}", "--recipe", "small-resnet-adamw", "--framework", "mlx",
                 "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--quiet", "--no-plots",
                 "--runs-dir", str(tmp_path / "mlx")]) == 0
    (run_dir,) = (tmp_path / "mlx").iterdir()
    log = json.loads((run_dir / "run_log.json").read_text())
    assert log["framework"] == "mlx" and set(log["per_class_accuracy"]) == {"ship", "frog", "bird"}
    assert "ship" in (run_dir / "classification_report.txt").read_text()


# ---------------------------------------------------------------- every registered source, in a loop
# Each source has an example here of a broken file and of a one-class dataset; a source registered
# without them fails test_every_source_has_its_examples, so none joins the registry untested.


def broken_folder(tmp_path: Path) -> tuple[Path, str]:
    write_images(tmp_path / "imgs", n=3)
    (tmp_path / "imgs" / "dog" / "001.png").write_bytes(b"not a png")
    return tmp_path / "imgs", r"1 bad file, the first .*001.png \(UnidentifiedImageError"


def broken_csv(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "list.csv").write_text("path,label\ngone/a.png,cat\ngone/b.png,dog\ngone/c.png,dog\n")
    return tmp_path / "list.csv", r"lists no readable image: 3 rows refused, the first .*a.png \(line 2: no such file\)"


def broken_npz(tmp_path: Path) -> tuple[Path, str]:
    images = np.zeros((4, 8, 8), np.float32)  # pixels must be uint8
    np.savez(tmp_path / "d.npz", train_images=images, train_labels=np.array([0, 1, 0, 1]), test_images=images,
             test_labels=np.array([0, 1, 0, 1]))
    return tmp_path / "d.npz", "train_images are float32, not uint8"


def one_class_folder(tmp_path: Path) -> Path:
    write_images(tmp_path / "imgs", classes=("cat",), n=5)
    return tmp_path / "imgs"


def one_class_csv(tmp_path: Path) -> Path:
    pixels = write_images(tmp_path / "pics", classes=("cat",), n=5)
    (tmp_path / "list.csv").write_text("path,label\n" + "".join(f"{p.relative_to(tmp_path)},cat\n" for p in pixels))
    return tmp_path / "list.csv"


def one_class_npz(tmp_path: Path) -> Path:
    images = np.zeros((5, 8, 8), np.uint8)
    np.savez(tmp_path / "d.npz", train_images=images, train_labels=np.zeros(5, np.int64), test_images=images,
             test_labels=np.zeros(5, np.int64), classes=np.array(["cat"]))
    return tmp_path / "d.npz"


BROKEN = {"folder": broken_folder, "csv": broken_csv, "npz": broken_npz}
ONE_CLASS = {"folder": one_class_folder, "csv": one_class_csv, "npz": one_class_npz}


def test_every_source_has_its_examples():
    assert set(SOURCES) == set(BROKEN) == set(ONE_CLASS), "give each registered source a broken and a one-class example"


@pytest.mark.parametrize("kind", SOURCES.names())
def test_every_source_refuses_a_broken_file_in_one_line_writing_nothing(kind, tmp_path, capsys):
    where, message = BROKEN[kind](tmp_path)
    runs = tmp_path / "runs"
    code = cli.main(["train", "--dataset", f"{kind}:{where}", "--runs-dir", str(runs), "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("kind", SOURCES.names())
def test_every_source_refuses_one_class_for_having_one_class(kind, tmp_path, capsys):
    """Not for the batch size, nor for a split: a classifier of one class is what is wrong."""
    where = ONE_CLASS[kind](tmp_path)
    code = cli.main(["train", "--dataset", f"{kind}:{where}", "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "has 1 class ('cat')" in err and "needs at least 2" in err, err


def test_an_unknown_source_kind_is_not_own_images(tmp_path, capsys):
    assert cli.main(["train", "--dataset", f"tiff:{tmp_path}", "--runs-dir", str(tmp_path)]) == 2
    assert "data.dataset 'tiff:" in capsys.readouterr().err
