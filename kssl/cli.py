"""The `kssl` command, built from the method registry (`kssl.methods.registry`).

    kssl pretrain --help                                   # every registered method
    kssl pretrain simclr --dataset fashion_mnist --epochs 20 --out out/simclr
    kssl pretrain moco --queue_size 4096 --epochs 20 --out out/moco
    kssl pretrain jigsaw --help                            # its recipe's options, with their defaults
    kssl pretrain mlm --dataset synthetic_text --train_examples 50 --steps_per_epoch 2 --out out/tiny_mlm
    kssl eval linear out/simclr                            # images: linear probe; mlm: sentence probe;
    kssl eval knn out/simclr                               #   cpc_audio: speaker and phone probes
    kssl eval words out/word2vec                           # word2vec: analogy and similarity (toy corpus: topics)
    kssl eval report out/simclr                            # Markdown report, plots: out/reports/simclr/
    kssl eval linear simclr_convnet_fmnist                 # a zoo name works wherever a preset directory does
    kssl zoo list | info NAME | load NAME|DIRECTORY
    kssl export keras-hub out/mlm out/mlm_keras_hub        # mlm: keras_hub.models.BertMaskedLM.from_preset loads it

Every method's flags are generated from its registry recipe: the common ones (dataset, budget, seed,
distribution) and each option of the recipe (`--temperature`, `--widths 8,16`, `--adversarial`).
"""

import argparse
import json
import os
import sys

STRATEGIES = ["auto", "one_device", "mirrored", "multi_worker", "tpu"]


def _list_of(kind):
    def parse(text):
        return tuple(kind(v) for v in text.split(",") if v.strip())

    parse.__name__ = f"comma-separated {kind.__name__}s"
    return parse


def _count(minimum):
    """An argparse type: an integer >= `minimum` (argparse names the flag in its error)."""

    def parse(text):
        value = int(text)
        if value < minimum:
            raise ValueError(text)
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def add_option_flags(parser, options):
    """One flag per recipe option, its type and default from the recipe's value."""
    for name, default in options.items():
        flag = f"--{name}"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help="recipe option")
        elif isinstance(default, (tuple, list)):
            kind = type(default[0]) if default else str
            parser.add_argument(flag, type=_list_of(kind), default=tuple(default), help=f"recipe option: comma-separated {kind.__name__}s")
        elif isinstance(default, (int, float, str)):
            parser.add_argument(flag, type=type(default), default=default, help="recipe option")
        else:
            raise TypeError(f"recipe option {name!r} has a default of type {type(default).__name__}; use a bool, "
                            "int, float, str or tuple")


# Flags that say how to run, not what is trained: a rerun may change them and still resume or continue.
HOW_TO_RUN = ("epochs", "out", "overwrite", "verbose", "strategy", "tpu", "jit_compile", "debug", "run", "command",
              "method", "argv")


def _run_flags(args):
    return {name: value for name, value in vars(args).items() if name not in HOW_TO_RUN}


def _pretrain(args):
    from kssl.checks import check_positive_int
    from kssl.training import runs

    flags = _run_flags(args)
    for name, value in flags.items():  # sizes of layers: named by their flag here, not by a layer's argument
        if name.endswith("_dim") and isinstance(value, int):
            check_positive_int(f"--{name}", value)
    plan = runs.plan(args.out, args.method, flags, args.epochs, overwrite=args.overwrite)  # before any data or weight
    if plan.action == "finished":
        print(f"kssl pretrain: {args.out} already holds this {args.method} run, finished at epoch {plan.done}; nothing "
              f"to do (a larger --epochs continues it, --overwrite trains it again).")
        return 0
    if plan.action == "continue":
        print(f"kssl pretrain: continuing the finished run in {args.out} from epoch {plan.done} to {args.epochs}")
    elif plan.action == "resume":
        print(f"kssl pretrain: resuming the interrupted run in {args.out} from epoch {plan.done} of {args.epochs}")
    if plan.promote_to:
        print(f"kssl pretrain: --overwrite: training in {plan.directory}; it replaces {args.out} once saved")

    import keras

    previous_policy = keras.mixed_precision.global_policy()
    if args.mixed_precision != "none":  # losses and similarity logits stay float32 inside kssl
        keras.mixed_precision.set_global_policy(args.mixed_precision)
    try:
        _pretrain_with_policy(args, plan, flags)
    finally:  # cli.main is also called in-process (tests, notebooks): leave the policy as found
        keras.mixed_precision.set_global_policy(previous_policy)
    if plan.promote_to:
        runs.promote(plan.directory, plan.promote_to)
    print(f"saved preset to {args.out}/")
    return 0


