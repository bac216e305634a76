"""File helpers with no torch import, shared by the training package and the explorer (whose page and tools must
import without torch): atomic writes and a file's sha256."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

# The process's umask, read once (os.umask can only be read by setting it): an atomic write gives its file the usual
# permissions, not mkstemp's 0600.
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write) -> None:
    """Call write(tmp_path), fsync, then rename over `path`: readers see the old file or the new one, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp (and some writers) make 0600 files; use the usual permissions
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
