"""Files Bitbox writes: atomically, only inside the output folder, scratch space kept there too.

- :func:`atomic_path`: a file is either absent, the old version, or the complete new one.
- :func:`safe_name`: a recording id that can only ever name one folder directly inside OUT.
- :func:`confined`: the check every batch write goes through (raises :class:`OutsideOutputError`
  when a target resolves outside OUT, symbolic links included).
- :func:`scratch_folder`: where processors keep temporary files (e.g. landmark spill files):
  inside OUT during a batch (``OUT/.bitbox-tmp/<run>/``, set for the current thread or task by
  :func:`scratch_scope`; a child interpreter gets it through the environment variable
  :data:`SCRATCH_ENV`), else in the system's temporary folder, named with the process id and
  host so that the folders of dead processes are removed by the next one.
- :func:`out_lock`: one writer per OUT (``OUT/.bitbox.lock``, an ``flock`` naming its holder).
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import errno
import json
import math
import os
import re
import shlex
import shutil
import socket
import stat
import sys
import tempfile
import threading
import unicodedata
import zlib
from pathlib import Path
from typing import Any, Iterator

from .errors import FileProblem, ParameterError
from .log import escape_controls, logger  # escape_controls: defined with the log formatter using it

__all__ = ["atomic_path", "write_json", "read_json", "write_text", "write_bytes", "jsonable", "safe_name",
           "confined", "OutsideOutputError", "scratch_folder", "scratch_root", "scratch_scope", "remove_stale_scratch",
           "is_atomic_leftover", "display_path", "escape_controls", "out_lock", "SCRATCH_ENV", "LOCK_FILE",
           "MAX_NAME_BYTES"]

#: Environment variable naming the scratch folder of the current batch, for a child interpreter
#: (``python -m bitbox.batch.worker``, given it explicitly); within a process the batch's folder is set
#: per thread or task with :func:`scratch_scope`, which takes precedence.
SCRATCH_ENV = "BITBOX_SCRATCH"

#: The lock file of an output folder (:func:`out_lock`).
LOCK_FILE = ".bitbox.lock"

#: The longest recording id, in UTF-8 bytes (file systems allow 255 per name; ``<id>.html`` and
#: temporary names need room too).
MAX_NAME_BYTES = 120


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On error the temporary file is removed and ``path`` is left untouched. The new file
    gets the usual permissions (``0o666`` less the umask).

    Parameters
    ----------
    path : str or Path
        The file to write. Its folder is created (with its parents) when missing; an existing
        file is replaced only once the ``with`` block has ended without an exception.

    Yields
    ------
    Path
        An empty temporary file in the same folder (``.<name>.<8 random characters>.tmp``) for
        the caller to write; it is synced to disk, then renamed to ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The name's form, ``.<name>.<8 random>.tmp``, is what is_atomic_leftover() recognises.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


#: ``.<name>.<8 characters of tempfile's alphabet>.tmp``: the temporary file of :func:`atomic_path`
_ATOMIC_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def is_atomic_leftover(name: str) -> bool:
    """Whether a file name has the form of :func:`atomic_path`'s temporary files
    (``.<name>.<8 random characters>.tmp``), i.e. one an interrupted write may have left."""
    return _ATOMIC_TMP.match(name) is not None


def display_path(path: str | Path, *, controls: bool = True) -> str:
    r"""``path`` (or any text) as text that can be written as UTF-8 and printed safely: the bytes of a
    file name that are not UTF-8 (held by Python as lone surrogates) are shown as ``\xNN``, other lone
    surrogates as ``\udNNN``, control characters as ``\xNN`` (:func:`escape_controls`; not with
    ``controls=False``, e.g. for a whole HTML page). Other text is returned unchanged.

    Parameters
    ----------
    path : str or Path
        The path or text to show (``str()`` of it is used).
    controls : bool, default True
        Whether control characters (C0, DEL and C1: newlines, tabs, terminal escape sequences) are
        escaped too; ``False`` only escapes what cannot be written as UTF-8.

    Returns
    -------
    str
        The text, printable and valid UTF-8.

    Examples
    --------
    >>> display_path(os.fsdecode(b"M\xfcller.wav"))
    'M\\xfcller.wav'
    """
    text = str(path)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that does not stand for a byte
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return escape_controls(text) if controls else text


def jsonable(value: Any) -> Any:
    """Turn numpy scalars into Python ones and non-finite floats into ``None`` (valid JSON).

    Parameters
    ----------
    value : object
        A value to write as JSON: dicts, lists and tuples are converted item by item (recursively;
        dict keys become ``str``), a numpy scalar or an array of one element becomes the Python
        scalar (``.item()``). Other values are returned as they are.

    Returns
    -------
    object
        ``value`` with dicts, lists and tuples copied (tuples as lists), NaN and infinities as
        ``None``.

    Raises
    ------
    ValueError
        For a numpy array of more than one element (``.item()`` cannot make it a scalar; pass
        ``array.tolist()``).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes atomically.

    Parameters
    ----------
    path : str or Path
        The file to write (replaced when it exists; its folder is created when missing).
    data : bytes
        The file's complete content.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    """Write text atomically (UTF-8).

    Parameters
    ----------
    path : str or Path
        The file to write (replaced when it exists; its folder is created when missing).
    text : str
        The file's complete content, encoded as UTF-8 (newlines are written as they are).
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically; NaN and infinities are written as ``null``.

    Parameters
    ----------
    path : str or Path
        The file to write (replaced when it exists; its folder is created when missing).
    data : object
        What to write: made JSON-ready by :func:`jsonable`, then written indented by two spaces,
        keys in their given order, with a final newline.

    Raises
    ------
    TypeError
        When ``data`` holds a value JSON cannot represent (e.g. a ``Path`` or a ``set``).
    ValueError
        When it holds a numpy array of more than one element (see :func:`jsonable`).
    """
    write_text(path, json.dumps(jsonable(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`write_json`.

    Parameters
    ----------
    path : str or Path
        The JSON file (UTF-8).

    Returns
    -------
    object
        The parsed content (``null`` read as ``None``).

    Raises
    ------
    OSError
        When the file cannot be read (e.g. ``FileNotFoundError``).
    json.JSONDecodeError
        When it is not valid JSON.
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# ---------------------------------------------------------------------------- names and confinement
class OutsideOutputError(FileProblem):
    """A file Bitbox was about to write resolves outside the output folder (e.g. through a symbolic link)."""


_SEPARATORS = {"/", "\\", os.sep, os.altsep or "/"}


def safe_name(text: str, *, fallback: str = "recording", max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file-system-safe single path component made from ``text`` (a recording id).

    Path separators, control characters and lone surrogates (the bytes of a file name that are
    not UTF-8) become ``_``; leading dots become ``_`` (so the
    name is neither ``.``/``..`` nor a hidden folder); an empty result becomes ``fallback``.
    A name longer than ``max_bytes`` (UTF-8) is cut and ends with ``_`` plus a CRC32 of the
    whole text, so that long names that differ only at the end stay distinct. Names that are
    already safe are returned unchanged.

    Parameters
    ----------
    text : str
        The id to turn into a name (``str()`` of it is used).
    fallback : str, default "recording"
        The name used when nothing but blanks would be left.
    max_bytes : int, default MAX_NAME_BYTES
        The longest name, in UTF-8 bytes (:data:`MAX_NAME_BYTES`, 120); a longer one is cut and tagged.

    Returns
    -------
    str
        One path component: no separator, control character or leading dot.

    Examples
    --------
    >>> safe_name("..")
    '__'
    >>> safe_name("site_a__sub01")
    'site_a__sub01'
    """
    # Cs: lone surrogates, how Python holds the bytes of a file name that are not UTF-8
    cleaned = "".join("_" if ch in _SEPARATORS or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")
                      else ch for ch in str(text))
    stripped = cleaned.lstrip(".")
    cleaned = "_" * (len(cleaned) - len(stripped)) + stripped
    if not cleaned.strip():
        cleaned = fallback
    if len(cleaned.encode("utf-8")) > max_bytes:
        tag = f"_{zlib.crc32(str(text).encode('utf-8', 'surrogateescape')):08x}"
        head = cleaned.encode("utf-8")[: max_bytes - len(tag)].decode("utf-8", "ignore")
        cleaned = head + tag
    return cleaned


