"""`TextModel`: the base of kssl's language methods (token ids in, not images).

Everything of `SelfSupervisedModel` applies (compute_loss -> ssl_loss, loss scaling across replicas,
get_config); only the input check differs: `x` is a dict of integer token tensors made by the input
pipeline (kssl.language), which also carries the pretext targets, so Keras' `y` stays unused.
"""

import keras

from kssl.core import SelfSupervisedModel


class TextModel(SelfSupervisedModel):
    """Base of the language methods. Subclasses set `input_keys` and implement `forward`/`ssl_loss`."""

    input_keys = ()

    def __init__(self, encoder, **kwargs):
        # SelfSupervisedModel.__init__ checks that `encoder` maps images to vectors: skip it, keep the rest.
        keras.Model.__init__(self, **kwargs)
        self.encoder = encoder
        self.augment = None

    def check_tokens(self, x):
        name = type(self).__name__
        if not isinstance(x, dict) or any(k not in x for k in self.input_keys):
            got = sorted(x) if isinstance(x, dict) else type(x).__name__
            raise ValueError(f"{name}: `x` must be a dict with keys {sorted(self.input_keys)} (made by "
                             f"kssl.language); got {got}.")
        return x

    def call(self, x, training=False):
        return self.forward(self.check_tokens(x), training=training)

    def get_config(self):
        return {"name": self.name, "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