def _pretrain_with_policy(args, plan, flags):
    import kssl
    from kssl.methods import registry
    from kssl.training import runs

    command = "kssl " + " ".join(args.argv)
    runs.write_run(plan.directory, args.method, flags, args.epochs, plan.done, finished=False, command=command)
    spec = registry.get(args.method)
    options = {name: getattr(args, name) for name in spec.recipe.options}
    data = registry.load_data(spec, args.dataset, options, train_examples=args.train_examples, seed=args.seed)
    learning_rate = kssl.training.scaled_learning_rate(args.learning_rate, args.batch_size, args.lr_scaling,
                                                       args.lr_reference_batch_size)
    # AdamW + cosine, BackupAndRestore in OUT/backup (kept: more --epochs continue), NaN/Inf guard, or the entry's fit
    run = registry.train(
        spec, data, options, epochs=args.epochs, batch_size=args.batch_size, learning_rate=learning_rate,
        weight_decay=args.weight_decay, seed=args.seed, out=plan.directory, steps_per_epoch=args.steps_per_epoch or None,
        verbose=args.verbose, strategy=kssl.distribute.strategy(args.strategy, tpu=args.tpu),
        jit_compile="auto" if args.jit_compile is None else args.jit_compile, validation=True, keep_checkpoint=True,
    )
    metadata = {"command": command, "train_examples": args.train_examples or None}
    if spec.probe == "images" and spec.transfer is None:  # kssl.zoo.load then standardises the encoder's features
        metadata[kssl.zoo.FEATURE_STATISTICS] = kssl.eval.feature_statistics(run.model.encoder, data.train,
                                                                             seed=args.seed)
    run.save(plan.directory, metadata=metadata)
    runs.write_run(plan.directory, args.method, flags, args.epochs, args.epochs, finished=True, command=command)


def _preset_spec(metadata):
    """The registry entry a preset was trained with (None for presets saved before the registry)."""
    from kssl.methods import registry

    name = metadata.get("registry_name")
    return registry.get(name) if name else None


def _refuse(preset, protocol, probe, name):
    what = {
        "sentences": f"`kssl eval linear {preset}` (a linear probe of sentence labels on mean-pooled token vectors)",
        "speech": f"`kssl eval linear {preset}` (linear probes of speaker and phone from frame features)",
        "words": f"`kssl eval words {preset}` (word analogy and similarity; on the toy corpus, word topics)",
        "images": f"`kssl eval linear|knn|report {preset}`",
    }[probe]
    raise SystemExit(f"kssl eval {protocol}: {name or 'this'} preset is not evaluated this way; use {what}.")


def _say(message):
    """Progress of a long command, on stderr (stdout keeps the JSON result)."""
    print(f"kssl: {message}", file=sys.stderr, flush=True)


def _preset_directory(name, what="PRESET"):
    """A preset directory, or a zoo registry name (fetched from the cache or downloaded, then verified)."""
    if os.path.isdir(name):
        return name
    from kssl.zoo import hub

    if name in hub.registry():
        _say(f"fetching zoo entry {name}")
        return hub.fetch(name)
    if os.sep in name or name.startswith(".") or os.path.exists(name):
        raise FileNotFoundError(f"{what} {name!r} is not a preset directory; give a directory written by `kssl "
                                "pretrain` or a name from `kssl zoo list`.")
    import difflib

    close = difflib.get_close_matches(name, sorted(hub.registry()), n=1)
    raise FileNotFoundError(f"{what} {name!r} is neither a preset directory nor a zoo name (`kssl zoo list`)."
                            + (f" Did you mean {close[0]!r}?" if close else ""))


