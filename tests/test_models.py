import pytest
import torch

from cifarbench.errors import ConfigError
from cifarbench.models import build_model, count_parameters, list_models

# Exact counts at 3x32x32 with 10 classes. The airbench counts equal those of the reference
# nets built from airbench/lib_airbench9X.py; resnet18/50 equal kuangliu/pytorch-cifar's.
PARAMETERS = {
    "lenet-small": 62_006,
    "lenet-large": 1_982_602,
    "cnn-3conv": 1_276_234,
    "mnist-cnn": 1_626_442,
    "small-resnet": 579_146,
    "resnet18": 11_173_962,
    "resnet34": 21_282_122,
    "resnet50": 23_520_842,
    "airbench94": 1_972_792,
    "airbench95": 4_606_520,
    "airbench96": 9_918_776,
    "airbench-small": 295_096,
    "airbench-tiny": 76_280,
}


def test_every_registered_model_has_a_known_count():
    assert sorted(PARAMETERS) == list_models()


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameter_count(name):
    assert count_parameters(build_model(name, 10, 3, 32)) == PARAMETERS[name]


def test_mnist_cnn_at_its_native_shape():
    # pytorch/examples' Net at 1x28x28: 9216 -> 128 -> 10
    assert count_parameters(build_model("mnist-cnn", 10, 1, 28)) == 1_199_882


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("shape", [(3, 32), (1, 28)])
@pytest.mark.parametrize("classes", [10, 100])
def test_forward_backward(name, shape, classes):
    if name in ("resnet34", "resnet50", "airbench96", "airbench95") and classes == 100:
        pytest.skip("covered at 10 classes; the head is the only difference")
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
    with pytest.raises(ConfigError, match="unknown model 'resnet19'; known models: airbench-small, airbench-tiny, airbench94"):
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
