"""The run directory (`kssl pretrain --out OUT`): what it holds, and when a rerun resumes, continues or
is refused. docs/runs.md tells the same story from the user's side.

    OUT/run.json          the method, the flags that define the run, the epochs asked for and done,
                          "finished"; written before the first epoch and again after the preset is saved
    OUT/backup/           the last epoch's checkpoint (weights, optimizer, RNG state, per-epoch history);
                          kept after success, so that more epochs continue the run
    OUT/config.json  OUT/model.weights.h5  OUT/metadata.json  (OUT/assets/)   the preset (kssl.zoo.load)

`plan` decides, before any data is loaded or any weight is built, what a `kssl pretrain` does with OUT:

- OUT missing or empty, or holding a run stopped before its first epoch ended: a fresh run in OUT.
- OUT holds the same method with the same flags: an interrupted run resumes from its checkpoint; a finished
  run is continued when `--epochs` is larger, and left alone (nothing to do) when it is equal.
- anything else (another method, other flags, fewer epochs than done, a finished run without its
  checkpoint, a directory that holds something other than a kssl run, a file): refused with one line,
  unless `overwrite`. Then the new run trains in a staging directory beside OUT (`OUT.overwrite`), and
  `promote` replaces OUT with it only once it is saved: until then OUT is untouched.
"""

import dataclasses
import json
import os
import shutil
import tempfile

from kssl.training.files import is_remote, write_text_atomic

RUN_FILE = "run.json"
BACKUP_DIR = "backup"
STAGING_SUFFIX = ".overwrite"
PRESET_MARKERS = ("metadata.json", "model.weights.h5", "config.json")
RUN_FORMAT = 1


class RunDirectoryError(ValueError):
    """`--out` cannot be used as asked; the message says why and what to do."""


@dataclasses.dataclass
class Plan:
    """What `plan` decided: train `epochs` in `directory` starting at epoch `done` ("fresh", "resume" or
    "continue"), or nothing ("finished"); `promote_to` is OUT when `directory` is an overwrite's staging."""

    action: str
    directory: str
    done: int = 0
    promote_to: str = None


def check_directory(out, arg="--out"):
    """Refuses an `out` that cannot hold a run, before anything is trained: empty, remote (a preset is
    written with local file operations), a file, or not creatable / writable. Creates it when missing."""
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out).strip():
        raise RunDirectoryError(f"{arg} must name a directory; got {out!r}.")
    out = os.fspath(out)
    if is_remote(out):
        raise RunDirectoryError(f"{arg} must be a local directory; got {out!r} (train locally, then copy the "
                                "directory, or publish it with tools/publish.py).")
    if os.path.exists(out) and not os.path.isdir(out):
        raise RunDirectoryError(f"{arg} {out!r} is a file, not a directory; choose a directory path.")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as error:
        raise RunDirectoryError(f"{arg} {out!r} cannot be created ({error.strerror or error}); choose a path "
                                "you can write to.") from error
    try:
        fd, probe = tempfile.mkstemp(dir=out, prefix=".kssl-write-test-")
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise RunDirectoryError(f"{arg} {out!r} is not writable ({error.strerror or error}); choose a directory "
                                "you can write to.") from error
    return out


def read_run(directory):
    """The run record of `directory` (`RUN_FILE`), or None when it has none."""
    path = os.path.join(directory, RUN_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        record["method"], record["flags"]
    except (ValueError, KeyError, TypeError) as error:
        raise RunDirectoryError(f"{path} is damaged ({type(error).__name__}: {error}); pass --overwrite to train "
                                "the run again.") from error
    return record


def write_run(directory, method, flags, epochs, done, finished, command=None):
    """Writes `directory`'s run record atomically."""
    record = {"format": RUN_FORMAT, "method": method, "flags": _jsonable(flags), "epochs": epochs,
              "epochs_done": done, "finished": finished, "command": command}
    write_text_atomic(os.path.join(directory, RUN_FILE), json.dumps(record, indent=2, sort_keys=True))
    return record


def _jsonable(flags):
    return json.loads(json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in flags.items()}))


def _saved_epoch(directory):
    from kssl.training.pretrain import BackupAndRestore

    return BackupAndRestore.saved_epoch(os.path.join(directory, BACKUP_DIR))


def _flag(name, value):
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no-{name}"
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return f"--{name} {value}"


def differences(saved, flags):
    """The flags (present in both records) whose values differ, as "--flag SAVED (now --flag NEW)" phrases."""
    flags = _jsonable(flags)
    return [f"{_flag(k, saved[k])} (now {_flag(k, flags[k])})" for k in sorted(saved) if k in flags and saved[k] != flags[k]]


