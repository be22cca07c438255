"""Uploaded zip archives, read safely.

`check_archive` looks only at the archive's directory (no decompression), so the upload form can
answer at once: entry count, unpacked size and compression ratio against the caps, names that would
escape the folder (`../`, absolute paths, drive letters), links, encrypted entries, duplicates, and
the layout (image folders or a CSV). `extract` then writes exactly the planned files, each to its
canonical place, counting the bytes it really writes: the sizes an archive declares are checked
again as they are decompressed, so a lying header cannot get past the caps either.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from training.layout import LayoutPlan, find_csv, plan_csv, plan_folders
from webapp.datasets.rejection import DatasetRejected, Limits, Problems, size_text

CSV_MAX_BYTES = 64 * 2**20
CHUNK = 2**20
WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:")


@dataclass
class ArchiveCheck:
    plan: LayoutPlan
    entries: dict[str, zipfile.ZipInfo]  # planned source name -> its entry
    unpacked_bytes: int

    def origin(self) -> dict:
        """What the dataset's `origin` records of the archive's layout."""
        return {"layout": self.plan.layout, "csv": self.plan.csv_name, "images": len(self.plan.files)}


def _size_of(fileobj: IO[bytes]) -> int:
    position = fileobj.tell()
    fileobj.seek(0, 2)
    size = fileobj.tell()
    fileobj.seek(position)
    return size


def _declared_entry_count(fileobj: IO[bytes]) -> int | None:
    """The entry count from the end record, read before zipfile loads the whole directory into memory."""
    try:
        end = zipfile._EndRecData(fileobj)  # noqa: SLF001  (stable since Python 2; no public equivalent)
    except (AttributeError, OSError):
        return None
    finally:
        fileobj.seek(0)
    return None if end is None else int(end[zipfile._ECD_ENTRIES_TOTAL])  # noqa: SLF001


def open_zip(fileobj: IO[bytes], limits: Limits) -> zipfile.ZipFile:
    size = _size_of(fileobj)
    if size > limits.max_bytes:
        raise DatasetRejected(f"The archive is {size_text(size)}; the limit is {size_text(limits.max_bytes)}.")
    declared = _declared_entry_count(fileobj)
    if declared is not None and declared > limits.max_entries:
        raise DatasetRejected(f"The archive has {declared:,} entries; the limit is {limits.max_entries:,}.")
    try:
        return zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile:
        raise DatasetRejected("The file is not a zip archive (or it is damaged). Upload a .zip file.") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetRejected(f"The zip archive cannot be read: {exc}.") from None


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    """The problem that rules an entry out on its name or kind alone, or None."""
    name = info.filename.replace("\\", "/")  # some Windows tools write backslashes
    if "\x00" in name:
        return "names with a NUL byte"
    if name.startswith("/") or WINDOWS_ABSOLUTE.match(name):
        return "absolute paths"
    if ".." in name.split("/"):
        return "paths that escape the folder (..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic links"
    return None


def _clean_name(info: zipfile.ZipInfo) -> str:
    """The entry's path without empty and `.` parts ("" for the archive's root folder)."""
    return "/".join(p for p in info.filename.replace("\\", "/").split("/") if p not in ("", "."))


def _bomb_ratio(info: zipfile.ZipInfo, limits: Limits) -> float | None:
    """The entry's compression ratio when it is large enough to matter and above the cap, else None."""
    if info.file_size < limits.ratio_applies_from:
        return None
    ratio = info.file_size / info.compress_size if info.compress_size else float("inf")
    return ratio if ratio > limits.max_ratio else None


