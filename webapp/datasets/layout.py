"""From a list of file paths to a dataset layout: which file is which class, in which split.

Pure functions on relative POSIX paths, shared by archive uploads (the zip's entry names, before
anything is extracted) and server folders (a walk of the folder), so both follow the same rules:

- one folder per class: `cats/001.png`, nested folders inside a class allowed;
- or split folders that fix the split: `train/cats/001.png`, `val/...`, `test/...` (also `valid`,
  `validation`); `train` is required, the others are optional;
- a single wrapping folder, as zipping a folder makes (`animals/cats/001.png`), is looked through;
- operating-system litter (`__MACOSX/`, `.DS_Store`, hidden files) and top-level notes (README,
  LICENSE, *.txt, *.md, ...) are ignored, and said so in the health report;
- anything else that is not an image is rejected by name.

The CSV layout (`filename,label[,split]` plus images anywhere in the archive) maps to the same
canonical form: `[split/]label/file`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from training.data import IMAGE_EXTENSIONS
from webapp.datasets.rejection import DatasetRejected, Problems

SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
LITTER_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "__macosx"}
NOTE_SUFFIXES = {".txt", ".md", ".rst", ".json", ".yaml", ".yml", ".pdf", ".html"}
NOTE_PREFIXES = ("readme", "license", "licence", "citation", "notice", "changelog")
CSV_HEADER_WORDS = {"filename", "file", "file_name", "path", "filepath", "image", "image_path", "image_id", "id"}


@dataclass(frozen=True)
class PlannedFile:
    source: str  # where it is now: an archive entry name or a path relative to the folder
    target: str  # canonical place: "[split/]class/rest/of/path"
    split: str | None  # None when the split is drawn from the seed
    label: str


@dataclass
class LayoutPlan:
    files: list[PlannedFile]
    classes: list[str]
    fixed_split: bool
    layout: str  # "folders" or "csv"
    ignored: list[str] = field(default_factory=list)  # litter and notes, left out
    unlisted: list[str] = field(default_factory=list)  # CSV layout: images the CSV does not name
    csv_name: str | None = None


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def is_litter(path: PurePosixPath) -> bool:
    return any(part.startswith(".") or part.lower() in LITTER_NAMES for part in path.parts)


def is_note(path: PurePosixPath) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in NOTE_SUFFIXES or name.startswith(NOTE_PREFIXES)


def _strip_wrapper(paths: list[PurePosixPath]) -> tuple[list[PurePosixPath], str | None]:
    """`animals/cats/1.png` -> `cats/1.png` when every file is under one folder that is not a class."""
    if not paths:
        return paths, None
    first = {p.parts[0] for p in paths}
    if len(first) != 1 or any(len(p.parts) < 2 for p in paths):
        return paths, None
    wrapper = next(iter(first))
    if wrapper.lower() in SPLIT_ALIASES:
        return paths, None
    # Images directly inside the wrapper mean it is a class folder, not a wrapper.
    if any(len(p.parts) == 2 and is_image_name(p.name) for p in paths):
        return paths, None
    return [PurePosixPath(*p.parts[1:]) for p in paths], wrapper


def plan_folders(names: list[str]) -> LayoutPlan:
    """Plan an image-folder layout from relative file paths; raise DatasetRejected naming offenders."""
    problems = Problems()
    ignored: list[str] = []
    kept: list[tuple[str, PurePosixPath]] = []
    for name in names:
        path = PurePosixPath(name)
        if is_litter(path):
            ignored.append(name)
        else:
            kept.append((name, path))
    stripped, _wrapper = _strip_wrapper([p for _, p in kept])
    entries = [(name, path) for (name, _), path in zip(kept, stripped, strict=True)]

    tops = {path.parts[0] for _, path in entries if len(path.parts) > 1}
    split_tops = {t for t in tops if t.lower() in SPLIT_ALIASES}
    fixed = bool(split_tops)
    if fixed:
        others = sorted(tops - split_tops)
        if others:
            problems.add(
                "folders next to the split folders (put class folders inside train/, val/ or test/, "
                "or use no split folders at all)",
                ", ".join(others),
            )
        canonical = [SPLIT_ALIASES[t.lower()] for t in split_tops]
        if len(set(canonical)) != len(canonical):
            problems.add("split folders given twice under different names", ", ".join(sorted(split_tops)))
        if "train" not in canonical:
            problems.add("split folders without a train/ folder", ", ".join(sorted(split_tops)))

    files: list[PlannedFile] = []
    for name, path in entries:
        if fixed and (len(path.parts) == 1 or path.parts[0] not in split_tops):
            if len(path.parts) == 1:
                _loose_file(name, path, problems, ignored)
            continue  # a file under a folder next to the split folders: that folder is named already
        inner = path.parts[1:] if fixed else path.parts
        if len(inner) == 1:
            _loose_file(name, path, problems, ignored)
            continue
        if not is_image_name(path.name):
            problems.add("files that are not images", name)
            continue
        split = SPLIT_ALIASES[path.parts[0].lower()] if fixed else None
        target = "/".join(((split,) if split else ()) + inner)
        files.append(PlannedFile(source=name, target=target, split=split, label=inner[0]))
    problems.raise_if_any()
    return _finish(files, fixed, "folders", ignored)


def _loose_file(name: str, path: PurePosixPath, problems: Problems, ignored: list[str]) -> None:
    """A file outside any class folder: a note is ignored, anything else is a mistake."""
    if is_note(path):
        ignored.append(name)
    elif is_image_name(path.name):
        problems.add("images outside class folders", name)
    else:
        problems.add("files that are not images", name)


def _finish(
    files: list[PlannedFile],
    fixed: bool,
    layout: str,
    ignored: list[str],
    unlisted: list[str] | None = None,
    csv_name: str | None = None,
) -> LayoutPlan:
    if not files:
        raise DatasetRejected(
            "The dataset is empty: there are no images in class folders"
            + (" listed in the CSV" if layout == "csv" else "")
            + "."
        )
    classes = sorted({f.label for f in files})
    if len(classes) < 2:
        raise DatasetRejected(
            f"A classifier needs at least two classes; this dataset has one: {classes[0]}. "
            "Put each class's images in its own folder."
        )
    if fixed:
        trained = {f.label for f in files if f.split == "train"}
        missing = [c for c in classes if c not in trained]
        if missing:
            problems = Problems()
            for c in missing:
                problems.add("classes with no images in train/", c)
            problems.raise_if_any()
    return LayoutPlan(
        files=sorted(files, key=lambda f: f.target),
        classes=classes,
        fixed_split=fixed,
        layout=layout,
        ignored=ignored,
        unlisted=unlisted or [],
        csv_name=csv_name,
    )


def _label_problem(label: str) -> bool:
    return (
        not label
        or label in {".", ".."}
        or label.startswith(".")
        or "/" in label
        or "\\" in label
        or "\x00" in label
        or len(label) > 120
    )


def plan_csv(names: list[str], csv_name: str, csv_bytes: bytes) -> LayoutPlan:
    """Plan a CSV layout: `filename,label[,split]` rows naming images anywhere in the archive.

    A filename is looked up relative to the CSV's folder, then the archive's root, then by its bare
    name when exactly one image in the archive has it (Kaggle-style `images/` folders).
    """
    try:
        text = csv_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetRejected(f"{csv_name} is not UTF-8 text; save it as UTF-8 CSV.") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise DatasetRejected(f"{csv_name} is empty: it needs one `filename,label` row per image.")
    header = [c.strip().lower() for c in rows[0]]
    split_column = 2
    if header and header[0] in CSV_HEADER_WORDS:
        split_column = header.index("split") if "split" in header else 2
        rows = rows[1:]
    images = [n for n in names if is_image_name(n) and not is_litter(PurePosixPath(n))]
    image_set = set(images)
    by_basename: dict[str, list[str]] = {}
    for n in images:
        by_basename.setdefault(PurePosixPath(n).name, []).append(n)
    base = PurePosixPath(csv_name).parent

    problems = Problems()
    files: list[PlannedFile] = []
    used: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if len(cells) < 2 or not cells[0] or not cells[1]:
            problems.add(f"rows of {csv_name} without a filename and a label", f"row {number}")
            continue
        filename, label = cells[0].replace("\\", "/"), cells[1]
        split = None
        if len(cells) > split_column and cells[split_column]:
            split = SPLIT_ALIASES.get(cells[split_column].lower())
            if split is None:
                problems.add(
                    f"rows of {csv_name} with a split that is not train, val or test",
                    f"row {number} ({cells[split_column]})",
                )
                continue
        if _label_problem(label):
            problems.add("labels that cannot be class names", f"row {number} ({label!r})")
            continue
        candidates = [str(base / filename), filename]
        source = next((c for c in candidates if c in image_set), None)
        if source is None and "/" not in filename and len(by_basename.get(filename, [])) == 1:
            source = by_basename[filename][0]
        if source is None:
            problems.add(f"files named in {csv_name} that are not images in the archive", filename)
            continue
        if source in used:
            problems.add(f"files named twice in {csv_name}", f"{filename} (rows {used[source]} and {number})")
            continue
        used[source] = number
        target = "/".join(((split,) if split else ()) + (label, PurePosixPath(source).name))
        files.append(PlannedFile(source=source, target=target, split=split, label=label))
    splits_given = {f.split for f in files}
    if None in splits_given and len(splits_given) > 1:
        problems.add(
            f"rows of {csv_name} without a split while other rows have one",
            ", ".join(f.source for f in files if f.split is None),
        )
    targets: dict[str, str] = {}
    for f in files:
        if f.target in targets:
            problems.add("images that would land on the same name in one class", f"{f.source} and {targets[f.target]}")
        targets[f.target] = f.source
    problems.raise_if_any()
    fixed = splits_given != {None} and bool(files)
    unlisted = sorted(image_set - set(used))
    ignored = [n for n in names if n not in image_set and n != csv_name]
    return _finish(files, fixed, "csv", ignored, unlisted=unlisted, csv_name=csv_name)


def find_csv(names: list[str]) -> str | None:
    """The archive's labels CSV, if it has one; more than one is an error."""
    found = [n for n in names if n.lower().endswith(".csv") and not is_litter(PurePosixPath(n))]
    if len(found) > 1:
        raise DatasetRejected(
            f"The archive holds more than one CSV file ({', '.join(found[:5])}); "
            "keep only the one that lists filename,label."
        )
    return found[0] if found else None
