import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl


def test_small_resnet18_keeps_resolution_in_the_stem():
    encoder = kssl.backbones.resnet(18, input_shape=(32, 32, 3), width=4)
    assert encoder.output_shape == (None, 32)
    assert encoder.get_layer("stem_conv").output.shape[1:3] == (32, 32)  # CIFAR stem: stride 1, no pool
    assert encoder.get_layer("stage4_block2_out").output.shape[1:3] == (4, 4)


@pytest.fixture(scope="module")
def hub_resnet50():
    return kssl.backbones.resnet(50, input_shape=(64, 64, 3))


def test_resnet50_at_imagenet_size_is_keras_hub(hub_resnet50):
    import keras_hub

    encoder = hub_resnet50
    assert encoder.output_shape == (None, 2048)
    reference = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[3, 4, 6, 3], stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
        image_shape=(64, 64, 3),
    )
    backbone = encoder.layers[1]  # keras-hub's layers, rebuilt as a plain functional model
    names = lambda model: [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert names(backbone) == names(reference)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder), safe_mode=True)
    assert all(layer.synchronized for layer in kssl.backbones.batch_norm_layers(clone))  # survives a reload
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


@pytest.mark.parametrize("build, count", [
    (lambda: kssl.backbones.convnet((28, 28, 1), widths=(4, 8, 8), convs_per_stage=2), 6),
    (lambda: kssl.backbones.resnet(18, input_shape=(32, 32, 3), width=2), 1 + 8 * 2 + 3),
    (lambda: kssl.backbones.resnet(34, input_shape=(32, 32, 3), width=2), 1 + 16 * 2 + 3),
    (lambda: kssl.backbones.resnet(50, input_shape=(32, 32, 3), width=2), 1 + 16 * 3 + 4),
    (lambda: kssl.backbones.resnet(18, input_shape=(64, 64, 3), width=2, small_input=False), 1 + 8 * 2 + 3),
    (lambda: kssl.backbones.resnet(18, input_shape=(64, 64, 3)), 1 + 8 * 2 + 3),  # keras-hub's
    (None, 1 + 16 * 3 + 4),  # keras-hub's ResNet-50: 53 batch norms
], ids=["convnet", "resnet18", "resnet34", "resnet50", "resnet18_imagenet_stem", "resnet18_keras_hub",
        "resnet50_keras_hub"])
def test_every_batch_norm_of_every_backbone_is_synchronized(build, count, request):
    encoder = request.getfixturevalue("hub_resnet50") if build is None else build()
    norms = kssl.backbones.batch_norm_layers(encoder)
    assert len(norms) == count
    assert [layer.name for layer in norms if not layer.synchronized] == []


def unsynchronized(model):
    """`model` with per-replica batch norm (the negative control)."""
    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = False
        return layer.__class__.from_config(config)
    return keras.models.clone_model(model, clone_function=clone, recursive=True)


def test_synchronize_batch_norm_keeps_what_the_model_computes():
    import keras_hub

    backbone = keras_hub.models.ResNetBackbone(  # a small keras-hub ResNet (its first stage must be 64 wide)
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 8, 8, 8],
        stackwise_num_blocks=[2, 2, 2, 2], stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        image_shape=(32, 32, 3),
    )
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.get_weights()])
    synced = kssl.backbones.synchronize_batch_norm(model)
    norms = kssl.backbones.batch_norm_layers(synced)
    assert len(norms) == len(kssl.backbones.batch_norm_layers(model)) == 1 + 8 * 2 + 3  # stem, blocks, shortcuts
    assert all(layer.synchronized for layer in norms)
    assert not any(layer.synchronized for layer in kssl.backbones.batch_norm_layers(model))  # a copy
    x = rng.random((4, 32, 32, 3)).astype("float32")
    for training in (False, True):  # moving statistics, and batch statistics
        np.testing.assert_allclose(synced(x, training=training), model(x, training=training), rtol=1e-5, atol=1e-6)
    assert kssl.backbones.synchronize_batch_norm(synced) is synced  # nothing left to do


def supervised_model(synchronized=True):
    encoder = kssl.backbones.resnet(18, input_shape=(16, 16, 1), width=4)
    if not synchronized:
        encoder = unsynchronized(encoder)
    inputs = keras.Input((16, 16, 1))
    model = keras.Model(inputs, keras.layers.Dense(3)(encoder(inputs)))
    # Eager: a one-step test spends most of its time tracing (20 s with two replicas), not computing.
    model.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def supervised_step(strategy, weights, x, y, synchronized=True):
    with strategy.scope():
        model = supervised_model(synchronized)
    model.set_weights(weights)
    loss = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return loss, model.get_weights()


def test_resnet_two_replicas_equal_one_device(mirrored, float64):
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 16, 16, 1)), rng.integers(0, 3, 16)
    keras.utils.set_random_seed(0)
    weights = supervised_model().get_weights()
    default = tf.distribute.get_strategy()
    loss_1, weights_1 = supervised_step(default, weights, x, y)
    loss_2, weights_2 = supervised_step(mirrored, weights, x, y)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-6)  # Keras' loss tracker is float32
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights_1, weights)) > 1e-3  # the step moved
    for a, b in zip(weights_2, weights_1):  # weights and moving statistics
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # Negative control: with each replica normalising its own 8 images the step is another one.
    loss_local, weights_local = supervised_step(mirrored, weights, x, y, synchronized=False)
    assert abs(loss_local - loss_1) > 1e-3
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights_local, weights_1)) > 1e-3
