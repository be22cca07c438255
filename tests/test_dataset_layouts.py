"""One set of layout rules (`training.layout`) for every way a dataset arrives: each layout, read by
`python -m training`'s `load_image_folder` and processed by the web as an uploaded zip and as a server
folder, gives the same classes and the same split; each refused layout gets the same message."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.images import class_entries, image_bytes, write_entries, zip_bytes
from training import DatasetRejected, Splits, load_image_folder
from webapp.datasets import intake, notices
from webapp.datasets.archives import check_archive
from webapp.datasets.models import Dataset
from webapp.datasets.processing import process
from webapp.datasets.rejection import Limits

pytestmark = pytest.mark.django_db

VAL, TEST, SEED = 0.25, 0.2, 7  # not the defaults, so a path that ignored them would differ


def split_folders(*splits: str, per_class: dict[str, int] | None = None, prefix: str = "") -> dict[str, bytes]:
    """Two classes under each split folder; every split its own images (seed), so no file repeats."""
    per_class = per_class or {}
    entries: dict[str, bytes] = {}
    for seed, split in enumerate(splits, start=1):
        entries |= class_entries(2, per_class.get(split, 8 if "train" in split else 3), f"{prefix}{split}/", seed)
    return entries


def labelled_by_csv(split_column: bool = False) -> dict[str, bytes]:
    """Kaggle style: every image in one folder, a CSV naming each one's class (and split)."""
    rows, entries = [["filename", "label", "split"] if split_column else ["filename", "label"]], {}
    for c, label in enumerate(("cat", "dog")):
        for i in range(10):
            name = f"{label[0]}{i:02d}.png"
            entries[f"images/{name}"] = image_bytes((200 - 150 * c, 60, 50 + 150 * c), seed=c * 100 + i)
            rows.append([name, label, "test" if i < 2 else "train"] if split_column else [name, label])
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return {**entries, "labels.csv": text.getvalue().encode()}


LAYOUTS = {
    "class folders": class_entries(2, 10),
    "train, val and test folders": split_folders("train", "val", "test"),
    "train and test folders (val drawn from train)": split_folders("train", "test"),
    "train and val folders (no test)": split_folders("train", "val"),
    "a train folder alone (val and test drawn)": split_folders("train"),
    "training, validation and testing folders": split_folders("training", "validation", "testing"),
    "training and valid folders (no test)": split_folders("training", "valid"),
    "a wrapper folder around class folders": class_entries(2, 10, prefix="animals/"),
    "a wrapper folder around split folders": split_folders("train", "test", prefix="animals/"),
    "litter and notes next to class folders": {
        **class_entries(2, 10),
        "README.md": b"# Animals",
        "LICENSE": b"CC-BY",
        ".DS_Store": b"\0",
        "__MACOSX/class_0/._img_000.png": b"\0",
        "class_1/.hidden.png": b"\0",
    },
}
CSV_LAYOUTS = {
    "a labels CSV": labelled_by_csv(),
    "a labels CSV with a split column": labelled_by_csv(split_column=True),
}
REFUSED = {
    "split folders next to class folders": (
        {**split_folders("train", "test"), **class_entries(1, 6, names=["bird"])},
        "Folders next to the split folders",
    ),
    "one split given twice": (split_folders("train", "training", "test"), "Split folders given twice"),
    "split folders without train": (split_folders("val", "test"), "Split folders without a train/ folder"),
    "images outside class folders": (
        {**class_entries(2, 6), "loose.png": image_bytes()},
        "Images outside class folders (1): loose.png",
    ),
    "files that are not images": (
        {**class_entries(2, 6), "class_0/notes.docx": b"PK"},
        "Files that are not images (1): class_0/notes.docx",
    ),
    "a class missing from train": (
        {**class_entries(1, 6, "train/"), **class_entries(2, 6, "test/", seed=1)},
        "Classes with no images in train/ (1): class_1",
    ),
    "a single class": (class_entries(1, 8), "needs at least two classes"),
    "no images at all": ({"README.md": b"nothing here"}, "The dataset is empty"),
    "a CSV naming a missing image": (
        {**labelled_by_csv(), "labels.csv": b"filename,label\nghost.png,cat\n"},
        "Files named in labels.csv that are not images in the archive (1): ghost.png",
    ),
}


