"""7z archives with md5 checksums: listing, checked streaming extraction, packing.

The tool behind ``eo-tfds extract`` and the s2_cloud_timeseries reader (whose publisher
ships its TFRecords in ``.7z`` archives, each with an md5), usable for any such archive:

- :func:`read_md5_file`, :func:`find_md5`, :func:`file_md5`: checksum files in the usual
  spellings (``<hex>  <name>``, ``<hex> *<name>``, ``MD5 (<name>) = <hex>``, a bare hex);
- :func:`archive_members`: what an archive holds (its header only);
- :func:`extract_archive`: every member streamed to disk under a temporary name and
  renamed once whole and CRC-checked; skips an archive already fully extracted, resumes
  an interrupted one; md5 checked before anything is written;
- :func:`write_archive`: packs files into an archive, with its ``.md5`` beside it.

Every file written goes through :mod:`parsers.atomic`: no partial file ever stands under
its final name. Bad archives raise :class:`~parsers.errors.SourceDataError` naming them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re

from parsers import atomic
from parsers.errors import SourceDataError, machine_error

MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")


def read_md5_file(md5_path: os.PathLike | str, name: str | None = None) -> str:
    """The hex digest for ``name`` from an md5 file (``<hex>  <name>``, ``<hex> *<name>``,
    ``MD5 (<name>) = <hex>`` or a bare ``<hex>``). With a single entry, that entry."""
    md5_path = pathlib.Path(md5_path)
    try:
        text = md5_path.read_text(errors="replace")
    except OSError as e:
        raise SourceDataError(md5_path, f"cannot read the md5 file ({e.strerror})",
                              "check the path") from None
    entries: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        bsd = re.match(r"^MD5\s*\((.*)\)\s*=\s*([0-9a-fA-F]{32})$", line)
        if bsd:
            entries.append((bsd.group(2).lower(), bsd.group(1)))
            continue
        parts = line.split(None, 1)
        if MD5_RE.match(parts[0]):
            entry = parts[1].strip().lstrip("*") if len(parts) > 1 else None
            entries.append((parts[0].lower(), os.path.basename(entry) if entry else None))
    if name is not None:
        for digest, entry in entries:
            if entry == os.path.basename(name):
                return digest
    if len(entries) == 1:
        return entries[0][0]
    raise SourceDataError(md5_path, f"no md5 entry for {name!r}" if entries else
                          "holds no md5 digest", "give the digest of the archive")


def find_md5(archive: os.PathLike | str) -> str | None:
    """The expected md5 of an archive from a checksum file beside it, if there is one:
    ``<archive>.md5``, ``<archive stem>.md5``, or any ``*.md5`` naming the archive."""
    archive = pathlib.Path(archive)
    for candidate in (archive.with_name(archive.name + ".md5"), archive.with_suffix(".md5")):
        if candidate.is_file():
            return read_md5_file(candidate, archive.name)
    for candidate in sorted(archive.parent.glob("*.md5")):
        try:
            if archive.name in candidate.read_text(errors="replace"):
                return read_md5_file(candidate, archive.name)
        except (OSError, SourceDataError):
            continue
    return None


def file_md5(path: os.PathLike | str, progress: bool = False) -> str:
    """The md5 hex digest of a file, read in 8 MiB blocks."""
    from tqdm.auto import tqdm

    path = pathlib.Path(path)
    digest = hashlib.md5()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                     desc=f"md5 {path.name}", disable=not progress,
                                     leave=False) as bar:
        while block := f.read(8 << 20):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


# --------------------------------------------------------------------------- archives


class _OutputError(Exception):
    """An OSError while writing to the scratch folder (not the archive's fault)."""


def member_path(out_dir: pathlib.Path, member: str, archive) -> pathlib.Path:
    """Where ``member`` of ``archive`` goes under ``out_dir``; an error for a member that
    would land outside it (absolute, or with ``..``)."""
    parts = pathlib.PurePosixPath(member.replace("\\", "/")).parts
    if not parts or member.startswith("/") or ".." in parts:
        raise SourceDataError(archive, f"member {member!r} would be written outside the output "
                              "folder", "the archive is not from this dataset")
    return out_dir.joinpath(*parts)


def archive_members(archive: pathlib.Path) -> list[tuple[str, int]]:
    """(name, uncompressed size) of every regular-file member; reads the header only."""
    import py7zr

    try:
        with py7zr.SevenZipFile(archive, "r") as z:
            return [(f.filename, int(f.uncompressed or 0)) for f in z.list()
                    if not f.is_directory and not f.is_symlink]
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            raise SourceDataError(archive, "archive not found", "check the path") from None
        raise machine_error(e, archive) or SourceDataError(
            archive, f"the archive cannot be read ({e}); it is cut short or corrupt",
            "download it again") from None
    except Exception as e:  # py7zr raises many types for a broken header
        raise SourceDataError(archive, f"the archive cannot be read ({type(e).__name__}: {e}); "
                              "it is cut short or corrupt", "download it again") from None


def _marker_path(out_dir: pathlib.Path, archive: pathlib.Path) -> pathlib.Path:
    return out_dir / f".{archive.name}.extracted.json"


def _archive_stamp(archive: pathlib.Path) -> dict:
    st = archive.stat()
    return {"archive": archive.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def extract_archive(archive: os.PathLike | str, out_dir: os.PathLike | str,
                    md5: str | os.PathLike | None = None,
                    progress: bool = True) -> list[pathlib.Path]:
    """Extracts every file of a ``.7z`` archive into ``out_dir``; returns their paths.

    - ``md5``: the expected digest of the archive, as hex or as the path of an ``.md5``
      file (``<hex>  <name>``); checked before anything is written.
    - Members are streamed to disk one after another (never held in memory), each under a
      hidden temporary name, and renamed only once complete and CRC-checked.
    - An archive already fully extracted (a completion marker in ``out_dir`` matching the
      archive's size, mtime and members) is skipped; after an interruption, members
      already complete are kept and the rest extracted.

    Raises SourceDataError naming the archive when it is cut short or corrupt or its md5
    does not match; no partial member is then left under its final name.
    """
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory
    from tqdm.auto import tqdm

    archive = pathlib.Path(archive)
    out_dir = pathlib.Path(out_dir).absolute()
    if not archive.is_file():
        raise SourceDataError(archive, "archive not found", "check the path")
    expected_md5 = None
    if md5 is not None:
        if isinstance(md5, str) and MD5_RE.match(md5.strip()):
            expected_md5 = md5.strip().lower()
        else:
            expected_md5 = read_md5_file(md5, archive.name)

    stamp = _archive_stamp(archive)
    marker = _marker_path(out_dir, archive)
    members = archive_members(archive)
    paths = {name: member_path(out_dir, name, archive) for name, _ in members}
    listing = {name: size for name, size in members}

    def complete(name: str, size: int) -> bool:
        p = paths[name]
        return p.is_file() and p.stat().st_size == size

    try:
        state = json.loads(marker.read_text()) if marker.is_file() else {}
    except (OSError, ValueError):
        state = {}
    # Members on disk are trusted only if the marker says they came from this very archive.
    same_archive = ({k: state.get(k) for k in stamp} == stamp
                    and state.get("members") == listing)
    if same_archive and state.get("complete") and all(complete(n, s) for n, s in members):
        if expected_md5 is None or state.get("md5") == expected_md5:
            return [paths[n] for n, _ in members]
    if same_archive and expected_md5 and state.get("md5") not in (None, expected_md5):
        raise SourceDataError(archive, f"md5 is {state['md5']}, expected {expected_md5}",
                              "the archive is damaged or a different version; download it "
                              "again")

    actual_md5 = state.get("md5") if same_archive else None
    if expected_md5 is not None and actual_md5 is None:
        actual_md5 = file_md5(archive, progress=progress)
        if actual_md5 != expected_md5:
            raise SourceDataError(archive, f"md5 is {actual_md5}, expected {expected_md5}",
                                  "the archive is damaged or a different version; download "
                                  "it again")

    todo = [(n, s) for n, s in members if not (same_archive and complete(n, s))]
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_marker(marker, dict(stamp, members=listing, md5=actual_md5, complete=False))
    open_parts: dict[str, tuple] = {}  # final path -> (temp path, file object)
    bar = tqdm(total=sum(s for _, s in todo), unit="B", unit_scale=True,
               desc=f"extract {archive.name}", disable=not progress or not todo, leave=False)

    class _Member(Py7zIO):
        """Streams one member into its temporary file; renames it once py7zr closes it."""

        def __init__(self, final: pathlib.Path):
            self.final = final
            self.temp = atomic.temporary_name(final)
            self._size = 0
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                self.file = open(self.temp, "wb")
            except OSError as e:
                raise _OutputError(e) from e
            open_parts[str(final)] = (self.temp, self.file)

        def write(self, s):
            try:
                n = self.file.write(s)
            except OSError as e:  # disk full: a write names no file, say which
                e.filename = e.filename or str(self.temp)
                raise _OutputError(e) from e
            self._size += len(s)
            bar.update(len(s))
            return n

        def read(self, size=None):
            return b""

        def seek(self, offset, whence=0):
            return self._size  # py7zr rewinds before close; the file is write-only

        def flush(self):
            self.file.flush()

        def size(self):
            return self._size

        def close(self):
            # py7zr calls this only after the member's CRC has been checked
            try:
                self.file.close()
                os.replace(self.temp, self.final)
            except OSError as e:
                raise _OutputError(e) from e
            open_parts.pop(str(self.final), None)

    class _Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            final = pathlib.Path(filename)
            if out_dir.resolve() not in final.resolve().parents:
                raise SourceDataError(archive, f"member {filename!r} would be written outside "
                                      "the output folder", "the archive is not from this dataset")
            return _Member(final)

    try:
        if todo:
            for name, _ in todo:  # leftovers of an interrupted run
                for stale in atomic.stale_temporaries(paths[name]):
                    stale.unlink()
            # A file object (not a name) keeps py7zr sequential: one member at a time.
            with open(archive, "rb") as fp, py7zr.SevenZipFile(fp, "r") as z:
                z.extract(path=out_dir, targets=[n for n, _ in todo], factory=_Factory())
            missing = [n for n, s in todo if not complete(n, s)]
            if missing:
                raise SourceDataError(archive, f"member {missing[0]!r} was not extracted whole; "
                                      "the archive is cut short or corrupt", "download it again")
    except SourceDataError:
        _discard(open_parts)
        raise
    except _OutputError as e:
        _discard(open_parts)
        raise e.args[0] from None
    except BaseException as e:
        _discard(open_parts)
        if not isinstance(e, Exception) or isinstance(e, (MemoryError, RecursionError)):
            raise  # KeyboardInterrupt and the like: partial files are already gone
        raise SourceDataError(archive, f"extraction failed ({type(e).__name__}: {e}); the "
                              "archive is cut short or corrupt", "download it again") from None
    finally:
        bar.close()

    _write_marker(marker, dict(stamp, members=listing, md5=actual_md5, complete=True))
    return [paths[n] for n, _ in members]


def _write_marker(marker: pathlib.Path, state: dict) -> None:
    atomic.write_text(marker, json.dumps(state, indent=1, sort_keys=True))


def _discard(open_parts: dict) -> None:
    for temp, file in list(open_parts.values()):
        try:
            file.close()
        except OSError:
            pass
        try:
            os.unlink(temp)
        except OSError:
            pass
    open_parts.clear()


# --------------------------------------------------------------------------- packing


def write_archive(path: os.PathLike | str, members: dict[str, os.PathLike | str],
                  write_md5: bool = True) -> pathlib.Path:
    """Packs files into a ``.7z`` archive (``{member name: file}``), atomically, with an
    ``<archive>.md5`` beside it (``<hex>  <name>``) when ``write_md5``."""
    import py7zr

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        with py7zr.SevenZipFile(tmp, "w") as z:
            for arcname, file in members.items():
                z.write(file, arcname)
    if write_md5:
        atomic.write_text(path.with_name(path.name + ".md5"), f"{file_md5(path)}  {path.name}\n")
    return path
