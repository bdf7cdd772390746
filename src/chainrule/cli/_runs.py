"""Run folders of ``chainrule train``: where a run writes, so that it never overwrites
another run's work, and how ``--resume`` finds a run and its arguments.

* A run folder holds ``args.json`` (the run's arguments, written before training starts),
  ``checkpoint.npz`` (written during training, see :class:`chainrule.train.Checkpoint`),
  ``history.csv``, ``model.npz`` and the pictures. A folder with any of :data:`RUN_FILES`
  "holds a run".
* Without ``--out`` a run writes into ``runs/<model>-<dataset>``; when that folder holds a
  run already, into the first of ``runs/<model>-<dataset>-2``, ``-3``, ... that does not
  (and says so). ``--out DIR`` holding a run is refused unless ``--overwrite`` (the old
  run's files are removed first, so nothing of it is left beside the new one) or
  ``--resume DIR``.
* The location is checked before any data is read or any training done (:func:`check_location`):
  a parent that is a file, an output name that is a folder, a folder that cannot be written.
* ``--resume DIR`` (or a bare ``--resume``: the newest default folder of ``--model`` and
  ``--dataset``) continues the run with the arguments saved in its ``args.json``; flags given
  again must agree with them, except :data:`RESUME_OVERRIDES`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import io
from ..errors import UsageError

__all__ = ["ARGS_FILE", "CHECKPOINT_FILE", "RESUME_OVERRIDES", "RUN_FILES", "add_run_args",
           "check_location", "default_dir", "given", "holds_run", "latest_default_run",
           "new_run_dir", "prepare", "remove_started_run", "resume_run", "save_or_fallback",
           "track_given", "write_text_atomic"]

ARGS_FILE = "args.json"
CHECKPOINT_FILE = "checkpoint.npz"
#: Files whose presence means a folder holds a run.
RUN_FILES = (ARGS_FILE, "model.npz", CHECKPOINT_FILE, "history.csv")
#: What a run may write besides RUN_FILES (removed by --overwrite, with RUN_FILES).
PICTURES = ("curves.png", "curves.svg", "reconstructions.png", "codings.png",
            "interpolation.png", "samples.png", "latent_grid.png")
PICTURE_FOLDERS = ("samples",)
#: Arguments a resumed run may change (the others must agree with args.json).
RESUME_OVERRIDES = ("epochs", "steps", "minutes", "quiet", "data_dir", "download", "threads",
                    "checkpoint_steps", "checkpoint_minutes")
#: Arguments that are not settings of the run (never saved, never compared).
NOT_SAVED = ("command", "func", "out", "resume", "overwrite", "_given")


# --------------------------------------------------------------------------- given flags


def _recording(cls: type) -> type:
    """A subclass of the argparse action ``cls`` that notes its ``dest`` in
    ``namespace._given`` when the flag appears on the command line."""

    def __call__(self: Any, parser: Any, namespace: Any, values: Any,
                 option_string: str | None = None) -> None:
        seen = set(getattr(namespace, "_given", ()))
        seen.add(self.dest)
        namespace._given = seen
        cls.__call__(self, parser, namespace, values, option_string)

    return type(f"Recording{cls.__name__}", (cls,), {"__call__": __call__})


def track_given(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` record which options were given (see :func:`given`)."""
    for action in parser._actions:
        if action.dest != "help" and not type(action).__name__.startswith("Recording"):
            action.__class__ = _recording(type(action))


def given(args: argparse.Namespace, dest: str) -> bool:
    """Whether ``--dest`` was given on the command line (needs :func:`track_given`)."""
    return dest in getattr(args, "_given", ())


def add_run_args(p: argparse.ArgumentParser) -> None:
    """``--resume [RUN_DIR]`` and ``--overwrite``."""
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN_DIR",
                   help="continue an interrupted run from its checkpoint, with its saved "
                        "arguments (RUN_DIR, or without it the newest runs/MODEL-DATASET* "
                        "folder); --epochs, --steps and --minutes may be changed")
    p.add_argument("--overwrite", action="store_true",
                   help="let a new run replace the run already in --out (its files are "
                        "removed first)")


# --------------------------------------------------------------------------- locations


def holds_run(path: Path) -> bool:
    """Whether the folder ``path`` holds (files of) a run."""
    return path.is_dir() and any((path / name).is_file() for name in RUN_FILES)


def default_dir(model: str, dataset: str) -> Path:
    return Path("runs") / f"{model}-{dataset}"


def _numbered(base: Path) -> list[Path]:
    """``base`` and the existing ``base-N`` folders, in the order they were numbered."""
    if not base.parent.is_dir():
        return [base]
    pattern = re.compile(re.escape(base.name) + r"-(\d+)")
    found = [(int(m.group(1)), p) for p in base.parent.iterdir()
             if (m := pattern.fullmatch(p.name)) and int(m.group(1)) >= 2]
    return [base, *(p for _, p in sorted(found))]


def _free_numbered(base: Path) -> Path:
    if not holds_run(base):
        return base
    n = 2
    while holds_run(base.with_name(f"{base.name}-{n}")):
        n += 1
    return base.with_name(f"{base.name}-{n}")


def latest_default_run(model: str, dataset: str) -> Path | None:
    """The newest default folder of ``model`` on ``dataset`` that holds a run's args."""
    runs = [p for p in _numbered(default_dir(model, dataset)) if (p / ARGS_FILE).is_file()]
    return runs[-1] if runs else None