# --- the two paths -----------------------------------------------------------------------------------
def by_content(splits: Splits) -> dict[str, list[tuple[str, str]]]:
    """Each split as sorted (class, file digest): comparable whatever folder the files sit in."""
    return {
        part: sorted(
            (splits.classes[label], hashlib.sha256(Path(path).read_bytes()).hexdigest()) for path, label in files
        )
        for part, files in (("train", splits.train), ("val", splits.val), ("test", splits.test))
    }


def command_line(folder: Path) -> Splits:
    return load_image_folder(folder, VAL, TEST, SEED)


def new_dataset(team, name: str) -> Dataset:
    return Dataset(team=team, name=name, split_seed=SEED, val_fraction=VAL, test_fraction=TEST)


def uploaded_zip(team, entries: dict[str, bytes]) -> Dataset:
    """The upload page's path: the archive checked, stored, then processed as the worker does."""
    archive = SimpleUploadedFile("animals.zip", zip_bytes(entries), "application/zip")
    check = check_archive(archive, Limits.from_settings())
    archive.seek(0)
    dataset = intake.start_upload(new_dataset(team, "Uploaded"), archive, check, queue=False)
    process(dataset.pk)
    return Dataset.objects.get(pk=dataset.pk)


def server_folder(team, folder: Path) -> Dataset | None:
    """The admin's path: a folder registered in place, processed as the worker does (None: rejected)."""
    dataset = intake.start_folder(new_dataset(team, "On the server"), folder, queue=False)
    process(dataset.pk)
    return Dataset.objects.filter(pk=dataset.pk).first()


# --- accepted layouts ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_command_line_and_the_web_read_a_layout_the_same_way(layout, team, tmp_path):
    entries = LAYOUTS[layout]
    folder = write_entries(tmp_path / "animals", entries)
    expected = command_line(folder)

    uploaded = uploaded_zip(team, entries)
    assert uploaded.is_ready, uploaded.error
    in_place = server_folder(team, folder)
    assert in_place is not None and in_place.is_ready, notices.rejection(in_place.pk if in_place else 0)

    for dataset in (uploaded, in_place):
        assert dataset.classes == expected.classes == ["class_0", "class_1"]
        assert by_content(dataset.splits()) == by_content(expected)
    counts = expected.counts()
    assert counts["train"] > 0 and counts["val"] > 0 and (counts["test"] == 0) == ("no test" in layout)


@pytest.mark.parametrize("layout", CSV_LAYOUTS)
def test_a_folder_labelled_by_a_csv_reads_as_its_zip_does(layout, team, tmp_path):
    entries = CSV_LAYOUTS[layout]
    expected = command_line(write_entries(tmp_path / "animals", entries))
    uploaded = uploaded_zip(team, entries)
    assert uploaded.is_ready, uploaded.error
    assert uploaded.classes == expected.classes == ["cat", "dog"]
    assert by_content(uploaded.splits()) == by_content(expected)


def test_split_folders_fix_their_parts_and_only_the_missing_one_is_drawn(tmp_path):
    folder = write_entries(tmp_path / "animals", split_folders("train", "test"))
    splits = command_line(folder)
    assert all("/test/" in path for path, _ in splits.test) and len(splits.test) == 6
    assert all("/train/" in path for path, _ in splits.train + splits.val)
    assert len(splits.val) == 4  # a quarter of each class's 8 training images


# --- refused layouts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", REFUSED)
def test_a_refused_layout_gets_the_same_message_everywhere(layout, team, tmp_path):
    entries, message = REFUSED[layout]
    folder = write_entries(tmp_path / "animals", entries)
    with pytest.raises(DatasetRejected) as refused:
        command_line(folder)
    assert message in str(refused.value)

    with pytest.raises(DatasetRejected) as upload_refused:  # the upload form's check, before anything is stored
        check_archive(io.BytesIO(zip_bytes(entries)), Limits.from_settings())
    assert str(upload_refused.value) == str(refused.value)

    if "CSV" not in layout:  # server folders are read by their folders only
        dataset = intake.start_folder(new_dataset(team, "On the server"), folder, queue=False)
        assert process(dataset.pk) == "rejected"
        assert notices.rejection(dataset.pk)["message"] == str(refused.value)
