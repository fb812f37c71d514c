"""The `kssl` command.

    kssl pretrain simclr --dataset fashion_mnist --epochs 20 --out out/simclr
    kssl pretrain moco --queue_size 4096 --epochs 20 --out out/moco      # also: siamese, triplet
    kssl eval linear out/simclr
    kssl eval knn out/simclr
    kssl eval report out/simclr          # Markdown report with tables and plots
    kssl zoo list | info NAME | load NAME
"""

import argparse
import json
import os
import sys


# The methods `kssl pretrain` trains from views (no labels), and their arguments from the flags.
PRETRAIN_ARGS = {
    "simclr": lambda a: {"projection_dim": a.projection_dim, "temperature": a.temperature},
    "moco": lambda a: {"projection_dim": a.projection_dim, "temperature": a.temperature, "momentum": a.momentum,
                       "queue_size": a.queue_size, "version": 2},
    "siamese": lambda a: {"embedding_dim": a.projection_dim, "margin": 1.0 if a.margin is None else a.margin},
    "triplet": lambda a: {"embedding_dim": a.projection_dim, "margin": 0.2 if a.margin is None else a.margin},
}


def _pretrain(args):
    import keras

    keras.utils.set_random_seed(args.seed)
    previous_policy = keras.mixed_precision.global_policy()
    if args.mixed_precision != "none":  # losses and similarity logits stay float32 inside kssl
        keras.mixed_precision.set_global_policy(args.mixed_precision)
    try:
        return _pretrain_with_policy(args)
    finally:  # cli.main is also called in-process (tests, notebooks): leave the policy as found
        keras.mixed_precision.set_global_policy(previous_policy)


def _pretrain_with_policy(args):
    import kssl

    data = kssl.datasets.load(args.dataset)
    channels = data.image_shape[-1]
    with kssl.distribute.strategy(args.strategy, tpu=args.tpu).scope():
        backbone_args = {"width": args.width} if args.backbone.startswith("resnet") else {}
        encoder = kssl.backbones.get(args.backbone, data.image_shape, **backbone_args)
        augment = kssl.augment.simclr_views(
            data.image_shape[0], channels=channels, crop_scale=(args.crop_scale_min, 1.0),
            grayscale_policy="brightness_contrast" if channels == 1 else None,
            blur_prob=args.blur_prob, seed=args.seed,
        )
        model = kssl.methods.get(args.method)(encoder, augment=augment, **PRETRAIN_ARGS[args.method](args))
        # AdamW + cosine, BackupAndRestore in OUT/backup, NaN/Inf guard (the recipe every example uses)
        history, _ = kssl.training.pretrain(
            model, data.train.unlabelled(args.batch_size, seed=args.seed), args.epochs,
            learning_rate=kssl.training.scaled_learning_rate(args.learning_rate, args.batch_size, args.lr_scaling,
                                                             args.lr_reference_batch_size),
            weight_decay=args.weight_decay, jit_compile="auto" if args.jit_compile is None else args.jit_compile,
            out=args.out, verbose=args.verbose,
            validation_data=data.test.unlabelled(args.batch_size, shuffle=False),
        )
    command = "kssl " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("kssl") else None
    kssl.zoo.save(model, args.out, metadata={"data": args.dataset, "pretrain_command": command,
                                             "history": history.history})
    print(f"saved preset to {args.out}/")
    return 0


def _eval(args):
    import kssl

    if args.protocol == "report":
        results = kssl.eval.write_report(args.preset, dataset=args.dataset, out=args.out)
        out = args.out or os.path.join(args.preset, "report")
        print(f"report written to {out}/report.md")
        print(json.dumps(results["fractions"], indent=2))
        return 0

    metadata = kssl.zoo.read_metadata(args.preset)
    dataset = args.dataset or metadata.get("data")
    if not dataset:
        raise SystemExit("the preset does not record its dataset: pass --dataset")
    data = kssl.datasets.load(dataset)
    encoder = kssl.zoo.load(args.preset, trainable=False)
    protocol = {"linear": kssl.eval.linear_probe, "knn": kssl.eval.knn}[args.protocol]
    result = protocol(encoder, data.train, data.test)
    print(json.dumps({"preset": args.preset, "dataset": dataset, "protocol": args.protocol, **result}, indent=2))
    return 0


