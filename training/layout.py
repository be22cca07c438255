"""A dataset's layout: which file is which class, in which split. The one place that reads it.

Pure functions on relative POSIX paths, so an uploaded zip (its entry names, before anything is
extracted), a folder on a server and `python -m training --data FOLDER` (a walk of the folder)
follow the same rules:

- one folder per class: `cats/001.png`, nested folders inside a class allowed;
- or split folders that fix the split: `train/cats/001.png`, `val/...`, `test/...` (also `training`,
  `valid`, `validation`, `testing`); `train` is required, the others are optional: a split that has no
  folder is drawn, stratified, from train with the seed (`draw_split`);
- a single wrapping folder, as zipping a folder makes (`animals/cats/001.png`), is looked through;
- operating-system litter (`__MACOSX/`, `.DS_Store`, hidden files) and top-level notes (README,
  LICENSE, *.txt, *.md, ...) are ignored, and listed in the plan;
- anything else that is not an image is rejected by name, and so are split folders mixed with
  class folders;
- or a CSV (`filename,label[,split]`) naming images anywhere (`plan_csv`).

Every layout maps to one canonical form, `[split/]label/file` (a file's `target`), on which the
split is drawn: the same files give the same split whichever way they arrived.
"""

from __future__ import annotations

import csv
import io
import os
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Protocol

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
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
SHOWN_ENTRIES = 8  # entries named per problem in a message; the rest are counted

Sample = tuple[str, int]  # (file path, class index)


# --- rejection -------------------------------------------------------------------------------------
class DatasetRejected(ValueError):
    """Input that cannot become a dataset. The message is for the user and names what to fix."""


def listing(items: Iterable[str], shown: int = SHOWN_ENTRIES) -> str:
    items = list(items)
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown:,} more"


class Problems:
    """Collects the offending entries per problem; `raise_if_any()` rejects with all of them, so a
    user can fix everything in one go instead of once per mistake."""

    def __init__(self) -> None:
        self._found: dict[str, list[str]] = {}

    def add(self, problem: str, entry: str) -> None:
        self._found.setdefault(problem, []).append(entry)

    def __bool__(self) -> bool:
        return bool(self._found)

    def message(self) -> str:
        """One line per problem: "Corrupt or truncated images (2): cats/a.png, dogs/b.jpg." """
        return "\n".join(
            f"{problem[:1].upper()}{problem[1:]} ({len(entries):,}): {listing(entries)}."
            for problem, entries in self._found.items()
        )

    def raise_if_any(self) -> None:
        if self._found:
            raise DatasetRejected(self.message())


# --- the plan --------------------------------------------------------------------------------------
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
    layout: str  # "folders" or "csv" (the web's imports add "torchvision")
    ignored: list[str] = field(default_factory=list)  # litter and notes, left out
    unlisted: list[str] = field(default_factory=list)  # CSV layout: images the CSV does not name
    csv_name: str | None = None

    def in_place(self) -> LayoutPlan:
        """The same plan for files read where they are (a folder used in place): each target is its source."""
        return replace(self, files=[replace(f, target=f.source) for f in self.files])


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def is_litter(path: PurePosixPath) -> bool:
    return any(part.startswith(".") or part.lower() in LITTER_NAMES for part in path.parts)


def is_note(path: PurePosixPath) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in NOTE_SUFFIXES or name.startswith(NOTE_PREFIXES)


# --- image folders ---------------------------------------------------------------------------------
def plan_folders(names: list[str]) -> LayoutPlan:
    """Plan an image-folder layout from relative file paths; raise DatasetRejected naming offenders."""
    problems = Problems()
    entries, ignored = _without_litter(names)
    split_tops = _split_folders(entries, problems)
    fixed = bool(split_tops)
    files = []
    for name, path in entries:
        planned = _plan_entry(name, path, split_tops, problems, ignored)
        if planned is not None:
            files.append(planned)
    problems.raise_if_any()
    return _checked(files, fixed, "folders", ignored)