def confined(out_dir: str | Path, target: str | Path) -> Path:
    """``target``, as an absolute path, checked to resolve inside ``out_dir``.

    A relative ``target`` is a part relative to ``out_dir`` (``confined(OUT, "rec/face.json")``);
    an absolute one is checked as it is. A relative ``out_dir`` is relative to the working
    directory. Both are resolved (symbolic links followed, also for parts that exist only
    partly), so a link inside OUT that points elsewhere is caught, as are ``..`` components.

    Returns
    -------
    Path
        ``target`` made absolute (not resolved: links in ``out_dir`` itself are kept).

    Raises
    ------
    OutsideOutputError
        When ``target`` would be written outside ``out_dir``.
    """
    out_dir = Path(out_dir).absolute()
    root = out_dir.resolve()
    path = Path(target) if Path(target).is_absolute() else out_dir / target
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise OutsideOutputError(path, f"resolves to {resolved}, outside the output folder {root}",
                                 "Nothing was written there. Remove the symbolic link (or the '..') that leads "
                                 "out of the output folder")
    return path


# ---------------------------------------------------------------------------- scratch space
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"
#: ``<prefix>pid<PID>-<HOST>-<8 random>``: a scratch folder in the system's temporary folder
_OWNED = re.compile(r"^bitbox-(?:.*-)?pid(?P<pid>\d+)-(?P<host>[A-Za-z0-9_]+)-[a-z0-9_]{8}$")