def _zoo(args):
    import kssl

    if args.action == "list":
        for name in kssl.zoo.list():
            spec = kssl.zoo.hub.entry(name)
            print(f"{name:<24} {spec['repo_id']}@{spec['revision'][:12]}  {json.dumps(spec.get('metric', {}))}")
        return 0
    if not args.name:
        raise SystemExit(f"kssl zoo {args.action}: give a NAME (see `kssl zoo list`)")
    if args.action == "info":
        print(json.dumps({"name": args.name, **kssl.zoo.hub.entry(args.name)}, indent=2))
        return 0
    directory = kssl.zoo.hub.fetch(args.name)  # cached or downloaded, verified
    encoder = kssl.zoo.load(directory)
    print(f"{args.name}: {encoder.name}, input {encoder.input_shape[1:]}, output {encoder.output_shape[1:]}, "
          f"{encoder.count_params()} parameters, verified in {directory}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="kssl", description="Self-supervised learning for Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True)

    pretrain = commands.add_parser("pretrain", help="pretrain an encoder with a self-supervised method")
    pretrain.add_argument("method", choices=sorted(PRETRAIN_ARGS), help="the method")
    pretrain.add_argument("--dataset", default="fashion_mnist", help="dataset name (default: fashion_mnist)")
    pretrain.add_argument("--epochs", type=int, default=20)
    pretrain.add_argument("--out", required=True, help="output preset directory (also holds backup/ to resume)")
    pretrain.add_argument("--backbone", default="convnet", help="convnet, resnet18, resnet34 or resnet50")
    pretrain.add_argument("--width", type=int, default=64, help="first-stage width of a resnet backbone")
    pretrain.add_argument("--batch_size", type=int, default=128, help="global batch size")
    pretrain.add_argument("--learning_rate", type=float, default=2e-3,
                          help="peak AdamW learning rate (at --lr_reference_batch_size when --lr_scaling is set)")
    pretrain.add_argument("--lr_scaling", default="none", choices=["none", "linear", "sqrt"],
                          help="scale --learning_rate with the global batch: lr*B/B_ref or lr*sqrt(B/B_ref)")
    pretrain.add_argument("--lr_reference_batch_size", type=int, default=256, help="B_ref of --lr_scaling")
    pretrain.add_argument("--weight_decay", type=float, default=1e-4)
    pretrain.add_argument("--temperature", type=float, default=0.2)
    pretrain.add_argument("--projection_dim", type=int, default=64, help="projection / embedding size")
    pretrain.add_argument("--queue_size", type=int, default=4096, help="MoCo: negatives (a multiple of --batch_size)")
    pretrain.add_argument("--momentum", type=float, default=0.99, help="MoCo: key-encoder momentum")
    pretrain.add_argument("--margin", type=float, default=None, help="Siamese (1.0) / Triplet (0.2) margin")
    pretrain.add_argument("--crop_scale_min", type=float, default=0.25)
    pretrain.add_argument("--blur_prob", type=float, default=0.0)
    pretrain.add_argument("--strategy", default="auto", choices=["auto", "one_device", "mirrored", "multi_worker", "tpu"],
                          help="tf.distribute strategy; multi_worker reads the cluster from TF_CONFIG; "
                               "--batch_size is the global batch (per-replica batch x replicas)")
    pretrain.add_argument("--tpu", default=None, help="--strategy tpu: TPU name or grpc:// address (default: TPU_NAME/local)")
    pretrain.add_argument("--mixed_precision", default="none", choices=["none", "mixed_float16", "mixed_bfloat16"],
                          help="Keras mixed-precision policy (mixed_bfloat16 on TPUs)")
    pretrain.add_argument("--jit_compile", action=argparse.BooleanOptionalAction, default=None,
                          help="XLA-compile the train step (default: Keras' auto)")
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.add_argument("--verbose", type=int, default=1, help="Keras verbosity: 1 progress bar, 2 one line per epoch")
    pretrain.set_defaults(run=_pretrain)

    evaluate = commands.add_parser("eval", help="evaluate a preset's frozen encoder")
    evaluate.add_argument("protocol", choices=["linear", "knn", "report"],
                          help="linear probe, kNN, or the whole suite as a Markdown report with plots")
    evaluate.add_argument("preset", help="preset directory")
    evaluate.add_argument("--dataset", default=None, help="default: the dataset the preset was trained on")
    evaluate.add_argument("--out", default=None, help="report directory (default: PRESET/report)")
    evaluate.set_defaults(run=_eval)

    zoo = commands.add_parser("zoo", help="list, describe or download registry presets")
    zoo.add_argument("action", choices=["list", "info", "load"])
    zoo.add_argument("name", nargs="?", help="registry name (for info and load)")
    zoo.set_defaults(run=_zoo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
