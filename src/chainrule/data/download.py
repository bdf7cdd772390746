"""Where data lives, and how missing files are fetched safely.

Data directory, first that applies: the ``data_dir`` argument, the ``CHAINRULE_DATA``
environment variable, ``$XDG_CACHE_HOME/chainrule``, ``~/.cache/chainrule``.

A file ``name`` of a dataset kept in subfolder ``sub`` is looked for at
``<data_dir>/<sub>/<name>`` and then ``<data_dir>/<name>``. A missing file is downloaded
from the first mirror that works into ``<data_dir>/<sub>/<name>``: the bytes go to a
temporary file in that folder, the MD5 is checked, and only then is the file renamed into
place, so a failed or corrupt download never leaves a file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from chainrule.data.errors import DataError, DataFileNotFoundError
from chainrule.data.files import atomic_write, md5sum

__all__ = ["ENV_VAR", "RemoteFile", "download_file", "ensure_file", "get_data_dir"]

ENV_VAR = "CHAINRULE_DATA"
_CHUNK = 1 << 16
DEFAULT_TIMEOUT = 30.0


def get_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$CHAINRULE_DATA``, else the user cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "chainrule"


@dataclass(frozen=True)
class RemoteFile:
    """A file of a dataset: its local name, its folder inside the data dir, its MD5, and
    its name on the mirrors when that differs from the local name."""

    name: str
    subdir: str
    md5: str
    remote_name: str = ""

    @property
    def url_name(self) -> str:
        """The file name to append to a mirror URL."""
        return self.remote_name or self.name

    def candidates(self, root: Path) -> list[Path]:
        """Where the file may be found, in order of preference."""
        return [root / self.subdir / self.name, root / self.name]


class _Progress:
    """A download progress bar: tqdm when installed, else a plain line on stderr."""

    def __init__(self, total: int | None, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done, self._last = 0, 0.0
        self._bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False)

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and time.monotonic() - self._last > 0.2:
            self._last = time.monotonic()
            self._write()

    def _write(self) -> None:
        mb = self.done / 1e6
        if self.total:
            pct = 100.0 * self.done / self.total
            line = f"\r{self.desc}: {pct:5.1f}% ({mb:.1f}/{self.total / 1e6:.1f} MB)"
        else:
            line = f"\r{self.desc}: {mb:.1f} MB"
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            self._write()
            sys.stderr.write("\n")
            sys.stderr.flush()


def _content_length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _stream(response: Any, out: BinaryIO, url: str, progress: bool | None) -> str:
    """Copy the response body to ``out``; return its MD5; raise DataError if cut short."""
    total = _content_length(response)
    enabled = sys.stderr.isatty() if progress is None else progress
    bar = _Progress(total, url.rsplit("/", 1)[-1], enabled)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()
    if total is not None and bar.done != total:
        raise DataError(f"{url}: truncated download ({bar.done} of {total} bytes)")
    return digest.hexdigest()


def _fetch(url: str, dest: Path, md5: str, timeout: float, progress: bool | None) -> None:
    """Download one URL to ``dest`` atomically, checking its MD5 before the rename."""
    with urllib.request.urlopen(url, timeout=timeout) as response, atomic_write(dest) as out:
        try:
            got = _stream(response, out, url, progress)
        except DataError:
            raise
        except (OSError, ValueError) as exc:  # IncompleteRead, reset, timeout mid-body
            raise DataError(f"{url}: truncated download ({exc})") from None
        if got != md5:
            raise DataError(f"{url}: checksum mismatch: MD5 {got}, expected {md5}")


def _describe(url: str, exc: Exception) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"{url}: {exc.reason}"
    return f"{url}: {exc}"


def download_file(
    remote: RemoteFile,
    root: str | os.PathLike[str],
    mirrors: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
) -> Path:
    """Download ``remote`` from the first working mirror to ``root/subdir/name``.

    Mirrors are tried in order; a mirror that cannot be reached or serves bad bytes is
    skipped. ``progress=None`` shows a progress bar only when stderr is a terminal.

    Raises:
        DataError: when every mirror failed; it lists each mirror's failure, says where
            the file was looked for and how to provide it by hand.
    """
    root = Path(root)
    dest = root / remote.subdir / remote.name
    if not mirrors:
        reasons = ["no download source is known for this file"]
        raise _missing_error(remote, root, "It could not be downloaded", reasons)
    created = [d for d in (dest.parent, *dest.parent.parents) if not d.exists()]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot create {dest.parent}: {exc}"
        raise _missing_error(remote, root, "Downloading it failed", [reason]) from None
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + remote.url_name
        try:
            _fetch(url, dest, remote.md5, timeout, progress)
            return dest
        except DataError as exc:
            failures.append(str(exc))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            failures.append(_describe(url, exc))
    for folder in created:  # leave no empty folders behind
        with contextlib.suppress(OSError):
            folder.rmdir()
    source = mirrors[0].rstrip("/") + "/" + remote.url_name
    raise _missing_error(remote, root, "Downloading it failed", failures, source)


def _missing_error(
    remote: RemoteFile, root: Path, intro: str, reasons: list[str], source: str | None = None
) -> DataFileNotFoundError:
    """The one error for a file we do not have: what, where we looked, why, how to fix."""
    looked = ", ".join(str(p) for p in remote.candidates(root))
    details = "".join(f"\n  - {r}" for r in reasons)
    origin = f", from {source}" if source else ""
    return DataFileNotFoundError(
        f"data file {remote.name!r} is missing; looked in: {looked}. {intro}:{details}\n"
        f"To provide it, save {remote.name} (MD5 {remote.md5}{origin}) in "
        f"{root / remote.subdir}, or point the environment variable {ENV_VAR} "
        "(or the data_dir argument) at a folder that holds it."
    )


def _find_verified(remote: RemoteFile, root: Path, verify: bool) -> tuple[Path | None, list[str]]:
    """The first candidate that exists (and passes its MD5 when ``verify``), and a note for
    each candidate that exists but failed the check."""
    bad = []
    for path in remote.candidates(root):
        if not path.is_file():
            continue
        digest = md5sum(path) if verify else remote.md5
        if digest == remote.md5:
            return path, bad
        bad.append(f"{path} has MD5 {digest}, expected {remote.md5} (corrupt or another file)")
    return None, bad


def ensure_file(
    remote: RemoteFile,
    data_dir: str | os.PathLike[str] | None,
    mirrors: Sequence[str],
    *,
    download: bool = True,
    verify: bool = True,
    progress: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Path to a local, checked copy of ``remote``, downloading it when allowed.

    A file that exists but fails its MD5 check is never used. With ``download=True`` a
    fresh copy is downloaded to ``<root>/<subdir>/<name>`` (atomically replacing a bad
    copy there, with a warning); otherwise a :class:`DataError` names the bad file.

    Raises:
        DataFileNotFoundError: the file is missing and could not be downloaded.
        DataError: ``download=False`` and the only copies found fail the MD5 check.
    """
    root = get_data_dir(data_dir)
    found, bad = _find_verified(remote, root, verify)
    if found is not None:
        return found
    if not download:
        if bad:
            raise DataError(
                "; ".join(bad) + ". Delete the bad file so that it can be downloaded again, "
                "or pass verify=False to use it anyway"
            )
        raise _missing_error(remote, root, "It was not downloaded", ["download=False"])
    if bad:
        warnings.warn("; ".join(bad) + "; downloading a fresh copy", stacklevel=3)
    try:
        return download_file(remote, root, mirrors, timeout=timeout, progress=progress)
    except DataFileNotFoundError as exc:
        if bad:
            raise DataFileNotFoundError(f"{exc}\nAlso: " + "; ".join(bad)) from None
        raise
