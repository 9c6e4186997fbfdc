"""Which folders a folder system may delete in: checked before a run lists one file, and by `policies check`.

`HYGIENE_CALMO_INVOICES=.` once made the working directory a managed folder, and a policy could name `root: /`.
A root is therefore refused unless it is an absolute path, is not (and does not hold) the file system root,
the home folder, the working directory, this project's checkout or a system folder, is not inside the
operating system's own folders or the checkout, and holds the marker file `.hygiene-root` naming the
controller and the system it is managed for. The marker is the owner's confirmation, given once per folder
with `hygiene folder adopt --controller C --system S PATH`; one for another system does not count, so one
folder is never deleted in under two different rules by a typo in a variable.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from hygiene.connector import ConnectorError

MARKER = ".hygiene-root"
#: a marker larger than this is not one this tool wrote
_MARKER_LIMIT = 4096
#: folders that are never a root, nor a folder holding one of them
_SYSTEM_FOLDERS = tuple(
    Path(f"/{name}")
    for name in [
        *("bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "mnt", "opt", "proc"),
        *("root", "run", "sbin", "snap", "srv", "sys", "tmp", "usr", "var"),
        *("Applications", "Library", "System", "Users", "Volumes", "private"),
    ]
)
#: folders whose inside belongs to the operating system: no root below them either
_SYSTEM_INSIDE = tuple(
    Path(f"/{name}")
    for name in [*("bin", "boot", "dev", "etc", "lib", "lib32", "lib64"), *("proc", "run", "sbin", "sys", "usr")]
)
#: this project's own tree; its git-ignored workspaces (.demo, .hygiene) hold data, not the project
CHECKOUT = Path(__file__).resolve().parents[1]
_WORKSPACES = (CHECKOUT / ".demo", CHECKOUT / ".hygiene")


class UnsafeRoot(ConnectorError):
    """A folder root that hygiene must not delete in; the message names the setting to change."""


def check_root(root: str, *, controller: str, system: str, setting: str) -> Path:
    """`root` as an absolute path when it may be managed for (controller, system); else UnsafeRoot, one line."""
    problem = root_problem(root, controller=controller, system=system)
    if problem is not None:
        raise UnsafeRoot(f"{controller}: system {system}: {setting}: {problem}")
    return Path(root)


def root_problem(root: str, *, controller: str, system: str) -> str | None:
    """Why `root` may not be a managed folder of (controller, system), or None."""
    problem = place_problem(root)
    return problem if problem is not None else _marker_problem(Path(root), controller, system)


def place_problem(root: str) -> str | None:
    """Why `root` can never be a managed folder, whatever it holds (checked before a marker is written)."""
    path = Path(root)
    if not path.is_absolute():
        return f"{root!r} is not an absolute path; name the folder from / (the working directory is never a root)"
    real = path.resolve()
    protected = [
        ("the home folder", Path.home().resolve()),
        ("the working directory", Path.cwd().resolve()),
        ("this project's checkout", CHECKOUT),
        *((f"the system folder {folder}", folder) for folder in _SYSTEM_FOLDERS),
    ]
    if real == Path(real.anchor):
        return f"{root} is the file system root"
    for name, folder in protected:
        if real == folder or real in folder.parents:
            return f"{root} is or holds {name}; name a folder of its own for the files"
    for folder in _SYSTEM_INSIDE:
        if folder in real.parents:
            return f"{root} is inside the system folder {folder}"
    if CHECKOUT in real.parents and not any(real == w or w in real.parents for w in _WORKSPACES):
        return f"{root} is inside this project's checkout"
    return None


def marker_text(controller: str, system: str) -> str:
    return (
        "# hygiene deletes files in this folder when their retention period ends (hygiene folder adopt)\n"
        f"controller: {controller}\nsystem: {system}\n"
    )


def adopt(root: str, *, controller: str, system: str) -> Path:
    """Write the marker that makes `root` a managed folder of (controller, system); refused where never allowed."""
    problem = place_problem(root)
    if problem is not None:
        raise UnsafeRoot(f"{controller}: system {system}: {problem}")
    marker = Path(root) / MARKER
    try:
        existing = _read_marker(Path(root))
    except OSError as error:
        raise UnsafeRoot(f"{controller}: system {system}: {root} cannot be read ({error.strerror})") from None
    if existing is not None and existing != (controller, system):
        raise UnsafeRoot(
            f"{controller}: system {system}: {root} is already managed for {existing[0]}/{existing[1]} "
            f"(its {MARKER}); one folder is managed for one system"
        )
    marker.write_text(marker_text(controller, system), encoding="utf-8")
    return marker


def _marker_problem(root: Path, controller: str, system: str) -> str | None:
    try:
        found = _read_marker(root)
    except OSError as error:
        return f"{root} cannot be read ({error.strerror})"
    if found is None:
        return (
            f"{root} has no {MARKER} marker; if hygiene may delete files there, run "
            f"`hygiene folder adopt --controller {controller} --system {system} {root}` once"
        )
    if found != (controller, system):
        return f"{root} is managed for {found[0]}/{found[1]} (its {MARKER}), not {controller}/{system}"
    return None


def _read_marker(root: Path) -> tuple[str, str] | None:
    """(controller, system) the folder's marker names, None without one; OSError when the folder is unreadable.

    The marker is opened without following a link, so a link to another folder's marker does not count.
    """
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            descriptor = os.open(MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ELOOP):
                return None
            raise
        try:
            text = os.read(descriptor, _MARKER_LIMIT).decode("utf-8", "replace")
        finally:
            os.close(descriptor)
    finally:
        os.close(folder)
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in text.splitlines() if not line.startswith("#"))
    )
    return fields.get("controller", ""), fields.get("system", "")