def _eval(args):
    import kssl

    args.preset_name = args.preset
    args.preset = _preset_directory(args.preset)
    metadata = kssl.zoo.read_metadata(args.preset)
    spec = _preset_spec(metadata)
    probe = metadata.get("probe", "images")
    name = spec.name if spec else metadata.get("method")
    applies = {"images": ("linear", "knn", "report"), "sentences": ("linear",), "speech": ("linear",),
               "words": ("words",)}[probe]
    if args.protocol not in applies:
        _refuse(args.preset, args.protocol, probe, name)

    if args.protocol == "report":
        if spec is not None and spec.transfer is not None:
            raise SystemExit(f"kssl eval report: the {name} preset's encoder is not a whole-image encoder (its probes "
                             f"evaluate a transfer of it); use `kssl eval linear|knn {args.preset_name}`.")
        out = args.out or os.path.join("out", "reports", os.path.basename(os.path.normpath(args.preset_name)))
        _say(f"evaluating {args.preset_name} (linear and kNN at each label fraction, t-SNE) into {out}/")
        results = kssl.eval.write_report(args.preset, dataset=args.dataset, out=out)
        print(f"report written to {out}/report.md")
        print(json.dumps(results["fractions"], indent=2))
        return 0

    dataset = args.dataset or metadata.get("data")
    if not dataset:
        raise SystemExit("the preset does not record its dataset: pass --dataset")
    result = {"preset": args.preset_name, "dataset": dataset, "protocol": args.protocol}
    _say(f"{args.protocol} evaluation of {args.preset_name} on {dataset} ({probe} probe)")
    if probe == "images":
        result.update(_eval_images(args, metadata, spec, dataset))
    elif probe == "speech":
        result.update(_eval_speech(args, metadata, spec, dataset))
    elif probe == "sentences":
        result.update(_eval_sentences(args, dataset))
    else:
        result.update(_eval_words(args, metadata, dataset))
    print(json.dumps(result, indent=2))
    return 0


def _options(metadata, spec):
    options = spec.options
    options.update({k: tuple(v) if isinstance(v, list) else v for k, v in metadata.get("options", {}).items()})
    return options


def _eval_images(args, metadata, spec, dataset):
    import kssl
    from kssl.methods import registry

    if spec is None:  # a preset saved before the registry: its encoder takes the images as they are
        data = kssl.datasets.load(dataset)
        encoder = kssl.zoo.load(args.preset, trainable=False, standardize=False)  # kNN: the raw features
        train, test = data.train, data.test
    else:
        options = _options(metadata, spec)
        data = registry.load_data(spec, dataset, options, seed=metadata.get("training", {}).get("seed", 0))
        model = kssl.zoo.load(args.preset, include_head=True)
        encoder = registry.transfer_encoder(spec, model, data, options)
        encoder.trainable = False
        train, test = data.data.train, data.data.test
    protocol = {"linear": kssl.eval.linear_probe, "knn": kssl.eval.knn}[args.protocol]
    return protocol(encoder, train, test)


def _eval_speech(args, metadata, spec, dataset):
    import kssl
    from kssl.eval import audio as speech
    from kssl.methods import registry

    options = _options(metadata, spec)
    data = registry.load_data(spec, dataset, options, seed=metadata.get("training", {}).get("seed", 0))
    model = kssl.zoo.load(args.preset, include_head=True)
    rows = speech.probe_network(model, data.train, data.test, probe_frames=options["probe_frames"])
    return {"accuracy": rows["cpc_context"]["speaker"], "accuracy_of": "speaker, context c_t", **rows,
            "chance": speech.chance(data.test)}


def _eval_sentences(args, dataset):
    import kssl
    from kssl.eval import text

    train, test = text.labelled_sentences(dataset)
    encoder = kssl.zoo.load(args.preset, trainable=False)
    result = text.sentence_probe(encoder, text.preprocessor_from_preset(args.preset), train, test)
    return {"accuracy": result["accuracy"], "labelled": "rotten_tomatoes" if dataset == "corpus" else "topics",
            "train_sentences": len(train.texts), "test_sentences": len(test.texts)}


def _eval_words(args, metadata, dataset):
    import kssl
    from kssl.eval import text
    from kssl.methods import registry

    vectors = text.word_vectors(kssl.zoo.load(args.preset, trainable=False))
    words = text.words_from_preset(args.preset)
    if dataset == "synthetic_text":
        result = text.word_topic_probe(vectors, words, registry.SYNTHETIC_TOPICS)
        return {"accuracy": result["accuracy"], "accuracy_of": "word topic (linear probe)",
                "topic_words": result["topic_words"]}
    result = text.word_benchmarks(vectors[1:], words[1:])  # row 0 is padding
    return {"accuracy": result["analogy"], "accuracy_of": "analogy (3CosAdd)", **result}


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
    directory = _preset_directory(args.name, what="NAME")  # a directory, or cached or downloaded and verified
    encoder = kssl.zoo.load(directory)
    where = f"loaded from {directory}" if directory == args.name else f"verified in {directory}"
    print(f"{args.name}: {encoder.name}, input {encoder.input_shape[1:]}, output {encoder.output_shape[1:]}, "
          f"{encoder.count_params()} parameters, {where}")
    return 0


