"""Every example runs end to end on tiny data (the full runs are in README): the Fashion-MNIST ones on a
tiny look-alike, colorization on generated colour images, the language ones on the registry's toy corpus
(examples/cpc_audio.py: tests/test_audio.py).

Convention: each examples/*_fashion_mnist.py (and cpc_images.py) takes its flags from the method's
registry recipe, accepts --epochs, --batch_size, --train_examples, --out, and writes OUT/results.json with
one row per encoder it compares and the preset in OUT/.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

from helpers import write_fake_fashion_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*_fashion_mnist.py"))) + [
    os.path.join(ROOT, "examples", "cpc_images.py")]
# The rows each example writes besides "random_init" (rotation adds its stage probes).
ROWS = {"cpc_images.py": {"cpc"}, "rotation_fashion_mnist.py": {"rotation", "rotation_stage1", "rotation_stage2",
                                                                 "random_init_stage1", "random_init_stage2"}}
ROW_KEYS = {"linear", "knn", "probe_converged", "eval_seconds"}


def run(args, tmp_path, timeout=600, **env_vars):
    env = {**os.environ, "PYTHONPATH": ROOT, "KSSL_OFFLINE": "1", "KSSL_CACHE": str(tmp_path / "cache"), **env_vars}
    result = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_every_image_method_of_the_registry_has_its_example():
    from kssl.methods import registry

    for spec in registry.REGISTRY.values():
        assert spec.example and os.path.exists(os.path.join(ROOT, spec.example)), spec.name


def thin_example(path):
    """The registry name an example only passes to `common.run(NAME, title=...)` (the whole script, besides
    its docstring and `import common`), or None when the example has code of its own."""
    import ast

    with open(path, encoding="utf-8") as f:
        body = ast.parse(f.read()).body
    if len(body) != 3 or not isinstance(body[1], ast.Import) or not isinstance(body[2], ast.If):
        return None
    block = body[2].body
    call = block[0].value if len(block) == 1 and isinstance(block[0], ast.Expr) else None
    if not (isinstance(call, ast.Call) and ast.unparse(call.func) == "common.run" and len(call.args) == 1
            and isinstance(call.args[0], ast.Constant) and {k.arg for k in call.keywords} <= {"title"}):
        return None
    return call.args[0].value


# A thin example is one call of `common.run` with its registry name: running one of them (byol) tests that
# path end to end; each method's own training is run by tests/test_registry.py's registry loop.
THIN = {os.path.basename(p): thin_example(p) for p in EXAMPLES if thin_example(p)}
RUN = [p for p in EXAMPLES if os.path.basename(p) not in THIN or os.path.basename(p) == "byol_fashion_mnist.py"]


def test_thin_examples_are_their_registry_recipe():
    from kssl.methods import registry

    assert len(THIN) >= 5 and "byol_fashion_mnist.py" in THIN  # the convention holds and byol represents it
    for name, method in THIN.items():
        assert registry.get(method).example == f"examples/{name}", (name, method)


@pytest.mark.parametrize("path", RUN, ids=[os.path.basename(p) for p in RUN])
def test_example_runs_on_tiny_data(path, tmp_path):
    import kssl

    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=256, test=64)
    out = tmp_path / "out"
    run([path, "--epochs=1", "--batch_size=32", "--train_examples=128", f"--out={out}"], tmp_path,
        KSSL_DATA_DIR=str(tmp_path / "data"))
    results = json.loads((out / "results.json").read_text())
    name = os.path.basename(path)
    key = "cpc" if name == "cpc_images.py" else name.replace("_fashion_mnist.py", "")
    expected = ROWS.get(name, {key})
    rows = {key: row for key, row in results.items() if key != "run"}
    assert set(rows) == {"random_init"} | expected
    for row in rows.values():
        assert set(row) >= ROW_KEYS
    assert {k: results["run"][k] for k in ("epochs", "batch_size", "train_examples", "seed")} == {
        "epochs": 1, "batch_size": 32, "train_examples": 128, "seed": 0}
    metadata = kssl.zoo.read_metadata(str(out))
    assert metadata["registry_name"] == key and metadata["metrics"]["linear"] == rows[key]["linear"]
    kssl.zoo.load(str(out))  # the preset loads


def test_colorization_example_on_generated_colour_images(tmp_path):
    out = tmp_path / "out"
    run(["examples/colorization_openclipart.py", "--dataset=synthetic_rgb", "--epochs=1", "--batch_size=32",
         "--train_examples=128", "--widths=8,16", f"--out={out}"], tmp_path)
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"random_init", "colorization", "simclr", "run"}
    assert (out / "grid.png").exists() and (out / "assets").exists() is False
    assert results["run"]["train_examples"] == 128 and set(results["run"]["train_seconds"]) == {"colorization", "simclr"}


def test_mlm_example_on_the_toy_corpus(tmp_path):
    """Pretrain, held-out masked accuracy, the sentence probe and a fine-tune; the preset carries its
    vocabulary, so `kssl eval linear OUT` reproduces the probe of the MLM encoder."""
    out = tmp_path / "mlm"
    run(["examples/mlm_corpus.py", "--corpus=synthetic_text", "--vocabulary_size=120", "--num_layers=1",
         "--hidden_dim=16", "--sequence_length=24", "--batch_size=8", "--held_out_batches=2", "--finetune_epochs=1",
         f"--out={out}"], tmp_path)
    results = json.loads((out / "results.json").read_text())
    rows = results["rotten_tomatoes"]
    assert set(rows) == {"mlm_encoder", "random_init", "tfidf_logreg"}
    assert rows["tfidf_logreg"]["linear"] == 1.0  # the toy topics share no content word: TF-IDF separates them
    assert rows["mlm_encoder"]["finetune"] != "-" and rows["random_init"]["finetune"] != "-"
    assert set(results["run"]["held_out"]) >= {"loss", "masked_accuracy", "perplexity", "next_sentence_accuracy"}
    assert results["run"]["held_out"] == results["run"]["held_out_second_pass"]  # fixed masks
    vocabulary = (out / "assets" / "vocabulary.txt").read_text()
    assert vocabulary == (out / "vocabulary_120.txt").read_text()
    probe = run(["-m", "kssl.cli", "eval", "linear", str(out)], tmp_path)
    assert json.loads(probe.stdout)["accuracy"] == pytest.approx(rows["mlm_encoder"]["linear"])


def test_word2vec_example_on_the_toy_corpus(tmp_path):
    out = tmp_path / "w2v"
    run(["examples/word2vec_corpus.py", "--corpus=synthetic_text", "--embedding_dim=8", "--min_count=1",
         "--batch_size=64", "--epochs=2", f"--out={out}"], tmp_path)
    results = json.loads((out / "results.json").read_text())
    assert set(results["kssl"]) == {"accuracy", "topic_words", "train_seconds", "vocabulary", "words"}
    assert results["kssl"]["topic_words"] == 40  # the two topics' 20 content words each
    words = (out / "assets" / "words.txt").read_text().split("\n")[:-1]
    assert len(words) == results["kssl"]["vocabulary"] and "ship" in words
    assert results["run"]["mode"] == "cbow" and results["run"]["epochs"] == 2
