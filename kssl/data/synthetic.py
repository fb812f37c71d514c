"""Tiny generated datasets for tests and smoke runs: deterministic, offline, learnable by small encoders in a
few steps (so a test can ask for a margin above chance)."""

SYNTHETIC_TOPICS = (
    ("cat", "dog", "horse", "bird", "fish", "cow", "sheep", "mouse", "lion", "tiger", "runs", "eats", "sleeps",
     "barks", "field", "farm", "grass", "tail", "fur", "wild"),
    ("ship", "sea", "boat", "sail", "wave", "port", "crew", "storm", "wind", "anchor", "harbour", "deck", "tide",
     "mast", "captain", "island", "coast", "rope", "sails", "ocean"),
)
SYNTHETIC_FILLER = ("the", "a", "and", "of", "in", "on", "with", "was", "is", "to")


def synthetic_text(documents=120, sentences_per_document=3, seed=0):
    """A toy corpus with two topics: each document's sentences draw their content words from one topic's
    word list (plus shared function words). Returns (documents, topic of each document)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    docs, topics = [], []
    for i in range(documents):
        topic = i % len(SYNTHETIC_TOPICS)
        sentences = []
        for _ in range(sentences_per_document):
            words = []
            for _ in range(int(rng.integers(5, 10))):
                pool = SYNTHETIC_TOPICS[topic] if rng.random() < 0.6 else SYNTHETIC_FILLER
                words.append(pool[int(rng.integers(len(pool)))])
            sentences.append(" ".join(words).capitalize() + ".")
        docs.append(sentences)
        topics.append(topic)
    return docs, np.array(topics)


def synthetic_images(name, train=256, test=128, seed=0):
    """A tiny labelled image dataset, learnable by small encoders: "synthetic" (28x28 grey: a bright bar
    whose row is the class, on noise) or "synthetic_rgb" (32x32 colour: the class sets the bar's row and
    its colour)."""
    import numpy as np

    from kssl.data.images import Dataset, Split

    rng = np.random.default_rng(seed)
    size, channels = (28, 1) if name == "synthetic" else (32, 3)
    palette = rng.integers(60, 256, (10, channels))

    def split(count):
        labels = rng.integers(0, 10, count)
        images = (rng.random((count, size, size, channels)) * 60).astype(np.uint8)
        for i, label in enumerate(labels):
            row = 2 * label + (size - 20) // 2
            images[i, row: row + 4, :] = palette[label]
        return Split(images, labels.astype(np.int64))

    return Dataset(name, split(train), split(test), tuple(f"class_{i}" for i in range(10)), source="synthetic")


__all__ = ["SYNTHETIC_FILLER", "SYNTHETIC_TOPICS", "synthetic_images", "synthetic_text"]