def _without_litter(names: list[str]) -> tuple[list[tuple[str, PurePosixPath]], list[str]]:
    """(name, path inside the wrapper folder if there is one) for every file that is not litter, and the litter."""
    ignored: list[str] = []
    kept: list[tuple[str, PurePosixPath]] = []
    for name in names:
        path = PurePosixPath(name)
        if is_litter(path):
            ignored.append(name)
        else:
            kept.append((name, path))
    stripped = _strip_wrapper([p for _, p in kept])
    return [(name, path) for (name, _), path in zip(kept, stripped, strict=True)], ignored


def _strip_wrapper(paths: list[PurePosixPath]) -> list[PurePosixPath]:
    """`animals/cats/1.png` -> `cats/1.png` when every file is under one folder that is not a class."""
    if not paths:
        return paths
    first = {p.parts[0] for p in paths}
    if len(first) != 1 or any(len(p.parts) < 2 for p in paths):
        return paths
    wrapper = next(iter(first))
    if wrapper.lower() in SPLIT_ALIASES:
        return paths
    # Images directly inside the wrapper mean it is a class folder, not a wrapper.
    if any(len(p.parts) == 2 and is_image_name(p.name) for p in paths):
        return paths
    return [PurePosixPath(*p.parts[1:]) for p in paths]


def _split_folders(entries: list[tuple[str, PurePosixPath]], problems: Problems) -> set[str]:
    """The top folders that are split folders (empty: class folders only); a mixed layout is a problem."""
    tops = {path.parts[0] for _, path in entries if len(path.parts) > 1}
    split_tops = {t for t in tops if t.lower() in SPLIT_ALIASES}
    if not split_tops:
        return split_tops
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
    return split_tops


def _plan_entry(
    name: str, path: PurePosixPath, split_tops: set[str], problems: Problems, ignored: list[str]
) -> PlannedFile | None:
    """Where one file goes, or None (a problem or an ignored note is recorded)."""
    fixed = bool(split_tops)
    if fixed and (len(path.parts) == 1 or path.parts[0] not in split_tops):
        if len(path.parts) == 1:
            _loose_file(name, path, problems, ignored)
        return None  # a file under a folder next to the split folders: that folder is named already
    inner = path.parts[1:] if fixed else path.parts
    if len(inner) == 1:
        _loose_file(name, path, problems, ignored)
        return None
    if not is_image_name(path.name):
        problems.add("files that are not images", name)
        return None
    split = SPLIT_ALIASES[path.parts[0].lower()] if fixed else None
    target = "/".join(((split,) if split else ()) + inner)
    return PlannedFile(source=name, target=target, split=split, label=inner[0])


def _loose_file(name: str, path: PurePosixPath, problems: Problems, ignored: list[str]) -> None:
    """A file outside any class folder: a note is ignored, anything else is a mistake."""
    if is_note(path):
        ignored.append(name)
    elif is_image_name(path.name):
        problems.add("images outside class folders", name)
    else:
        problems.add("files that are not images", name)


def _checked(
    files: list[PlannedFile],
    fixed: bool,
    layout: str,
    ignored: list[str],
    unlisted: list[str] | None = None,
    csv_name: str | None = None,
) -> LayoutPlan:
    """The plan, once it has images of two classes at least, each of them in train/ when the split is fixed."""
    if not files:
        raise DatasetRejected(
            "The dataset is empty: there are no images in class folders"
            + (" listed in the CSV" if layout == "csv" else "")
            + "."
        )
    classes = sorted({f.label for f in files})
    _check_class_names(classes)
    if len(classes) < 2:
        raise DatasetRejected(
            f"A classifier needs at least two classes; this dataset has one: {classes[0]}. "
            "Put each class's images in its own folder."
        )
    if fixed:
        trained = {f.label for f in files if f.split == "train"}
        problems = Problems()
        for c in classes:
            if c not in trained:
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


# --- a CSV of labels -------------------------------------------------------------------------------
def find_csv(names: list[str]) -> str | None:
    """The labels CSV among the names, if there is one; more than one is an error."""
    found = [n for n in names if n.lower().endswith(".csv") and not is_litter(PurePosixPath(n))]
    if len(found) > 1:
        raise DatasetRejected(
            f"The archive holds more than one CSV file ({', '.join(found[:5])}); "
            "keep only the one that lists filename,label."
        )
    return found[0] if found else None


