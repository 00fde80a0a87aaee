import pytest
import torch

from cifarbench.config import Augment
from cifarbench.data.dataset import Split
from cifarbench.data.loader import DeviceLoader, random_crop
from cifarbench.errors import ConfigError


def split(n=64, c=3, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, c, size, size), dtype=torch.uint8, generator=g),
                 torch.arange(n) % 10)


def loader(s, **kw):
    kw.setdefault("batch_size", 16)
    return DeviceLoader(s, mean=(0.5,) * s.images.shape[1], std=(0.25,) * s.images.shape[1], **kw)


def test_batches_are_normalised_and_cover_the_split_once():
    s = split()
    dl = loader(s)
    xs, ys = zip(*dl.epoch(0))
    assert [len(y) for y in ys] == [16] * 4
    assert sorted(torch.cat(ys).tolist()) == sorted(s.labels.tolist())
    x, y = next(loader(s, shuffle=False).epoch(0))
    assert torch.allclose(x, (s.images[:16].float() / 255 - 0.5) / 0.25, atol=1e-5)


def test_epochs_are_reproducible_and_differ_from_each_other():
    s = split()
    a = [y for _, y in loader(s, seed=1).epoch(3)]
    b = [y for _, y in loader(s, seed=1).epoch(3)]
    c = [y for _, y in loader(s, seed=1).epoch(4)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not all(torch.equal(p, q) for p, q in zip(a, c))


def test_resuming_mid_epoch_yields_the_remaining_batches():
    s = split()
    full = list(loader(s, augment=Augment(flip="random", crop_padding=2), seed=5).epoch(2))
    tail = list(loader(s, augment=Augment(flip="random", crop_padding=2), seed=5).epoch(2, start_batch=2))
    assert len(tail) == 2
    assert all(torch.equal(p[0], q[0]) for p, q in zip(full[2:], tail))


def test_alternating_flip_flips_each_image_once_per_pair_of_epochs():
    s = split(n=32)
    dl = loader(s, batch_size=32, shuffle=False, augment=Augment(flip="alternating"))
    plain = dl.normalise(s.images)
    for first in (0, 2):
        x0, _ = next(dl.epoch(first))
        x1, _ = next(dl.epoch(first + 1))
        flipped0 = torch.tensor([torch.equal(x0[i], plain[i].flip(-1)) and not torch.equal(x0[i], plain[i])
                                for i in range(32)])
        flipped1 = torch.tensor([torch.equal(x1[i], plain[i].flip(-1)) and not torch.equal(x1[i], plain[i])
                                for i in range(32)])
        assert torch.all(flipped0 ^ flipped1)  # exactly one of the two epochs flips each image
        assert 0 < int(flipped0.sum()) < 32  # the first epoch's choice is random per image


def test_random_crop_matches_a_manual_crop():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    shifts = torch.tensor([[0, 0], [2, 1]])
    out = random_crop(x, 1, shifts, "zeros")
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    assert torch.equal(out[0], padded[0, :, 0:4, 0:4])
    assert torch.equal(out[1], padded[1, :, 2:6, 1:5])
    reflect = random_crop(x, 1, shifts, "reflect")
    assert torch.equal(reflect[1], torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")[1, :, 2:6, 1:5])


def test_crop_keeps_shape_and_centre_crop_is_identity():
    s = split()
    dl = loader(s, shuffle=False, augment=Augment(crop_padding=4))
    x, _ = next(dl.epoch(0))
    assert x.shape == (16, 3, 8, 8)
    centre = random_crop(dl.normalise(s.images[:4]), 4, torch.full((4, 2), 4), "zeros")
    assert torch.equal(centre, dl.normalise(s.images[:4]))


def test_rotation_keeps_shape_and_zero_angle_is_identity():
    from cifarbench.data.loader import rotate

    x = torch.randn(3, 1, 8, 8)
    assert torch.allclose(rotate(x, torch.zeros(3)), x, atol=1e-5)
    dl = loader(split(c=1), augment=Augment(rotate_degrees=10))
    assert next(dl.epoch(0))[0].shape == (16, 1, 8, 8)


def test_ranks_see_disjoint_shards_covering_the_data():
    s = split(n=40)
    seen = []
    for rank in range(2):
        dl = loader(s, batch_size=5, rank=rank, world_size=2, seed=9)
        seen.append(torch.cat([y for _, y in dl.epoch(0)]))
    assert len(seen[0]) == len(seen[1]) == 20
    labels = dict(enumerate(s.labels.tolist()))
    assert sorted(seen[0].tolist() + seen[1].tolist()) == sorted(labels.values())


def test_drop_last_and_batch_size_checks():
    s = split(n=40)
    assert len(loader(s, batch_size=16, drop_last=True)) == 2
    assert len(loader(s, batch_size=16)) == 3
    with pytest.raises(ConfigError, match="batch_size 64 is larger than the 40 training images"):
        loader(s, batch_size=64, drop_last=True)
    with pytest.raises(ConfigError, match="augment.flip 'sometimes' is not one of none, random, alternating"):
        Augment(flip="sometimes")


def test_channels_last_batches():
    dl = loader(split(), channels_last=True, augment=Augment(flip="random", crop_padding=2))
    x, _ = next(dl.epoch(0))
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_cutout_zeroes_exactly_one_square_per_image():
    from cifarbench.data.loader import cutout

    x = torch.ones(2, 3, 8, 8)
    out = cutout(x, 3, torch.tensor([[0, 0], [5, 2]]))
    assert int((out[0, 0] == 0).sum()) == 9 and torch.all(out[0, :, :3, :3] == 0)
    assert torch.all(out[1, :, 5:8, 2:5] == 0) and int((out[1] == 0).sum()) == 27
    dl = loader(split(), augment=Augment(cutout=4), shuffle=False)
    assert next(dl.epoch(0))[0].shape == (16, 3, 8, 8)


@pytest.mark.parametrize("channels", [1, 3])
def test_images_decoded_as_nhwc_get_nchw_strides_and_train_batches_too(channels):
    """A 1-channel NHWC array permuted to NCHW keeps a channel stride of 1; torch calls it
    contiguous, but convolutions read it as channels_last and compute differently (an own-PNG run
    and the same arrays trained to different losses on an AVX2 CPU). A Split gives every source
    NCHW's own strides, and so every batch the loader makes from it."""
    nhwc = torch.randint(0, 256, (32, 8, 8, channels), dtype=torch.uint8)
    s = Split(nhwc.permute(0, 3, 1, 2), torch.arange(32) % 10)
    assert s.images.stride() == (channels * 64, 64, 8, 1)
    assert torch.equal(s.images, nhwc.permute(0, 3, 1, 2))
    for shuffle in (True, False):
        x, _ = next(loader(s, shuffle=shuffle).epoch(0))
        assert x.stride() == (channels * 64, 64, 8, 1)


def test_progressive_resizing_ramps_the_training_height_to_full_size_and_leaves_evaluation_alone():
    s = split(n=32, size=28)
    dl = loader(s, batch_size=32, augment=Augment(progressive_from=20, progressive_epochs=2))
    assert [dl.training_size(e) for e in range(4)] == [(20, 20), (24, 24), (28, 28), (28, 28)]
    assert [tuple(next(dl.epoch(e))[0].shape[-2:]) for e in range(3)] == [(20, 20), (24, 24), (28, 28)]
    assert next(dl.batches())[0].shape[-2:] == (28, 28)  # evaluation sees the images as they are
    # from the full-size epoch on, the batches are those of a run without progressive resizing
    plain = loader(s, batch_size=32)
    assert torch.equal(next(dl.epoch(2))[0], next(plain.epoch(2))[0])
    # a scaled batch is the full-size batch scaled: the same images in the same order
    small, full = next(dl.epoch(0))[0], next(plain.epoch(0))[0]
    scaled = torch.nn.functional.interpolate(full, size=(20, 20), mode="bilinear", antialias=True)
    assert torch.allclose(small, scaled)


def test_progressive_resizing_keeps_the_aspect_of_images_that_are_not_square():
    s = Split(torch.zeros(4, 1, 20, 40, dtype=torch.uint8), torch.arange(4))
    dl = loader(s, batch_size=4, augment=Augment(progressive_from=10, progressive_epochs=1))
    assert dl.training_size(0) == (10, 20)
    assert next(dl.epoch(0))[0].shape == (4, 1, 10, 20)


@pytest.mark.parametrize("values, message", [
    ({"progressive_from": -1}, "augment.progressive_from -1 must be >= 0"),
    ({"progressive_from": 8, "progressive_epochs": 0}, "augment.progressive_epochs 0 must be >= 1"),
])
def test_progressive_resizing_refuses_bad_settings(values, message):
    with pytest.raises(ConfigError, match=message):
        Augment(**values)


def test_progressive_resizing_from_the_full_height_or_more_is_refused_naming_the_height():
    with pytest.raises(ConfigError, match=r"augment.progressive_from 8 must be smaller than the images' height 8"):
        loader(split(size=8), augment=Augment(progressive_from=8))
