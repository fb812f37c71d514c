"""Fine-tuning on a fraction of the labels (`kssl.eval.finetune`) of a preset's encoder, next to the same
network fine-tuned from a random initialisation (`from_scratch=True`).

    python tools/finetune_preset.py out/mae --fraction 0.1 --epochs 10

MAE is known to probe weakly with a frozen linear classifier; the paper's protocol is fine-tuning, and
this is the number to compare. Prints and writes (PRESET/finetune_<percent>.json) one JSON object.
"""

import argparse
import json
import os
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("preset", help="a preset directory written by `kssl pretrain`")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of the training labels (class-balanced)")
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--dataset", default=None, help="default: the dataset the preset was trained on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no_random_init", action="store_true", help="skip the from-scratch row")
    args = parser.parse_args(argv)

    import kssl
    from kssl.methods import registry

    metadata = kssl.zoo.read_metadata(args.preset)
    spec = registry.get(metadata["registry_name"])
    options = {**spec.options, **{k: tuple(v) if isinstance(v, list) else v for k, v in metadata.get("options", {}).items()}}
    data = registry.load_data(spec, args.dataset or metadata.get("data"), options)
    model = kssl.zoo.load(args.preset, include_head=True)
    encoder = registry.transfer_encoder(spec, model, data, options)
    settings = {"fraction": args.fraction, "epochs": args.epochs, "batch_size": args.batch_size,
                "learning_rate": args.learning_rate, "seed": args.seed}
    result = {"preset": args.preset, "dataset": data.name, **settings}
    for name, from_scratch in [("pretrained", False)] + ([] if args.no_random_init else [("random_init", True)]):
        start = time.time()
        result[name] = kssl.eval.finetune(encoder, data.data.train, data.data.test, fraction=args.fraction, seed=args.seed,
                                          epochs=args.epochs, batch_size=args.batch_size,
                                          learning_rate=args.learning_rate, from_scratch=from_scratch)
        result[name]["seconds"] = round(time.time() - start, 1)
    text = json.dumps(result, indent=2)
    print(text)
    with open(os.path.join(args.preset, f"finetune_{100 * args.fraction:g}.json"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
