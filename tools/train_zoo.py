"""Train a zoo entry here, reproducibly, and write its preset with measured metrics and model card.

    python tools/train_zoo.py --entry simclr_convnet_fmnist --out out/zoo/simclr_convnet_fmnist
    python tools/train_zoo.py --entry simclr_convnet_fmnist --out out/zoo/simclr_convnet_fmnist --skip_train --bundle
    python tools/train_zoo.py --entry simclr_convnet_fmnist --out kssl/zoo/bundled/simclr_convnet_fmnist \
        --statistics_only --bundle     # add the feature statistics to a preset, re-pin its checksums

Entries come from the method registry (`kssl.methods.registry`): every image method with a Fashion-MNIST
example is `<method>_convnet_fmnist`, trained by its example at its recipe's budget (the SimCLR entry,
the bundled one, for 15 epochs). Each entry is one training command (run as a subprocess, so it is
exactly the command in the card), then the evaluation here: linear probe and kNN (from the training script's results.json) and
fine-tuning on 1% of the labels, against the same network trained from scratch on the same labels.
`--bundle` copies the preset into kssl/zoo/bundled/<entry>/ and pins its checksums in the registry.
The metadata carries the encoder's feature statistics on the training images, so that `kssl.zoo.load`
returns an encoder with standardised features (`keras.Sequential([encoder, Dense(10)])` trains as a probe
would); `--statistics_only` adds them to an existing preset without training or evaluating.
"""

import json
import os
import shutil
import subprocess
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def entries():
    """name -> {"method", "epochs", "data", "summary"}, one per image method of the registry."""
    from kssl.methods import registry

    out = {}
    for spec in registry.REGISTRY.values():
        if spec.data != "images" or not spec.rows or not spec.example:
            continue
        r = spec.recipe
        out[f"{spec.name}_convnet_fmnist"] = {
            "method": spec.name, "epochs": r.epochs, "data": "fashion_mnist", "flags": [],
            "summary": f"{spec.title}, {r.epochs} epochs on the 60k Fashion-MNIST training images (no labels), batch "
                       f"{r.batch_size}, on a 2-core CPU; the encoder is kssl.backbones.convnet (the registry recipe).",
        }
    # The bundled entry: the best small encoder README measured (a 512-wide last stage, 12 epochs: under an
    # hour on 2 cores), not the results table's 128-wide standard convnet.
    out["simclr_convnet_fmnist"].update(epochs=12, flags=["--widths", "32,64,512"], summary=(
        "SimCLR, 12 epochs on the 60k Fashion-MNIST training images (no labels), batch 128, on a 2-core CPU; the "
        "encoder is kssl.backbones.convnet with widths (32, 64, 512)."))
    return out


def train_command(spec, entry, out):
    """The example's command line for `entry` (its recipe's batch, the entry's epochs, raw pixels too)."""
    return [spec.example, "--epochs", str(entry["epochs"]), "--batch_size", str(spec.recipe.batch_size), *entry["flags"],
            "--raw_pixels", "--out", out]


ENTRIES = entries()

flags.DEFINE_enum("entry", None, sorted(ENTRIES), "Zoo entry to build.")
flags.DEFINE_string("out", None, "Preset directory (default: out/zoo/<entry>).")
flags.DEFINE_bool("skip_train", False, "Reuse the preset already in --out; only evaluate and write the card.")
flags.DEFINE_bool("bundle", False, "Ship the preset in the package and pin it in the registry.")
flags.DEFINE_float("fraction", 0.01, "Label fraction for the fine-tuning comparison.")
flags.DEFINE_bool("statistics_only", False, "Only add the encoder's feature statistics to the preset in --out "
                  "(kssl.eval.add_feature_statistics); with --bundle, re-pin it.")
FLAGS = flags.FLAGS


def card(name, spec, metadata, command):
    m = metadata["metrics"]
    return f"""---
license: apache-2.0
library_name: keras
tags:
- kssl
- self-supervised
- {metadata['method'].lower()}
datasets:
- {spec['data']}
metrics:
- accuracy
---

# {name}

{spec['summary']}

| evaluation on the Fashion-MNIST test set | accuracy |
|---|---|
| linear probe (frozen, standardised features, logistic regression) | {m['linear']:.4f} |
| kNN (k=200, cosine, weighted vote) | {m['knn']:.4f} |
| fine-tuned on 1% of labels ({m['finetune_labels']} images) | {m['finetune_1pct']:.4f} |
| same network from scratch on the same 1% | {m['scratch_1pct']:.4f} |
| the same network at its random initialisation, linear probe | {m['random_init_linear']:.4f} |
| raw pixels, linear probe (baseline) | {m['raw_pixels_linear']:.4f} |

{m['parameters']:,} encoder parameters, {m['feature_dim']}-d features.

Reproduce: `{command}`

Small by design: it is sized for a CPU and is the entry kssl ships inside the package, so that
`kssl.zoo.load("{name}")` works with no network at all. It is not an ImageNet-scale encoder.

```python
import kssl
encoder = kssl.zoo.load("{name}")   # keras.Model: (28, 28, 1) images in [0, 1] -> {m['feature_dim']} features
```
"""