def _holds_a_run(directory):
    return any(os.path.exists(os.path.join(directory, name)) for name in (RUN_FILE, BACKUP_DIR) + PRESET_MARKERS)


def _same_run(directory, method, flags, epochs, where):
    """The plan for continuing the run in `directory` with `method`, `flags` and `epochs` (RunDirectoryError
    when it cannot be continued that way; `where` names it in the message)."""
    record = read_run(directory)
    again = "pass --overwrite to replace it (the old run stays until the new one is saved), or choose another --out"
    if record is None:
        raise RunDirectoryError(f"{where} holds a preset or checkpoint without {RUN_FILE} (saved by kssl.zoo.save or an "
                                f"older kssl), so it cannot be resumed safely; {again}.")
    has_preset = any(os.path.exists(os.path.join(directory, name)) for name in PRESET_MARKERS)
    if not record.get("finished") and _saved_epoch(directory) == 0 and not has_preset:
        return Plan("fresh", directory)  # stopped before its first epoch ended: nothing to lose, any flags
    if record["method"] != method:
        raise RunDirectoryError(f"{where} holds a {record['method']} run, not {method}; {again}.")
    changed = differences(record["flags"], flags)
    if changed:
        raise RunDirectoryError(f"{where} holds a {method} run trained with other flags: {'; '.join(changed)}. Rerun "
                                f"with its flags to resume or continue it (they are in {os.path.join(where, RUN_FILE)}), "
                                f"or {again}.")
    done = _saved_epoch(directory)
    if record.get("finished"):
        finished_at = int(record.get("epochs_done", done))
        if epochs == finished_at:
            return Plan("finished", directory, finished_at)
        if epochs < finished_at:
            raise RunDirectoryError(f"{where} holds a finished {method} run of {finished_at} epochs; --epochs {epochs} "
                                    f"cannot undo epochs: pass --epochs > {finished_at} to continue it, or {again}.")
        if done != finished_at:
            raise RunDirectoryError(f"{where} holds a finished {method} run but no checkpoint of its last epoch to "
                                    f"continue from ({BACKUP_DIR}/ was deleted, or {method} trains without one); "
                                    f"{again}.")
        return Plan("continue", directory, done)
    if epochs < done:
        raise RunDirectoryError(f"{where} holds an interrupted {method} run that has done {done} epochs; --epochs "
                                f"{epochs} cannot undo epochs: pass --epochs >= {done} to resume it, or {again}.")
    return Plan("resume" if done else "fresh", directory, done)


def plan(out, method, flags, epochs, overwrite=False):
    """What `kssl pretrain METHOD --out OUT --epochs EPOCHS` (with `flags`) does with OUT; see the module
    docstring. Raises RunDirectoryError (one line: what is wrong, what to do) before anything is trained."""
    out = check_directory(out)
    entries = [name for name in os.listdir(out) if not name.startswith(".kssl-write-test-")]
    if not entries:
        return Plan("fresh", out)
    if not _holds_a_run(out):
        shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
        raise RunDirectoryError(f"--out {out!r} is a directory that already holds other files ({shown}), not a kssl "
                                "run; choose a new or empty directory.")
    if not overwrite:
        return _same_run(out, method, flags, epochs, f"--out {out!r}")
    staging = os.path.normpath(out) + STAGING_SUFFIX
    check_directory(staging, arg="the staging directory of --overwrite")
    if os.listdir(staging):
        try:  # an interrupted --overwrite run of the same flags resumes
            resumed = _same_run(staging, method, flags, epochs, staging)
        except RunDirectoryError:
            resumed = None
        if resumed is not None and resumed.action in ("fresh", "resume"):
            resumed.promote_to = out
            return resumed
        shutil.rmtree(staging)  # another overwrite's leftovers: --overwrite replaces them too
        os.makedirs(staging)
    return Plan("fresh", staging, 0, promote_to=out)


def promote(staging, out):
    """Replaces the run in `out` with the finished run in `staging` (same parent directory): `out` is
    renamed aside, `staging` renamed to `out`, then the old run is deleted. At every moment one complete
    run is on disk, under `out` or under `staging`. With no `out` yet, `staging` is renamed to it."""
    if not os.path.exists(out):
        os.rename(staging, out)
        return
    aside = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(out)), prefix="." + os.path.basename(out) + ".old-")
    os.rmdir(aside)
    os.rename(out, aside)
    os.rename(staging, out)
    shutil.rmtree(aside, ignore_errors=True)


__all__ = ["BACKUP_DIR", "Plan", "RUN_FILE", "RunDirectoryError", "check_directory", "differences", "plan",
           "promote", "read_run", "write_run"]
