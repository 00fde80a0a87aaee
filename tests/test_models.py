import pytest
import torch

from cifarbench.errors import ConfigError
from cifarbench.models import build_model, count_parameters, list_models

# ---- parameter counts from layer arithmetic (3x32x32 input unless said, 10 classes), written
# from the architectures as the papers and tables give them, not read off the code under test.


def conv(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


def bn(c):
    return 2 * c  # scale and shift (running statistics are buffers, not parameters)


def lenet(c1, c2, h1, h2, c_in=3, side=32, classes=10):
    # conv5 -> pool2 -> conv5 -> pool2: 32 -> 28 -> 14 -> 10 -> 5
    flat = c2 * (((side - 4) // 2 - 4) // 2) ** 2
    return conv(c_in, c1, 5) + conv(c1, c2, 5) + linear(flat, h1) + linear(h1, h2) + linear(h2, classes)


def three_conv(c_in=3, side=32, classes=10):
    # three padded 3x3 convs each followed by pool2: 32 -> 16 -> 8 -> 4
    return (conv(c_in, 32, 3) + conv(32, 64, 3) + conv(64, 128, 3) + linear(128 * (side // 8) ** 2, 512)
            + linear(512, 256) + linear(256, classes))


def mnist_net(c_in=3, side=32, classes=10):
    # pytorch/examples: conv3 32, conv3 64 (unpadded: side - 4), pool2, fc 128
    return conv(c_in, 32, 3) + conv(32, 64, 3) + linear(64 * ((side - 4) // 2) ** 2, 128) + linear(128, classes)


def conv_bn(c_in, c_out, k):
    return conv(c_in, c_out, k, bias=False) + bn(c_out)


def small_resnet(c_in=3, classes=10):
    return (conv_bn(c_in, 64, 3) + 2 * conv_bn(64, 64, 3) + conv_bn(64, 128, 3) + 2 * conv_bn(128, 128, 3)
            + linear(128 * 2 * 2, 256) + linear(256, classes))


def resnet(blocks, bottleneck, c_in=3, classes=10):
    """He et al. 2015, CIFAR form: 3x3 stem of 64, stages of 64/128/256/512, a 1x1 projection
    shortcut where the shape changes, global average pool, one linear layer."""
    expansion = 4 if bottleneck else 1
    total, channels = conv_bn(c_in, 64, 3), 64
    for stage, (width, n) in enumerate(zip((64, 128, 256, 512), blocks)):
        for j in range(n):
            stride = 2 if stage > 0 and j == 0 else 1
            out = width * expansion
            if bottleneck:
                total += conv_bn(channels, width, 1) + conv_bn(width, width, 3) + conv_bn(width, out, 1)
            else:
                total += conv_bn(channels, width, 3) + conv_bn(width, width, 3)
            if stride != 1 or channels != out:
                total += conv_bn(channels, out, 1)
            channels = out
    return total + linear(channels, classes)


def airbench(widths, residual=False, c_in=3, classes=10):
    """The airbench nets as written in the paper: a 2x2 whitening conv (2 * C * 4 filters, with
    bias), then per group conv3x3 -> BN -> conv3x3 -> BN (airbench96: a third conv + BN), BN with
    scale and shift as parameters, convs without bias, a linear head without bias."""
    total, channels = conv(c_in, 2 * c_in * 4, 2), 2 * c_in * 4
    for width in widths:
        total += conv(channels, width, 3, bias=False) + bn(width) + conv(width, width, 3, bias=False) + bn(width)
        if residual:
            total += conv(width, width, 3, bias=False) + bn(width)
        channels = width
    return total + linear(channels, classes, bias=False)


PARAMETERS = {
    "lenet-small": lenet(6, 16, 120, 84),  # the PyTorch tutorial's net: 62,006
    "lenet-large": lenet(64, 128, 512, 256),
    "cnn-3conv": three_conv(),
    "mnist-cnn": mnist_net(),
    "small-resnet": small_resnet(),
    "resnet18": resnet((2, 2, 2, 2), bottleneck=False),
    "resnet34": resnet((3, 4, 6, 3), bottleneck=False),
    "resnet50": resnet((3, 4, 6, 3), bottleneck=True),
    # ours, derived the same way; the reference nets' own counts are checked below as published facts
    "airbench94": airbench((64, 256, 256)),
    "airbench94-muon": airbench((64, 256, 256)),  # the same net; only its head's scale and init differ
    "airbench95": airbench((128, 384, 384)),
    "airbench96": airbench((128, 384, 512), residual=True),
    "airbench-small": airbench((32, 64, 128)),
    "airbench-tiny": airbench((16, 32, 64)),
    "airbench-tiny-muon": airbench((16, 32, 64)),  # airbench-tiny with the Muon head's scale and init
    "airbench-tiny-silu": airbench((16, 32, 64)),  # airbench-tiny with SiLU: activations have no parameters
}

# Published facts, not derived: the counts of the reference nets built from the airbench package
# (lib_airbench94/95/96.py), and of kuangliu/pytorch-cifar's ResNet-18 and ResNet-50 at 3x32x32.
PUBLISHED = {"airbench94": 1_972_792, "airbench95": 4_606_520, "airbench96": 9_918_776,
             "resnet18": 11_173_962, "resnet50": 23_520_842, "lenet-small": 62_006}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_derivation_agrees_with_the_published_counts(name):
    assert PARAMETERS[name] == PUBLISHED[name]


def test_every_registered_model_has_a_known_count():
    assert sorted(PARAMETERS) == list_models()


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameter_count(name):
    assert count_parameters(build_model(name, 10, 3, 32)) == PARAMETERS[name]


def test_mnist_cnn_at_its_native_shape():
    # pytorch/examples' Net at 1x28x28: 9216 -> 128 -> 10
    assert count_parameters(build_model("mnist-cnn", 10, 1, 28)) == mnist_net(c_in=1, side=28) == 1_199_882


# the largest nets only at 10 classes: the head is the only difference at 100
LARGE = ("resnet34", "resnet50", "airbench96", "airbench95")


@pytest.mark.parametrize("name, classes", [(n, c) for n in list_models() for c in (10, 100)
                                           if not (n in LARGE and c == 100)])
@pytest.mark.parametrize("shape", [(3, 32), (1, 28)])
def test_forward_backward(name, shape, classes):
    torch.manual_seed(0)
    model = build_model(name, classes, shape[0], shape[1])
    x = torch.randn(2, shape[0], shape[1], shape[1])
    out = model(x)
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown model 'resnet19'; known models: airbench-small, airbench-tiny, airbench-tiny-muon, airbench-tiny-silu, airbench94"):
        build_model("resnet19")


def test_airbench_whitening_layer_whitens_its_patches():
    torch.manual_seed(0)
    model = build_model("airbench94", 10, 3, 32)
    # correlated channels, as in natural images
    base = torch.randn(256, 1, 32, 32)
    images = torch.cat([base, 0.8 * base + 0.2 * torch.randn_like(base), torch.randn(256, 1, 32, 32)], 1)
    model.init_from_data(images)
    w = model.whiten.weight  # (24, 3, 2, 2): 12 filters and their negatives
    assert torch.equal(w[:12], -w[12:])
    out = torch.nn.functional.conv2d(images, w[:12])  # (N, 12, 31, 31), bias excluded
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12)
    cov = flat.T @ flat / len(flat)
    # eps = 5e-4 in the eigenvalue keeps the tiny-variance directions just short of 1
    assert torch.allclose(cov, torch.eye(12), atol=0.05)


def test_the_records_svd_whitening_is_our_eigendecomposition_up_to_each_filters_sign():
    """hiverge/cifar10-speedrun lists 'init_whiten by SVD instead of eigendecomposition' among its
    changes. For a covariance matrix (symmetric, positive semi-definite) the SVD's U holds the
    eigenvectors and S the eigenvalues, largest first, so the filters can differ only in the sign
    of each one, and every filter is kept beside its negative: the same layer, not a lever."""
    torch.manual_seed(0)
    model = build_model("airbench-tiny", 10, 1, 28)
    base = torch.randn(512, 1, 28, 28)
    images = base + 0.5 * torch.roll(base, 1, dims=3)  # neighbouring pixels correlated
    model.init_from_data(images)
    ours = model.whiten.weight.detach()[:4].reshape(4, -1)
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 4)
    u, s, _ = torch.linalg.svd(patches.T @ patches / len(patches))
    theirs = (u / torch.sqrt(s + 5e-4)).T  # one filter a row, as the record computes them
    signs = torch.sign((ours * theirs).sum(1, keepdim=True))
    assert torch.allclose(ours, signs * theirs, atol=1e-4)


def test_airbench_tiny_silu_is_airbench_tiny_with_silu_for_every_gelu():
    gelu, silu = build_model("airbench-tiny", 10, 1, 28), build_model("airbench-tiny-silu", 10, 1, 28)
    kinds = lambda m: [type(x).__name__ for x in m.modules() if isinstance(x, (torch.nn.GELU, torch.nn.SiLU))]
    assert kinds(gelu) == ["GELU"] * len(kinds(gelu)) and kinds(silu) == ["SiLU"] * len(kinds(gelu))
    silu.load_state_dict(gelu.state_dict())  # the same parameters, name for name
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(gelu.eval()(x), silu.eval()(x))


def test_airbench_conv_starts_as_identity_on_its_inputs():
    model = build_model("airbench94", 10, 3, 32)
    conv = model.groups[0].conv1  # 24 -> 64
    w = conv.weight.detach()
    assert w.shape == (64, 24, 3, 3)
    assert torch.equal(w[:24, :, 1, 1], torch.eye(24))
    assert w[:24].abs().sum() == 24  # nothing but the centre taps
    norm = model.groups[0].norm1
    assert norm.eps == 1e-12 and norm.momentum == pytest.approx(0.4)  # 0.6 in the reference's convention
    assert not norm.weight.requires_grad and norm.bias.requires_grad
    assert not model.whiten.weight.requires_grad


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "small-resnet"])
def test_zero_init_residual_starts_every_block_as_its_shortcut(name):
    """With model.zero_init_residual each residual branch ends in a zero-weight BatchNorm, so in
    eval mode every block returns relu(shortcut(x)) whatever its convs hold; without it they do not."""
    from cifarbench.config import ModelConfig
    from cifarbench.models.configured import build_configured_model
    from cifarbench.models.resnet import BasicBlock, Bottleneck, residual_branch_ends

    torch.manual_seed(0)
    zeroed = build_configured_model(ModelConfig(name=name, zero_init_residual=True), (3, 32, 32), 10).eval()
    torch.manual_seed(0)
    plain = build_configured_model(ModelConfig(name=name), (3, 32, 32), 10).eval()
    ends = residual_branch_ends(zeroed)
    assert ends and all(bool((bn.weight == 0).all()) for bn in ends)
    assert all(bool((bn.weight != 0).all()) for bn in residual_branch_ends(plain))
    blocks = [m for m in zeroed.modules() if isinstance(m, (BasicBlock, Bottleneck))]
    x = torch.randn(2, 64, 8, 8)
    for block in blocks[:1]:
        assert torch.equal(block(x), torch.relu(block.shortcut(x)))


def test_zero_init_residual_on_a_net_without_residual_blocks_is_refused_before_a_run_starts(tmp_path):
    from cifarbench.resolve import resolve_config

    with pytest.raises(ConfigError, match="model.zero_init_residual: 'lenet-small' has no residual blocks"):
        resolve_config("lenet-small-onecycle", {"model": {"zero_init_residual": True}})


def test_airbench_widths_set_each_groups_channels_and_their_count_the_depth():
    from cifarbench.config import ModelConfig
    from cifarbench.models.configured import build_configured_model

    deeper = build_configured_model(ModelConfig(name="airbench-tiny", widths=(16, 32, 64, 128)), (1, 28, 28), 10)
    assert [g.conv2.out_channels for g in deeper.groups] == [16, 32, 64, 128]
    assert deeper.head.in_features == 128
    assert deeper(torch.randn(2, 1, 28, 28)).shape == (2, 10)  # 27 -> 13 -> 6 -> 3 -> 1, then the global pool
    plain = build_configured_model(ModelConfig(name="airbench-tiny"), (1, 28, 28), 10)
    assert [g.conv2.out_channels for g in plain.groups] == [16, 32, 64]  # null: the net's own
    # the Muon head divides the logits by the last width, whatever it is
    assert build_model("airbench-tiny-muon", 10, 1, 28, widths=(8, 24)).scale == 1 / 24


def test_widths_on_a_net_without_them_is_refused_before_a_run_starts_naming_the_nets_that_have_them():
    from cifarbench.resolve import resolve_config

    with pytest.raises(ConfigError, match=r"model.widths: 'lenet-small' has no widths option \(models that have: "
                                          r"airbench-small, airbench-tiny"):
        resolve_config("lenet-small-onecycle", {"model": {"widths": [8, 16]}})


@pytest.mark.parametrize("widths", [[], [16, 0, 32]])
def test_widths_must_be_positive(widths):
    from cifarbench.config import ModelConfig

    with pytest.raises(ConfigError, match="model.widths .* must be one or more positive integers"):
        ModelConfig(name="airbench-tiny", widths=tuple(widths))


def test_too_many_groups_for_the_images_is_one_line_naming_the_shape():
    from cifarbench.config import ModelConfig
    from cifarbench.models.configured import build_configured_model

    with pytest.raises(ConfigError, match="model 'airbench-tiny' cannot take 1x28x28 images"):
        build_configured_model(ModelConfig(name="airbench-tiny", widths=(8, 8, 8, 8, 8)), (1, 28, 28), 10)


def test_progressive_resizing_on_a_net_with_a_fixed_size_head_is_one_line_before_a_run_folder(tmp_path, capsys):
    from cifarbench.cli import main

    argv = ["train", "--dataset", "synthetic", "--data.synthetic_shape", "1,28,28", "--runs-dir", str(tmp_path / "runs"),
            "--augment.progressive_from", "20"]
    assert main([*argv, "--recipe", "lenet-small-onecycle"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model 'lenet-small' cannot take 1x20x20 images" in err
    assert "augment.progressive_from 20 is the first epoch's height" in err
    assert not (tmp_path / "runs").exists()


def test_progressive_resizing_that_never_reaches_full_size_is_refused(tmp_path, capsys):
    from cifarbench.cli import main

    code = main(["train", "--recipe", "fashion-tiny-2.25ep", "--dataset", "synthetic", "--data.synthetic_shape", "1,16,16",
                 "--epochs", "1.5", "--augment.progressive_from", "12", "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "augment.progressive_epochs 2 must be below the run's 2 epochs" in err
    assert not (tmp_path / "runs").exists()