def main(argv):
    del argv
    import kssl
    from kssl.methods import registry
    from kssl.zoo import hub, preset

    name, spec = FLAGS.entry, ENTRIES[FLAGS.entry]
    method = registry.get(spec["method"])
    out = FLAGS.out or os.path.join("out", "zoo", name)
    if FLAGS.statistics_only:
        data = registry.load_data(method, spec["data"]).data
        stats = kssl.eval.add_feature_statistics(out, data.train)
        print(f"feature statistics of {name} on {stats['examples']} {spec['data']} training images written to {out}")
        if FLAGS.bundle:
            bundle(name, spec, out, kssl.zoo.read_metadata(out))
        return
    train = [sys.executable] + train_command(method, spec, out)
    if not FLAGS.skip_train:
        subprocess.run(train, cwd=ROOT, check=True)
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    data = registry.load_data(method, spec["data"])
    options = {**method.options, **{k: tuple(v) if isinstance(v, list) else v
                                    for k, v in kssl.zoo.read_metadata(out).get("options", {}).items()}}
    # what transfers (e.g. a tile encoder applied to whole images), as the example evaluated it
    encoder = registry.transfer_encoder(method, kssl.zoo.load(out, include_head=True), data, options)
    data = data.data
    tuned = kssl.eval.finetune(encoder, data.train, data.test, fraction=FLAGS.fraction)
    scratch = kssl.eval.finetune(encoder, data.train, data.test, fraction=FLAGS.fraction, from_scratch=True)
    metadata = kssl.zoo.read_metadata(out)
    command = f"python tools/train_zoo.py --entry {name}"
    metadata.update({
        "data": spec["data"],
        "metrics": {"linear": results[method.name]["linear"], "knn": results[method.name]["knn"],
                    "finetune_1pct": tuned["accuracy"], "scratch_1pct": scratch["accuracy"],
                    "finetune_labels": tuned["labelled_examples"],
                    "raw_pixels_linear": raw_pixels_linear(results, data),
                    "random_init_linear": results["random_init"]["linear"],
                    "parameters": int(encoder.count_params()), "feature_dim": int(encoder.output_shape[-1])},
        "command": command,
        "train_command": " ".join(["python"] + train[1:]),
    })
    if method.transfer is None:  # the encoder kssl.zoo.load returns is the one measured
        metadata[preset.FEATURE_STATISTICS] = kssl.eval.feature_statistics(encoder, data.train)
    kssl.files.write_text_atomic(os.path.join(out, preset.METADATA_FILE), json.dumps(metadata, indent=2, sort_keys=True))
    kssl.files.write_text_atomic(os.path.join(out, preset.CARD_FILE), card(name, spec, metadata, command))
    print(json.dumps(metadata["metrics"], indent=2))
    if FLAGS.bundle:
        bundle(name, spec, out, metadata)


def raw_pixels_linear(results, data):
    """The raw-pixel probe of the training run's results.json, or measured now (a run without --raw_pixels)."""
    import kssl

    if "raw_pixels" in results:
        return results["raw_pixels"]["linear"]
    return kssl.eval.linear_probe(None, data.train, data.test)["accuracy"]


def bundle(name, spec, out, metadata):
    """Copies the preset in `out` into kssl/zoo/bundled/<name>/ (unless it is there) and pins its checksums."""
    import kssl
    from kssl.zoo import hub, preset

    target = os.path.join(hub.BUNDLED_DIR, name)
    os.makedirs(target, exist_ok=True)
    if not os.path.samefile(out, target):
        for filename in (*preset.PRESET_FILES, preset.CARD_FILE):
            shutil.copyfile(os.path.join(out, filename), os.path.join(target, filename))
    entries = hub.registry()
    files = hub.files_with_checksums(target)
    entries[name] = {"bundled": True, "repo_id": f"kssl/{name}", "revision": "bundled-" + files["model.weights.h5"][:32],
                     "files": files, "metric": {"linear": metadata["metrics"]["linear"]},
                     "method": metadata["method"], "data": spec["data"]}
    kssl.files.write_text_atomic(hub.REGISTRY_FILE, json.dumps(entries, indent=2, sort_keys=True) + "\n")
    print(f"bundled {name} in {target} and pinned it in {hub.REGISTRY_FILE}")

if __name__ == "__main__":
    flags.mark_flag_as_required("entry")
    app.run(main)