def _entries(infos: list[zipfile.ZipInfo], limits: Limits) -> dict[str, zipfile.ZipInfo]:
    """The archive's files by clean name; raise DatasetRejected naming every offending entry."""
    problems = Problems()
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        raw, clean = info.filename, _clean_name(info)
        if (problem := _unsafe(info)) is not None:
            problems.add(problem, repr(raw) if problem == "names with a NUL byte" else raw)
        elif info.is_dir() or not clean:
            continue
        elif info.flag_bits & 0x1:
            problems.add("password-protected entries", raw)
        elif clean in entries:
            problems.add("entries given twice", raw)
        else:
            entries[clean] = info
            if (ratio := _bomb_ratio(info, limits)) is not None:
                problems.add(
                    f"entries that unpack to more than {limits.max_ratio}× their packed size (a zip bomb?)",
                    f"{raw} ({ratio:,.0f}×)",
                )
    total = sum(info.file_size for info in entries.values())
    if total > limits.max_bytes:
        problems.add(
            f"more data than the limit of {size_text(limits.max_bytes)}",
            f"the archive would unpack to {size_text(total)}",
        )
    problems.raise_if_any()
    return entries


def _plan(zf: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], limits: Limits) -> LayoutPlan:
    names = list(entries)
    csv_name = find_csv(names)
    if csv_name is None:
        return plan_folders(names)
    info = entries[csv_name]
    if info.file_size > CSV_MAX_BYTES:
        raise DatasetRejected(
            f"{csv_name} is {size_text(info.file_size)}; a labels CSV may be {size_text(CSV_MAX_BYTES)} at most."
        )
    return plan_csv(names, csv_name, _read_entry(zf, info, limits))


def check_is_zip(fileobj: IO[bytes], limits: Limits) -> None:
    """What the web request checks of an upload: its size, and the zip's end record (a few bytes at its end:
    the entry count it declares, and that it is a zip at all). Its directory, its CSV and its images are read
    by the dataset worker (`check_archive`), never in the web process."""
    size = _size_of(fileobj)
    if size > limits.max_bytes:
        raise DatasetRejected(f"The archive is {size_text(size)}; the limit is {size_text(limits.max_bytes)}.")
    declared = _declared_entry_count(fileobj)
    if declared is not None and declared > limits.max_entries:
        raise DatasetRejected(f"The archive has {declared:,} entries; the limit is {limits.max_entries:,}.")
    fileobj.seek(0)
    if not zipfile.is_zipfile(fileobj):
        raise DatasetRejected("The file is not a zip archive (or it is damaged). Upload a .zip file.")


def check_archive(fileobj: IO[bytes], limits: Limits) -> ArchiveCheck:
    """Check the archive's directory and plan its layout; raise DatasetRejected naming offenders."""
    with open_zip(fileobj, limits) as zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise DatasetRejected(f"The archive has {len(infos):,} entries; the limit is {limits.max_entries:,}.")
        entries = _entries(infos, limits)
        plan = _plan(zf, entries, limits)
    used = {f.source: entries[f.source] for f in plan.files}
    return ArchiveCheck(plan=plan, entries=used, unpacked_bytes=sum(i.file_size for i in used.values()))


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> bytes:
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as exc:
        raise DatasetRejected(f"{info.filename}: the archive entry cannot be read ({exc}).") from None


def safe_target(dest: Path, relative: str) -> Path:
    """dest/relative, refusing anything that would resolve outside dest (belt and braces)."""
    target = (dest / relative).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise DatasetRejected(f"{relative}: the path escapes the dataset folder.")
    return target


def extract(
    fileobj: IO[bytes],
    check: ArchiveCheck,
    dest: Path,
    limits: Limits,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> None:
    """Write the planned files under dest at their canonical places, enforcing the caps while writing."""
    written = 0
    files = check.plan.files
    with open_zip(fileobj, limits) as zf:
        for number, planned in enumerate(files, start=1):
            info = check.entries[planned.source]
            target = safe_target(dest, planned.target)
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with zf.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(CHUNK):
                        size += len(chunk)
                        written += len(chunk)
                        if size > info.file_size or written > limits.max_bytes:
                            raise DatasetRejected(
                                f"{planned.source}: the entry unpacks to more than the archive "
                                "declares or than the size limit allows."
                            )
                        out.write(chunk)
            except FileExistsError:
                raise DatasetRejected(
                    f"{planned.source}: two entries land on the same file ({planned.target})."
                ) from None
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise DatasetRejected(f"{planned.source}: the archive entry is corrupt ({exc}).") from None
            progress(number, len(files))
