"""Word-vector evaluations: similarity (Spearman rho vs human scores) and analogy (3CosAdd).

The test sets are the copies inside the gensim wheel (`kssl.datasets.wheel_file`; `make data-text`
downloads it): WordSim353, SimLex-999 and the Google analogy questions (Mikolov et al., 2013). Both
protocols follow gensim's `evaluate_word_pairs` / `evaluate_word_analogies`, so numbers compare with
a gensim model's: case-insensitive lookup, pairs or questions with an out-of-vocabulary word are
skipped (and counted), analogies search the `restrict_vocab` most frequent words (the order of
`words`) and exclude the three question words.
"""

import keras
import numpy as np

from kssl.checks import check_choice, check_positive_int

WORD_SETS = {
    "wordsim353": "gensim/test/test_data/wordsim353.tsv",
    "simlex999": "gensim/test/test_data/simlex999.txt",
    "google_analogy": "gensim/test/test_data/questions-words.txt",
}


def _read_set(name, path=None):
    from kssl.data.text import wheel_file

    member = WORD_SETS[check_choice("dataset", name, WORD_SETS)]
    return wheel_file("gensim", member, path).decode("utf-8")


def _unit(vectors):
    return keras.utils.normalize(np.asarray(vectors, "float32"))  # rows / their L2 norm (zero rows stay zero)


def _check(vectors, words):
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != len(words):
        raise ValueError(f"`vectors` must be a 2-D array with one row per entry of `words` ({len(words)}); "
                         f"got shape {vectors.shape}.")
    return {w.lower(): i for i, w in reversed(list(enumerate(words)))}  # first (most frequent) wins


def word_similarity(vectors, words, dataset="wordsim353", pairs=None, path=None):
    """Spearman rho between cosine similarities and human scores.

    Args:
        vectors: (vocabulary, dim) array; row i is `words[i]`.
        words: the vocabulary, in row order.
        dataset: "wordsim353" or "simlex999" (read from the gensim wheel), unless `pairs` is given.
        pairs: optional list of `(word_1, word_2, human_score)`.
        path: a gensim wheel or a folder of wheels (see `kssl.datasets.wheel_file`).

    Returns `{"spearman": rho, "pairs": used, "oov_pairs": skipped}`.

    Example:
    >>> import numpy as np
    >>> vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], "float32")
    >>> word_similarity(vectors, ["cat", "dog", "car"], pairs=[("cat", "dog", 9), ("cat", "car", 1), ("dog", "car", 2)])
    {'spearman': 1.0, 'pairs': 3, 'oov_pairs': 0}
    """
    from scipy.stats import spearmanr

    index = _check(vectors, words)
    if pairs is None:
        pairs = []
        for line in _read_set(dataset, path).splitlines():
            if line.startswith("#") or not line.strip():
                continue
            first, second, score = line.split("\t")[:3]
            pairs.append((first, second, float(score)))
    unit = _unit(vectors)
    model, human, oov = [], [], 0
    for first, second, score in pairs:
        a, b = index.get(first.lower()), index.get(second.lower())
        if a is None or b is None:
            oov += 1
            continue
        model.append(float(unit[a] @ unit[b]))
        human.append(float(score))
    if len(model) < 2:
        raise ValueError(f"Fewer than 2 of the {len(pairs)} pairs are in the vocabulary.")
    return {"spearman": float(spearmanr(model, human).statistic), "pairs": len(model), "oov_pairs": oov}


def analogy(vectors, words, questions=None, path=None, restrict_vocab=300_000, batch_size=512):
    """3CosAdd analogy accuracy: for "a is to b as c is to d", d must be the argmax over the vocabulary
    of cos(x, b - a + c) on unit vectors, excluding a, b and c.

    Args:
        vectors, words: as in `word_similarity`.
        questions: optional list of `(a, b, c, d)`; default the Google analogy set (19 544 questions).
        path: a gensim wheel or folder of wheels.
        restrict_vocab: only the first `restrict_vocab` rows are candidates and questions using other
            words are skipped (gensim's default, 300 000).

    Returns `{"accuracy": correct / answered, "questions": answered, "skipped": n}`.

    Example:
    >>> import numpy as np
    >>> words = ["man", "woman", "king", "queen", "apple"]
    >>> vectors = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1]], "float32")
    >>> analogy(vectors, words, questions=[("man", "woman", "king", "queen")])
    {'accuracy': 1.0, 'questions': 1, 'skipped': 0}
    """
    index = _check(vectors, words)
    check_positive_int("restrict_vocab", restrict_vocab)
    if questions is None:
        questions = [tuple(line.split()) for line in _read_set("google_analogy", path).splitlines()
                     if line.strip() and not line.startswith(":")]
    candidates = _unit(np.asarray(vectors)[:restrict_vocab])
    ids, skipped = [], 0
    for question in questions:
        found = [index.get(w.lower()) for w in question]
        if any(i is None or i >= restrict_vocab for i in found):
            skipped += 1
        else:
            ids.append(found)
    if not ids:
        raise ValueError(f"None of the {len(questions)} questions has all four words in the vocabulary.")
    ids = np.asarray(ids)
    correct = 0
    for start in range(0, len(ids), batch_size):
        a, b, c, d = ids[start:start + batch_size].T
        target = _unit(candidates[b] - candidates[a] + candidates[c])
        scores = target @ candidates.T
        rows = np.arange(len(a))
        scores[rows, a] = scores[rows, b] = scores[rows, c] = -np.inf
        correct += int((scores.argmax(axis=1) == d).sum())
    return {"accuracy": correct / len(ids), "questions": int(len(ids)), "skipped": skipped}