def _add_method_parser(methods, spec, registry):
    r = spec.recipe
    datasets = registry.datasets_for(spec)
    title = spec.title.replace("%", "%%")  # argparse %-formats help: a title's "75 %" is not a directive
    summary = (f"{title} ({spec.class_name}; {spec.data.replace('_', ' ')}); defaults: --dataset {spec.dataset} "
               f"--epochs {r.epochs} --batch_size {r.batch_size} --learning_rate {r.learning_rate:g}")
    p = methods.add_parser(spec.name, help=summary,
                           description=f"Pretrain {title} with its registry recipe, then save a preset in --out.",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True,
                   help="run directory: the preset, run.json and backup/ (docs/runs.md); a rerun with the same flags "
                        "resumes an interrupted run or, with more --epochs, continues a finished one")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out (another method or other flags); the old run stays until the new "
                        "one is saved")
    p.add_argument("--dataset", default=spec.dataset, choices=datasets,
                   help=f"training data; {spec.test_dataset} is a tiny generated set for offline tests")
    p.add_argument("--epochs", type=_count(1), default=r.epochs, help="passes over the training data")
    p.add_argument("--batch_size", type=_count(1), default=r.batch_size, help="global batch size")
    p.add_argument("--learning_rate", type=float, default=r.learning_rate,
                   help="peak learning rate (at --lr_reference_batch_size when --lr_scaling is set)")
    p.add_argument("--lr_scaling", default="none", choices=["none", "linear", "sqrt"],
                   help="scale --learning_rate with the global batch: lr*B/B_ref or lr*sqrt(B/B_ref)")
    p.add_argument("--lr_reference_batch_size", type=_count(1), default=256, help="B_ref of --lr_scaling")
    p.add_argument("--weight_decay", type=float, default=r.weight_decay, help="AdamW's decoupled weight decay")
    p.add_argument("--train_examples", type=_count(0), default=0,
                   help="train on this many examples (images, documents or clips) drawn with --seed (0: all)")
    p.add_argument("--steps_per_epoch", type=_count(0), default=0, help="cap the steps of each epoch (0: the whole data)")
    p.add_argument("--seed", type=int, default=r.seed, help="random seed (weights, views, data order, subsets)")
    add_option_flags(p.add_argument_group(f"{spec.name} options (the recipe's defaults)"), r.options)
    p.add_argument("--strategy", default="auto", choices=STRATEGIES,
                   help="tf.distribute strategy; multi_worker reads the cluster from TF_CONFIG; "
                        "--batch_size is the global batch (per-replica batch x replicas)")
    p.add_argument("--tpu", default=None, help="--strategy tpu: TPU name or grpc:// address (None: TPU_NAME or the local TPU)")
    p.add_argument("--mixed_precision", default="none", choices=["none", "mixed_float16", "mixed_bfloat16"],
                   help="Keras mixed-precision policy (mixed_bfloat16 on TPUs)")
    p.add_argument("--jit_compile", action=argparse.BooleanOptionalAction, default=None,
                   help="XLA-compile the train step (None: Keras' auto)")
    p.add_argument("--verbose", type=int, default=1, help="Keras verbosity: 1 progress bar, 2 one line per epoch")
    p.set_defaults(run=_pretrain, method=spec.name)


def _is_keras_hub_preset(directory):
    """True for a directory keras-hub's `save_to_preset` wrote (its metadata.json names keras-hub's version
    and not kssl's)."""
    import kssl

    try:
        metadata = kssl.zoo.read_metadata(directory)  # refuses a missing, damaged or non-object file
    except (OSError, ValueError):
        return False
    return "keras_hub_version" in metadata and "kssl_version" not in metadata


def _export(args):
    import shutil
    import tempfile

    from kssl.eval import text
    from kssl.training import runs

    directory = _preset_directory(args.preset)
    task = text.keras_hub_masked_lm(directory)
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not _is_keras_hub_preset(out):  # never replace anything else (a kssl preset, say)
        raise SystemExit(f"kssl export: OUT {args.out!r} exists and is not a keras-hub preset; give a new directory")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=os.path.basename(out) + ".partial-", dir=parent)
    try:  # written whole beside OUT, then moved into place: no half-written preset is left behind
        task.save_to_preset(partial)
        runs.promote(partial, out)  # one complete preset on disk at every moment
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(f"{args.out}: keras-hub BertMaskedLM preset ({len(task.preprocessor.tokenizer.get_vocabulary())} "
          f"WordPiece tokens, sequence length {task.preprocessor.sequence_length}); "
          f"keras_hub.models.BertMaskedLM.from_preset({args.out!r}) loads it")
    return 0


