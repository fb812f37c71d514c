"""Data pipelines by modality: images (Fashion-MNIST, image folders, TFDS), text corpora and labelled text,
speech (espeak-ng, Fillets-NG), and the language-model input pipelines (MLM, word2vec).

`kssl.datasets` is this package's image module plus the text loaders, the names a user types:
`kssl.datasets.load("fashion_mnist")`, `kssl.datasets.text_corpus()`, `kssl.datasets.rotten_tomatoes()`.
"""

from kssl.data import audio, images, language, synthetic, text  # noqa: F401
