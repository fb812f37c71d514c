import keras
import numpy as np
import pytest

import kssl


def test_small_resnet18_keeps_resolution_in_the_stem():
    encoder = kssl.backbones.resnet(18, input_shape=(32, 32, 3), width=4)
    assert encoder.output_shape == (None, 32)
    assert encoder.get_layer("stem_conv").output.shape[1:3] == (32, 32)  # CIFAR stem: stride 1, no pool
    assert encoder.get_layer("stage4_block2_out").output.shape[1:3] == (4, 4)


def test_resnet50_at_imagenet_size_is_keras_hub():
    import keras_hub

    encoder = kssl.backbones.resnet(50, input_shape=(64, 64, 3))
    assert encoder.output_shape == (None, 2048)
    assert any(isinstance(layer, keras_hub.models.ResNetBackbone) for layer in encoder.layers)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder), safe_mode=True)
    x = np.random.default_rng(0).random((1, 64, 64, 3)).astype("float32")
    clone.set_weights(encoder.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), encoder.predict(x, verbose=0), rtol=1e-5)


def test_bottleneck_resnet50_small_input():
    encoder = kssl.backbones.resnet(50, input_shape=(28, 28, 1), width=2)
    assert encoder.output_shape == (None, 64)  # 2 * 8 * expansion 4


@pytest.mark.parametrize("kwargs,name", [
    (dict(depth=20), "depth"), (dict(width=0), "width"), (dict(input_shape=(32, 32)), "input_shape"),
])
def test_bad_resnet_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        kssl.backbones.resnet(**{"depth": 18, "input_shape": (32, 32, 3)} | kwargs)


def test_get_by_name():
    assert kssl.backbones.get("convnet", (28, 28, 1), widths=(4,)).output_shape == (None, 4)
    with pytest.raises(ValueError, match="`backbone` must be one of"):
        kssl.backbones.get("vgg16", (28, 28, 1))
    with pytest.raises(ValueError, match="`widths`"):
        kssl.backbones.convnet((28, 28, 1), widths=())
