"""The zoo's registry and its Hugging Face Hub download path.

A registry entry (kssl/zoo/registry.json, shipped in the package) pins a Hub repo to one commit and
lists the SHA-256 of every preset file:

    "simclr_fmnist": {"repo_id": "org/name", "revision": "<40-hex commit>",
                      "files": {"config.json": "<sha256>", ...}, "metric": {...}}

An entry with `"bundled": true` ships its files in kssl/zoo/bundled/<name>/ (verified the same way).

`fetch` downloads the pinned files with `huggingface_hub` (honouring HF_ENDPOINT, HF_HUB_OFFLINE
and HF_HOME) into a temporary directory, verifies every checksum, and only then renames the
directory into the cache, so the cache never holds a file that was not verified.
"""

import difflib
import hashlib
import json
import os
import shutil
import tempfile

from kssl.zoo import preset

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY_FILE = os.path.join(HERE, "registry.json")
BUNDLED_DIR = os.path.join(HERE, "bundled")  # small presets shipped inside the package


class ChecksumError(ValueError):
    """A downloaded or cached file does not have the SHA-256 the registry pins."""


def registry(path=None):
    """The registry: name -> entry."""
    with open(path or os.environ.get("KSSL_ZOO_REGISTRY") or REGISTRY_FILE, encoding="utf-8") as f:
        return json.load(f)


def entry(name):
    """The registry entry for `name`, or a ValueError that suggests the closest names."""
    entries = registry()
    if name not in entries:
        close = difflib.get_close_matches(str(name), entries, n=3)
        hint = f" Closest: {close}." if close else ""
        raise ValueError(f"`name` {name!r} is not in the kssl zoo (known: {sorted(entries)}).{hint}")
    spec = entries[name]
    odd = [f for f in spec.get("files", {}) if not _is_preset_file(f)]
    if odd or not spec.get("files"):  # e.g. "../../x": a download must never be written outside the cache
        raise ValueError(f"registry entry {name!r} lists files {odd or 'none'}; a zoo entry holds only "
                         f"{[*preset.PRESET_FILES, preset.CARD_FILE]} and plain files under {preset.ASSETS_DIR}/.")
    return spec


def _is_preset_file(filename):
    """A preset's own file, or an asset `assets/<plain name>` (a text method's vocabulary, say)."""
    if filename in (*preset.PRESET_FILES, preset.CARD_FILE):
        return True
    folder, _, asset = str(filename).partition("/")
    try:
        return folder == preset.ASSETS_DIR and preset._check_asset_name(asset) == asset
    except ValueError:
        return False


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(directory, files):
    """Raises ChecksumError unless every file in `files` (name -> sha256) is in `directory` and matches."""
    for filename, expected in files.items():
        path = os.path.join(directory, filename)
        if not os.path.isfile(path):
            raise ChecksumError(f"{filename} is missing from {directory}.")
        actual = sha256(path)
        if actual != expected:
            raise ChecksumError(f"{filename}: SHA-256 is {actual}, the registry pins {expected}. Refusing to load it.")


def cache_dir():
    """$KSSL_CACHE, else $HF_HOME/kssl, else ~/.cache/huggingface/kssl."""
    if os.environ.get("KSSL_CACHE"):
        return os.environ["KSSL_CACHE"]
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(hf_home, "kssl")


def _offline():
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def fetch(name, revision=None):
    """Directory of the verified preset `name` at its pinned revision: from the cache, else downloaded."""
    spec = entry(name)
    pinned = spec["revision"]
    if revision not in (None, pinned):
        raise ValueError(
            f"`revision` {revision!r} is not the one the registry pins for {name!r} ({pinned}); only pinned "
            "revisions have checksums to verify against."
        )
    if spec.get("bundled"):  # ships with kssl: no network, same verification
        bundled = os.path.join(BUNDLED_DIR, name)
        verify(bundled, spec["files"])
        return bundled
    final = os.path.join(cache_dir(), name, pinned)
    if os.path.isdir(final):
        verify(final, spec["files"])  # a cache file edited or corrupted since is refused too
        return final
    if _offline():
        raise OSError(f"HF_HUB_OFFLINE is set and {name!r} is not in the cache ({final}); go online once to download it.")
    from huggingface_hub import hf_hub_download

    os.makedirs(os.path.dirname(final), exist_ok=True)
    temp = tempfile.mkdtemp(dir=os.path.dirname(final), prefix=".download-")
    try:
        for filename in spec["files"]:
            try:
                hf_hub_download(
                    spec["repo_id"], filename, revision=pinned, local_dir=temp,
                    endpoint=os.environ.get("HF_ENDPOINT") or None,
                )
            except Exception as error:
                raise OSError(
                    f"Could not download {filename} of {name!r} from {spec['repo_id']}@{pinned[:12]} "
                    f"({type(error).__name__}: {error}). Offline? Set HF_ENDPOINT for a mirror."
                ) from error
        verify(temp, spec["files"])
        shutil.rmtree(os.path.join(temp, ".cache"), ignore_errors=True)  # huggingface_hub's bookkeeping
        try:
            os.rename(temp, final)
        except OSError:
            if not os.path.isdir(final):  # not a concurrent download that finished first
                raise
            verify(final, spec["files"])  # the other download's files: check them too
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return final


def files_with_checksums(directory):
    """name -> sha256 of the preset files in `directory` (what a registry entry pins)."""
    names = [f for f in (*preset.PRESET_FILES, preset.CARD_FILE) if os.path.isfile(os.path.join(directory, f))]
    metadata_path = os.path.join(directory, preset.METADATA_FILE)
    if os.path.isfile(metadata_path):  # the assets the preset lists travel with it, pinned like the rest
        names += [f"{preset.ASSETS_DIR}/{a}" for a in preset.read_metadata(directory).get("assets", [])]
    return {f: sha256(os.path.join(directory, f)) for f in names}
