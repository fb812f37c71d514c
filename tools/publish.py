"""Publish a kssl preset to the Hugging Face Hub and pin it in the zoo registry.

    python tools/publish.py --preset out/demo --repo_id org/simclr_fmnist --name simclr_fmnist --dry_run
    HF_TOKEN=... python tools/publish.py --preset out/demo --repo_id org/simclr_fmnist --name simclr_fmnist

Steps: validate the preset (it loads in safe mode; metadata.json has metrics and the command that
measured them; a model card exists, written from the metadata if missing), compute SHA-256 of every
file, create the repo (exist_ok), refuse to move an existing tag unless --force, upload with
`HfApi.upload_folder`, tag the commit, and write the registry entry (commit hash + checksums)
atomically. The token comes only from HF_TOKEN or the Hugging Face login cache and is never printed.
"""

import json
import os
import sys

from absl import app, flags

flags.DEFINE_string("preset", None, "Preset directory written by kssl.zoo.save.")
flags.DEFINE_string("repo_id", None, "Hub repository, e.g. org/simclr_fmnist.")
flags.DEFINE_string("name", None, "Registry name (default: the repo name).")
flags.DEFINE_string("tag", None, "Tag for the uploaded commit (default: v<kssl version>).")
flags.DEFINE_string("registry", None, "Registry JSON to update (default: the package's kssl/zoo/registry.json).")
flags.DEFINE_bool("dry_run", False, "Validate and show what would be uploaded where; upload nothing.")
flags.DEFINE_bool("force", False, "Move an existing tag to the new upload.")
FLAGS = flags.FLAGS


class PublishError(RuntimeError):
    pass


def _card_from_metadata(name, metadata):
    metrics = metadata.get("metrics", {})
    front = [
        "---", "license: apache-2.0", "library_name: keras", "tags:", "- kssl", "- self-supervised",
        f"- {metadata.get('method', 'unknown').lower()}", "datasets:", f"- {metadata.get('data', 'unknown')}",
        "---",
    ]
    rows = "\n".join(f"| {k} | {v} |" for k, v in metrics.items())
    return "\n".join(front) + (
        f"\n\n# {name}\n\n{metadata.get('method')} encoder ({metadata.get('backbone')}, "
        f"{metadata.get('encoder_parameters')} parameters, input {metadata.get('input_shape')}) trained on "
        f"{metadata.get('data')}.\n\n| metric | value |\n|---|---|\n{rows}\n\n"
        f"Measured by: `{metadata.get('command', 'unknown')}`\n\n"
        f"```python\nimport kssl\nencoder = kssl.zoo.load({name!r})\n```\n"
    )


def validate(preset, name):
    """Loads the preset, checks its metadata, writes a card if missing; returns (metadata, checksums)."""
    import kssl
    from kssl.zoo import hub

    if not preset or not os.path.isdir(preset):
        raise PublishError(f"--preset must be a preset directory; got {preset!r}.")
    kssl.zoo.load(preset)  # safe-mode deserialisation and version checks
    metadata = kssl.zoo.read_metadata(preset)
    if not metadata.get("metrics") or not metadata.get("command"):
        raise PublishError(f"{preset}/metadata.json must hold 'metrics' and the 'command' that measured them.")
    card = os.path.join(preset, kssl.zoo.CARD_FILE)
    if not os.path.isfile(card):
        kssl.files.write_text_atomic(card, _card_from_metadata(name, metadata))
    return metadata, hub.files_with_checksums(preset)


def _scrub(text, token):
    return text.replace(token, "***") if token else text


def publish(preset, repo_id, name=None, tag=None, registry=None, dry_run=False, force=False, out=print):
    """Runs the publication; returns the registry entry (None on a dry run)."""
    import kssl
    from huggingface_hub import HfApi, get_token

    from kssl.zoo import hub, preset as preset_lib

    if not repo_id or repo_id.count("/") != 1:
        raise PublishError(f"--repo_id must look like 'org/name'; got {repo_id!r}.")
    name = name or repo_id.split("/")[1]
    tag = tag or f"v{kssl.__version__}"
    metadata, checksums = validate(preset, name)
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    out(f"{'would upload' if dry_run else 'uploading'} {preset}/ to {endpoint}/{repo_id} (tag {tag}):")
    for filename, digest in checksums.items():
        out(f"  {filename:<18} {os.path.getsize(os.path.join(preset, filename)):>10} bytes  sha256 {digest}")
    if dry_run:
        out(f"and would pin {name!r} in {registry or hub.REGISTRY_FILE}")
        return None
    token = get_token()
    if not token:
        raise PublishError("No Hugging Face token: set HF_TOKEN or run `hf auth login`.")
    try:
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo(repo_id, exist_ok=True)
        tags = {ref.name for ref in api.list_repo_refs(repo_id).tags}
        if tag in tags and not force:
            raise PublishError(f"{repo_id} already has tag {tag!r}; pass --force to move it to a new upload.")
        commit = api.upload_folder(
            folder_path=preset, repo_id=repo_id, allow_patterns=list(checksums),
            commit_message=f"kssl {metadata.get('method')} preset {name}",
        )
        if tag in tags:
            api.delete_tag(repo_id, tag=tag)
        api.create_tag(repo_id, tag=tag, revision=commit.oid)
    except PublishError:
        raise
    except Exception as error:  # never let a token reach the output through an error message
        raise PublishError(_scrub(f"upload failed: {type(error).__name__}: {error}", token)) from None
    spec = {"repo_id": repo_id, "revision": commit.oid, "files": checksums, "metric": metadata["metrics"],
            "method": metadata.get("method"), "data": metadata.get("data")}
    path = registry or hub.REGISTRY_FILE
    entries = hub.registry(path) if os.path.exists(path) else {}
    entries[name] = spec
    preset_lib.write_text_atomic(path, json.dumps(entries, indent=2, sort_keys=True) + "\n")
    out(f"published {name!r}: {repo_id}@{commit.oid} (tag {tag}); registry {path} updated")
    return spec


def main(argv):
    del argv
    try:
        publish(FLAGS.preset, FLAGS.repo_id, FLAGS.name, FLAGS.tag, FLAGS.registry, FLAGS.dry_run, FLAGS.force)
    except PublishError as error:
        print(f"publish: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)