def build_parser(with_methods=True):
    """The `kssl` parser; `with_methods=False` leaves the method registry (and TensorFlow) unimported, and
    `kssl pretrain` then takes no METHOD: `main` builds it only for a pretrain command."""
    parser = argparse.ArgumentParser(prog="kssl", description="Self-supervised learning for Keras 3. A refused "
                                     "command prints one line and exits 2; --debug (anywhere) shows the traceback.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True)

    pretrain = commands.add_parser(
        "pretrain", help="pretrain an encoder with a self-supervised method",
        description="Pretrain with a registered method's recipe (kssl.methods.registry); "
                    "`kssl pretrain METHOD --help` shows its options and defaults.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    if with_methods:
        from kssl.methods import registry

        methods = pretrain.add_subparsers(dest="method", required=True, metavar="METHOD",
                                          title="methods (" + ", ".join(registry.names()) + ")")
        for spec in registry.REGISTRY.values():
            _add_method_parser(methods, spec, registry)

    evaluate = commands.add_parser("eval", help="evaluate a preset's frozen encoder",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    evaluate.add_argument("protocol", choices=["linear", "knn", "report", "words"],
                          help="linear probe (images; mlm: sentence labels; cpc_audio: speakers and phones), kNN, "
                               "the image suite as a Markdown report with plots, or word benchmarks (word2vec)")
    evaluate.add_argument("preset", help="preset directory, or a zoo name (kssl zoo list)")
    evaluate.add_argument("--dataset", default=None, help="default: the dataset the preset was trained on")
    evaluate.add_argument("--out", default=None, help="report directory (default: out/reports/PRESET's name)")
    evaluate.set_defaults(run=_eval)

    zoo = commands.add_parser("zoo", help="list, describe or download registry presets")
    zoo.add_argument("action", choices=["list", "info", "load"])
    zoo.add_argument("name", nargs="?", help="registry name (for info and load; load also takes a preset directory)")
    zoo.set_defaults(run=_zoo)

    export = commands.add_parser("export", help="write a preset in another library's format",
                                 description="keras-hub: a masked-LM preset (kssl pretrain mlm) as a keras-hub "
                                             "BertMaskedLM preset (backbone, masked-LM head, tokenizer vocabulary).")
    export.add_argument("format", choices=["keras-hub"])
    export.add_argument("preset", help="preset directory, or a zoo name (kssl zoo list)")
    export.add_argument("out", help="directory of the keras-hub preset (replaced if it holds one)")
    export.set_defaults(run=_export)
    return parser


class CommandError(SystemExit):
    """A refused command: `str()` is the one line printed, the exit status is 2 (argparse's, for usage errors)."""

    def __init__(self, message):
        super().__init__(message)
        self.code = 2


def _one_line(command, error):
    """`error` as one line: `kssl COMMAND: message`. A TensorFlow op error keeps its last message line (the
    failed assertion, say), not the graph's traceback before it."""
    text = str(error)
    if type(error).__module__.startswith("tensorflow"):
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith((" ", "\t"))
                 and not line.startswith(("Graph execution error", "Detected at node"))]
        text = lines[-1] if lines else text
    text = " ".join(text.split()) or type(error).__name__
    if isinstance(error, KeyError):  # str(KeyError('x')) is just "'x'"
        text = f"{type(error).__name__}: {text}"
    return text if text.startswith("kssl") else f"kssl {command}: {text}"


def main(argv=None):
    """Runs the `kssl` command. A refused command prints one line (what was wrong, what to do) on stderr and
    exits 2 (`CommandError`); `--debug`, anywhere on the line, shows the traceback instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    args = build_parser(with_methods="pretrain" in argv).parse_args(argv)
    args.argv = argv
    if debug:
        return args.run(args)
    try:
        return args.run(args)
    except CommandError:
        raise
    except SystemExit as error:  # kssl's own refusals: SystemExit("message")
        if error.code is None or isinstance(error.code, int):
            raise
        line = _one_line(args.command, error.code)
    except Exception as error:  # noqa: BLE001 - every error becomes one line; --debug shows the traceback
        line = _one_line(args.command, error)
        if not isinstance(error, (ValueError, OSError, LookupError, RuntimeError, TypeError)):
            line += " (rerun with --debug for the traceback)"
    print(line, file=sys.stderr)
    raise CommandError(line)


if __name__ == "__main__":
    sys.exit(main())