def plan_csv(names: list[str], csv_name: str, csv_bytes: bytes) -> LayoutPlan:
    """Plan a CSV layout: `filename,label[,split]` rows naming images anywhere among the names.

    A filename is looked up relative to the CSV's folder, then the root, then by its bare name when
    exactly one image has it (Kaggle-style `images/` folders).
    """
    rows, split_column = _csv_rows(csv_name, csv_bytes)
    images = _ImageIndex(names, PurePosixPath(csv_name).parent)
    problems = Problems()
    files: list[PlannedFile] = []
    used: dict[str, int] = {}  # source -> the row that names it
    for number, row in enumerate(rows, start=1):
        planned = _plan_row(number, row, split_column, csv_name, images, used, problems)
        if planned is not None:
            files.append(planned)
    _check_csv_files(files, csv_name, problems)
    problems.raise_if_any()
    fixed = {f.split for f in files} != {None} and bool(files)
    unlisted = sorted(images.names - set(used))
    ignored = [n for n in names if n not in images.names and n != csv_name]
    return _checked(files, fixed, "csv", ignored, unlisted=unlisted, csv_name=csv_name)


def _csv_rows(csv_name: str, csv_bytes: bytes) -> tuple[list[list[str]], int]:
    """The non-empty data rows (the header, if any, left out) and the index of the split column."""
    try:
        text = csv_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetRejected(f"{csv_name} is not UTF-8 text; save it as UTF-8 CSV.") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise DatasetRejected(f"{csv_name} is empty: it needs one `filename,label` row per image.")
    header = [c.strip().lower() for c in rows[0]]
    if header and header[0] in CSV_HEADER_WORDS:
        return rows[1:], header.index("split") if "split" in header else 2
    return rows, 2


class _ImageIndex:
    """The images among the names, looked up the way a CSV row names them."""

    def __init__(self, names: list[str], base: PurePosixPath) -> None:
        images = [n for n in names if is_image_name(n) and not is_litter(PurePosixPath(n))]
        self.names = set(images)
        self.base = base
        self.by_basename: dict[str, list[str]] = {}
        for n in images:
            self.by_basename.setdefault(PurePosixPath(n).name, []).append(n)

    def find(self, filename: str) -> str | None:
        source = next((c for c in (str(self.base / filename), filename) if c in self.names), None)
        if source is None and "/" not in filename and len(self.by_basename.get(filename, [])) == 1:
            source = self.by_basename[filename][0]
        return source


def _plan_row(
    number: int,
    row: list[str],
    split_column: int,
    csv_name: str,
    images: _ImageIndex,
    used: dict[str, int],
    problems: Problems,
) -> PlannedFile | None:
    """The file one CSV row names, or None (the problem is recorded)."""
    cells = [c.strip() for c in row]
    if len(cells) < 2 or not cells[0] or not cells[1]:
        problems.add(f"rows of {csv_name} without a filename and a label", f"row {number}")
        return None
    filename, label = cells[0].replace("\\", "/"), cells[1]
    split = None
    if len(cells) > split_column and cells[split_column]:
        split = SPLIT_ALIASES.get(cells[split_column].lower())
        if split is None:
            problems.add(
                f"rows of {csv_name} with a split that is not train, val or test",
                f"row {number} ({cells[split_column]})",
            )
            return None
    if _bad_label(label):
        problems.add("labels that cannot be class names", f"row {number} ({ascii(label)})")
        return None
    source = images.find(filename)
    if source is None:
        problems.add(f"files named in {csv_name} that are not images in the archive", filename)
        return None
    if source in used:
        problems.add(f"files named twice in {csv_name}", f"{filename} (rows {used[source]} and {number})")
        return None
    used[source] = number
    target = "/".join(((split,) if split else ()) + (label, PurePosixPath(source).name))
    return PlannedFile(source=source, target=target, split=split, label=label)


# Class names are shown in pages, charts and exports: short, and without characters that hide or reorder
# text (control characters, bidirectional overrides and isolates, zero-width marks, line separators).
MAX_CLASS_NAME = 100
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def _bad_label(label: str) -> bool:
    return (
        not label
        or label in {".", ".."}
        or label.startswith(".")
        or "/" in label
        or "\\" in label
        or len(label) > MAX_CLASS_NAME
        or any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in label)
    )