#: The scratch folder of the batch the current thread or task works for (see scratch_scope)
_SCRATCH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("bitbox_scratch", default=None)


def scratch_root() -> Path | None:
    """The scratch folder of the batch this thread or task works for, or ``None``.

    Set by :func:`scratch_scope` (for the current thread or task only: a Dask worker runs the
    tasks of several batches in threads at once); in a child interpreter started for one
    recording, the environment variable :data:`SCRATCH_ENV`.
    """
    folder = _SCRATCH.get()
    if folder is not None:
        return folder
    value = os.environ.get(SCRATCH_ENV)
    return Path(value) if value else None


@contextlib.contextmanager
def scratch_scope(folder: str | Path | None) -> Iterator[None]:
    """Make ``folder`` the scratch folder of the current thread or task for the duration
    (``None``: leave it as it is). The process's environment is not changed."""
    if folder is None:
        yield
        return
    token = _SCRATCH.set(Path(folder))
    try:
        yield
    finally:
        _SCRATCH.reset(token)


def _alive(pid: int) -> bool | None:
    """Whether process ``pid`` runs; ``None`` when ``pid`` cannot be a process id at all."""
    try:
        os.kill(pid, 0)
    except (OverflowError, ValueError):  # larger than any PID: not a folder Bitbox made
        return None
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_scratch(folder: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders of dead processes of this user on this host from ``folder``
    (default: the system's temporary folder); return what was removed."""
    folder = Path(folder if folder is not None else tempfile.gettempdir())
    removed = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _OWNED.match(entry.name)
        if match is None or match["host"] != _HOST or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if uid is not None and entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        alive = _alive(int(match["pid"]))
        if alive is None:
            logger.debug("%s: not a process id Bitbox could have written; left alone", entry.path)
        if alive is not False:
            continue
        logger.info("removing %s, the scratch folder of a Bitbox process that is no longer running", entry.path)
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


#: (process id, folder) pairs already cleaned of dead processes' scratch folders
_CLEANED: set[tuple[int, str]] = set()
_CLEANED_LOCK = threading.Lock()


def _remove_stale_scratch_once() -> None:
    """:func:`remove_stale_scratch` on the system's temporary folder, once per process (not on
    every spill file: the folder can hold many entries)."""
    key = (os.getpid(), os.path.realpath(tempfile.gettempdir()))
    with _CLEANED_LOCK:
        if key in _CLEANED:
            return
        _CLEANED.add(key)
    remove_stale_scratch(key[1])


def scratch_folder(prefix: str = "bitbox-") -> tempfile.TemporaryDirectory:
    """A new temporary folder for a processor's intermediate files; remove it with ``.cleanup()``
    (or use it as a context manager).

    During a batch it lies in the batch's scratch folder inside OUT (:func:`scratch_root`), which
    the batch removes when it ends, and the next batch into that OUT removes if this one was
    killed. Elsewhere (``bitbox.process()`` in a notebook) it lies in the system's temporary
    folder, named with this process's id and host; the first one a process creates there first
    removes those of this user's dead processes on this host.

    Parameters
    ----------
    prefix : str
        Start of the folder's name, e.g. ``"bitbox-face-"``.
    """
    root = scratch_root()
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(prefix=prefix, dir=root)
    _remove_stale_scratch_once()
    if not prefix.startswith("bitbox-"):
        prefix = f"bitbox-{prefix}"
    if not prefix.endswith("-"):
        prefix += "-"
    return tempfile.TemporaryDirectory(prefix=f"{prefix}pid{os.getpid()}-{_HOST}-")


# ---------------------------------------------------------------------------- one writer per OUT
#: errno values of a lock held by another open file (another run, or another thread's lock)
_HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES}
#: the output folders whose lock this thread holds (so that a nested out_lock does not lock itself out)
_HELD_HERE = threading.local()


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second (tables, lock files)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _command() -> str:
    """This process's command line (for the lock file), shortened."""
    argv = list(sys.argv) if sys.argv and sys.argv[0] else [sys.executable]
    if Path(argv[0]).name == "bitbox" or (Path(argv[0]).parent.name == "bitbox" and argv[0].endswith("__main__.py")):
        argv[0] = "bitbox"
    text = shlex.join(display_path(a) for a in argv)
    return text if len(text) <= 500 else text[:497] + "..."


def _read_holder(handle) -> dict[str, Any]:
    """What the lock file says about the run that holds (or held) it; ``{}`` when it says nothing."""
    handle.seek(0)
    try:
        info = json.loads(handle.read(65536) or "{}")
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _describe_holder(info: dict[str, Any]) -> str:
    if not info:
        return f"it holds {LOCK_FILE}"
    text = f"PID {info.get('pid', '?')} on host {info.get('host', '?')}, since {info.get('since', '?')}"
    return text + (f": {info['command']}" if info.get("command") else "")


def _no_locks(out_dir: Path, err: OSError) -> ParameterError:
    return ParameterError(f"{out_dir} is on a file system that does not support file locks ({err.strerror or err}), "
                          "so Bitbox cannot make sure that only one run writes there. Write OUT to a local disk (and "
                          "copy the results to the share afterwards).")


def _kind_of(mode: int) -> str:
    for test, what in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return what
    return "not a regular file"


def _not_own_file(path: Path, what: str) -> ParameterError:
    return ParameterError(f"{path} is not a regular file of its own ({what}). Bitbox did not write to it; remove it "
                          "and run again.")


def _open_lock_file(out_dir: Path) -> int:
    """Open (or create, mode 0600: it names input paths) ``OUT/.bitbox.lock``; it must be a regular
    file of its own (no symbolic link, FIFO, device, or hard link to a file elsewhere, which would be
    emptied). Opening never blocks (``O_NONBLOCK``: a FIFO)."""
    path = confined(out_dir, LOCK_FILE)
    flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise _not_own_file(path, "it is a symbolic link") from None
        raise ParameterError(f"Cannot create the lock file {path} ({err.strerror or err}). Check that {out_dir} "
                             "is a folder this user can write to, or write to another output folder.") from None
    info = os.fstat(fd)
    if not (stat.S_ISREG(info.st_mode) and info.st_nlink == 1):
        os.close(fd)
        raise _not_own_file(path, f"it has {info.st_nlink} hard links" if stat.S_ISREG(info.st_mode)
                            else f"it is {_kind_of(info.st_mode)}")
    os.set_blocking(fd, True)
    if info.st_mode & 0o077 and hasattr(os, "fchmod"):
        with contextlib.suppress(OSError):  # the lock file of an earlier Bitbox, readable by others
            os.fchmod(fd, 0o600)
    return fd


@contextlib.contextmanager
def out_lock(out_dir: str | Path, *, wait: bool = False) -> Iterator[None]:
    """Hold ``OUT/.bitbox.lock`` while writing to an output folder: one writer per OUT at a time.

    The lock is an ``flock`` on the file (released by the kernel when the process dies, even
    with ``kill -9``); the file records the holder's PID, host, start time and command, so that
    another writer can say who holds it, and is emptied on release. A file still naming a run that
    does not hold the lock any more is stale (that run died): it is taken over, with a warning.
    A thread that already holds the lock of ``out_dir`` holds it again at once (``bitbox run`` and
    the report it might write share one lock).

    Parameters
    ----------
    out_dir : path
        The output folder (it must exist).
    wait : bool
        When another writer holds the lock: wait for it (logged) instead of raising.

    Raises
    ------
    ParameterError
        When another writer holds the lock and ``wait`` is False; when the lock file is not a
        regular file of its own; when the file system does not support locks.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    out_dir = Path(out_dir).absolute()
    key = str(out_dir.resolve())
    held = getattr(_HELD_HERE, "folders", None)
    if held is None:
        held = _HELD_HERE.folders = {}
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    with os.fdopen(_open_lock_file(out_dir), "r+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in _HELD:  # e.g. ENOLCK, EOPNOTSUPP: an SMB, FUSE or NFS (nolock) mount
                raise _no_locks(out_dir, err) from None
            holder = _describe_holder(_read_holder(handle))
            if not wait:
                raise ParameterError(f"{out_dir} is being written by another bitbox run ({holder}). Wait for that "
                                     "run to finish (or run again with --wait, wait=True in Python), or write to "
                                     "another output folder.") from None
            logger.warning("%s is being written by another bitbox run (%s); waiting for it to finish", out_dir,
                           holder)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError as err:
                raise _no_locks(out_dir, err) from None
            logger.warning("the other run into %s has finished; this one starts", out_dir)
        held[key] = 1
        try:
            stale = _read_holder(handle)
            if stale:
                logger.warning("%s: taking over the lock of a bitbox run that ended without releasing it (%s)",
                               out_dir, _describe_holder(stale))
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now(),
                                     "command": _command()}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            yield
        finally:
            held.pop(key, None)
            handle.seek(0)
            handle.truncate()  # emptied before it is released: a non-empty unheld lock means a dead run
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