def new_run_dir(args: argparse.Namespace, outputs: Iterable[str]) -> Path:
    """Where a new run writes (not created yet): ``--out``, or the first free default
    folder; raises UsageError when ``--out`` holds a run and ``--overwrite`` is not given,
    or when the location cannot be written (:func:`check_location`)."""
    if args.out is not None:
        out = Path(args.out)
        if holds_run(out) and not args.overwrite:
            raise UsageError(f"--out {out} already holds a run; pass --overwrite to replace "
                             f"it, --resume {out} to continue it, or another --out")
    else:
        base = default_dir(args.model, args.dataset)
        out = base if args.overwrite else _free_numbered(base)
    check_location(out, [*RUN_FILES, *outputs])
    return out


def _nearest_existing(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_location(out: Path, names: Iterable[str]) -> None:
    """Raise UsageError (one line) unless files ``names`` can be written into the folder
    ``out`` (made if missing): its nearest existing ancestor must be a writable folder, and
    no output name may be taken by a folder."""
    anchor = _nearest_existing(out)
    if not anchor.is_dir():
        what = "is a file" if anchor == out else f"cannot be made: {anchor} is a file"
        raise UsageError(f"output folder {out} {what}")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise UsageError(f"output folder {out} is not writable (no permission to write in "
                         f"{anchor})")
    for name in names:
        target = out / name
        if target.exists() and not target.is_file():
            raise UsageError(f"cannot write {target}: it is a folder; remove it or choose "
                             "another --out")
    if out.is_dir():
        try:
            with tempfile.TemporaryFile(dir=out):
                pass
        except OSError as exc:
            raise UsageError(f"output folder {out} is not writable: "
                             f"{exc.strerror or exc}") from None


def prepare(out: Path, args: argparse.Namespace, fresh: bool) -> None:
    """Create ``out``; for a fresh run remove the files of the run it replaces (with
    ``--overwrite``; only the names a run writes) and save the arguments into
    ``args.json`` (atomically)."""
    replacing = fresh and holds_run(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not fresh:
        return
    if replacing:
        _remove(out, (*RUN_FILES, *PICTURES))
        for folder in PICTURE_FOLDERS:  # the old run's pictures; other files stay
            if (out / folder).is_dir():
                _remove(out / folder, [p.name for p in (out / folder).glob("epoch_*.png")])
                with contextlib.suppress(OSError):
                    (out / folder).rmdir()
    settings = {k: v for k, v in sorted(vars(args).items()) if k not in NOT_SAVED}
    write_text_atomic(out / ARGS_FILE, json.dumps(settings, indent=2) + "\n")


def _remove(folder: Path, names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


def remove_started_run(out: Path, created: bool) -> None:
    """Undo :func:`prepare` for a run that ended before its first checkpoint: remove the
    run's files (the folder held none before) and the folder if this run made it."""
    _remove(out, RUN_FILES)
    if created:
        with contextlib.suppress(OSError):
            out.rmdir()


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`chainrule.io.atomic_write`)."""
    with io.atomic_write(path) as f:
        f.write(text.encode("utf-8"))


def save_or_fallback(path: Path, write: Callable[[Path], Any], say: Callable[[str], None]
                     ) -> Path | None:
    """``write(path)``; when that fails with an OSError, ``write`` into a new temporary
    folder instead, tell ``say`` where, and return that path (None when ``path`` worked)."""
    try:
        write(path)
        return None
    except OSError as exc:
        spare = Path(tempfile.mkdtemp(prefix="chainrule-")) / path.name
        write(spare)
        say(f"could not write {path} ({exc.strerror or exc}); saved it to {spare} instead")
        return spare


# --------------------------------------------------------------------------- resume


def resume_run(args: argparse.Namespace) -> Path:
    """The run folder ``--resume`` names, with ``args`` set to the run's saved arguments
    (given flags must agree with them, except :data:`RESUME_OVERRIDES`)."""
    if args.out is not None or args.overwrite:
        raise UsageError("--resume continues a run in its own folder; leave out --out and "
                         "--overwrite")
    if args.resume:
        run = Path(args.resume)
        if not (run / ARGS_FILE).is_file():
            raise UsageError(f"--resume {run}: not a run folder of chainrule train (no "
                             f"{ARGS_FILE})")
    else:
        found = latest_default_run(args.model, args.dataset)
        if found is None:
            raise UsageError(f"--resume: no run of {args.model} on {args.dataset} under "
                             f"{default_dir(args.model, args.dataset).parent}/; give "
                             "--resume RUN_DIR")
        run = found
    if not (run / CHECKPOINT_FILE).is_file():
        raise UsageError(f"--resume {run}: no {CHECKPOINT_FILE} (the run ended before its "
                         "first checkpoint); start it again without --resume")
    try:
        saved = json.loads((run / ARGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--resume {run}: cannot read {ARGS_FILE}: {exc}") from None
    for key, value in saved.items():
        if key in NOT_SAVED:
            continue
        if given(args, key) and key not in RESUME_OVERRIDES and getattr(args, key) != value:
            flag = "--" + key.replace("_", "-")
            saved = "default" if value is None else repr(value)
            raise UsageError(f"{flag} {getattr(args, key)} differs from the run's {saved} "
                             f"({run / ARGS_FILE}); a resumed run keeps its settings (only "
                             "--epochs, --steps and --minutes may change)")
        if not given(args, key):
            setattr(args, key, value)
    return run
