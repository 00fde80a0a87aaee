import gzip

import numpy as np
import pytest

from cifarbench.data import formats
from cifarbench.errors import DataError
from conftest import cifar_batch, idx_bytes, write_idx_gz, write_pickle


def test_idx_images_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    path = write_idx_gz(tmp_path / "train-images-idx3-ubyte.gz", images)
    out = formats.read_idx_images(path)
    assert out.shape == (7, 1, 28, 28)
    assert np.array_equal(out[:, 0], images)


def test_idx_uncompressed_file_is_read_too(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx_bytes(labels))
    assert formats.read_idx_labels(path, 10).tolist() == list(range(10))


def test_idx_wrong_magic_names_file_and_magic(tmp_path):
    raw = bytearray(idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    raw[2] = 0x0D  # float type instead of ubyte
    path = tmp_path / "bad-images.gz"
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match=r"bad-images.gz: wrong IDX magic number 0x00000d03, expected 0x00000803"):
        formats.read_idx_images(path)


def test_idx_truncated_payload(tmp_path):
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-100]
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(raw))
    with pytest.raises(DataError, match=r"short.gz: IDX header says shape \(3, 28, 28\)"):
        formats.read_idx_images(path)


def test_idx_truncated_gzip_stream(tmp_path):
    path = write_idx_gz(tmp_path / "cut.gz", np.zeros((50, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="cut.gz: cannot be read as gzip"):
        formats.read_idx_images(path)


def test_idx_labels_out_of_range(tmp_path):
    path = write_idx_gz(tmp_path / "labels.gz", np.array([0, 3, 12], np.uint8))
    with pytest.raises(DataError, match=r"labels.gz: labels out of range \[0, 12\], expected 0..9"):
        formats.read_idx_labels(path, 10)


def test_cifar_batch_parses_planes_in_order(tmp_path):
    batch = cifar_batch(4, np.random.default_rng(1), {"labels": 10})
    path = write_pickle(tmp_path / "data_batch_1", batch)
    images, (labels,) = formats.read_cifar_batch(path, ("labels",))
    assert images.shape == (4, 3, 32, 32)
    # the first 1024 bytes of a row are the red plane, row-major
    assert np.array_equal(images[2, 0].ravel(), batch[b"data"][2, :1024])
    assert np.array_equal(images[2, 2].ravel(), batch[b"data"][2, 2048:])
    assert labels.tolist() == batch[b"labels"]


def test_cifar_batch_with_wrong_shape(tmp_path):
    path = write_pickle(tmp_path / "data_batch_1", {b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4})
    with pytest.raises(DataError, match=r"data_batch_1: 'data' has shape \(4, 100\)"):
        formats.read_cifar_batch(path, ("labels",))


def test_cifar_batch_label_count_mismatch(tmp_path):
    path = write_pickle(tmp_path / "b", {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 3})
    with pytest.raises(DataError, match="4 images but 3 labels"):
        formats.read_cifar_batch(path, ("labels",))


def test_cifar_batch_truncated_pickle(tmp_path):
    path = write_pickle(tmp_path / "b", cifar_batch(4, np.random.default_rng(0), {"labels": 10}))
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match="b: not a readable CIFAR python batch"):
        formats.read_cifar_batch(path, ("labels",))