def _check_class_names(classes: list[str]) -> None:
    problems = Problems()
    for c in classes:
        if _bad_label(c):
            problems.add(
                f"class names over {MAX_CLASS_NAME} characters or with control or bidirectional characters",
                ascii(c),
            )
    problems.raise_if_any()


def _check_csv_files(files: list[PlannedFile], csv_name: str, problems: Problems) -> None:
    """Splits given for all rows or none; no two images landing on one name."""
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


# --- a folder on disk ------------------------------------------------------------------------------
def list_files(root: Path) -> list[str]:
    """Every file under root as a relative POSIX path, hidden folders skipped, in a stable order."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root)
        names += [(rel / f).as_posix() for f in sorted(filenames)]
    return names


def plan_folder(root: Path) -> LayoutPlan:
    """The layout of a folder: labelled by its one CSV file if it has one, else by its folders."""
    names = list_files(root)
    csv_name = find_csv(names)
    if csv_name is None:
        return plan_folders(names)
    return plan_csv(names, csv_name, (root / csv_name).read_bytes())


# --- the split -------------------------------------------------------------------------------------
def stratified_split(
    samples: list[Sample], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Split every class by the same fractions, keeping at least one image of each class for training and,
    where the class has enough, one for each asked-for held-out split (`held_out_sizes`). Classes too small
    for every split are what `training.preflight` warns about."""
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val and test fractions must be in [0, 1) and leave room for training")
    rng = random.Random(seed)
    by_class: dict[int, list[Sample]] = {}
    for sample in samples:
        by_class.setdefault(sample[1], []).append(sample)
    train, val, test = [], [], []
    for label in sorted(by_class):
        items = sorted(by_class[label])
        rng.shuffle(items)
        n_test, n_val = held_out_sizes(len(items), val_fraction, test_fraction)
        test += items[:n_test]
        val += items[n_test : n_test + n_val]
        train += items[n_test + n_val :]
    return train, val, test


def held_out_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(test, val) images of a class of n: by the fractions, at least one for each split asked for, and
    at least one left for training. A class too small for all three keeps its test image before its
    validation image (two images: one to train, one to test); one image only trains."""
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    while n_test + n_val > n - 1 and n_test + n_val > 0:
        if n_val >= n_test and n_val:
            n_val -= 1
        else:
            n_test -= 1
    return n_test, n_val


class Placed(Protocol):
    """A file with its canonical place: a `PlannedFile`, or the web's facts about an inspected image."""

    @property
    def target(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def split(self) -> str | None: ...


class SplitOrigin(StrEnum):
    """Where a split's images come from (`draw_split`'s origin, by split)."""

    FOLDER = "folder"  # the dataset's split folder
    DRAWN = "drawn"  # drawn per class from train with the seed
    NONE = "none"  # no such split: split folders without it (train/ and val/ only has no test)


def draw_split(
    files: Sequence[Placed], classes: list[str], fixed: bool, val_fraction: float, test_fraction: float, seed: int
) -> tuple[dict[str, list], dict[str, SplitOrigin]]:
    """The split as [target, class index] lists, and where each part comes from.

    Folders fix what they give; what they do not give is drawn, stratified, from train with the seed:
    train/ + test/ draws val from train; train/ + val/ has no test; train/ alone draws both; no split
    folders draws both.
    """
    index = {c: i for i, c in enumerate(classes)}
    samples = {
        s: sorted((f.target, index[f.label]) for f in files if (f.split if fixed else "train") == s) for s in SPLITS
    }
    folder, drawn = SplitOrigin.FOLDER, SplitOrigin.DRAWN
    origin = {s: (folder if fixed and samples[s] else drawn) for s in SPLITS}
    if not fixed or (not samples["val"] and not samples["test"]):
        train, val, test = stratified_split(samples["train"], val_fraction, test_fraction, seed)
        samples = {"train": train, "val": val, "test": test}
        origin = {"train": folder if fixed else drawn, "val": drawn, "test": drawn}
    elif not samples["val"]:
        train, val, _ = stratified_split(samples["train"], val_fraction, 0.0, seed)
        samples["train"], samples["val"] = train, val
        origin["val"] = drawn
    elif not samples["test"]:
        origin["test"] = SplitOrigin.NONE
    manifest = {s: [[target, label] for target, label in sorted(samples[s])] for s in SPLITS}
    return manifest, origin
