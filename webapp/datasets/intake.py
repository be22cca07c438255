"""Starting a dataset from each source: checks that answer at once, a row, a task after the commit.

Forms (the upload page, the API, the admin) and the add_dataset command call these with an unsaved
Dataset that carries team, name, description, split settings and creator; each sets the source's
fields, gives the next version number of that name, saves, and sends the processing task once the
transaction commits. `queue_processing` and `revalidate` send an existing dataset through again.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from webapp.datasets import storage
from webapp.datasets.archives import ArchiveCheck
from webapp.datasets.models import WAITING, Dataset, DatasetSource, DatasetStatus
from webapp.datasets.processing import process_in_place
from webapp.datasets.rejection import DatasetRejected
from webapp.datasets.tasks import enqueue
from webapp.datasets.torchvision_import import SOURCES


def busy_version(team, name: str) -> Dataset | None:
    """A version of this name still being processed: a new one must wait for it (its number is not final)."""
    return Dataset.objects.versions_of(team.pk, name).filter(status=DatasetStatus.PROCESSING).first()


def _create(dataset: Dataset, queue: bool = True, attempts: int = 3) -> Dataset:
    """Save as the next version of its name; with `queue`, send the processing task after the commit."""
    dataset.status, dataset.stage, dataset.progress = DatasetStatus.PROCESSING, WAITING, 0
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                dataset.version = Dataset.objects.next_version(dataset.team, dataset.name)
                dataset.save()
                if queue:
                    enqueue(dataset.pk)
            return dataset
        except IntegrityError:  # two uploads of one name took the same version number: take the next
            dataset.pk = None
            if attempt == attempts - 1:
                raise DatasetRejected(
                    f"Other versions of {dataset.name} are being started at the same moment; submit again."
                ) from None
    raise AssertionError("unreachable")


def start_upload(
    dataset: Dataset, archive: UploadedFile, check: ArchiveCheck | None = None, queue: bool = True
) -> Dataset:
    """Store the upload and queue its processing. The web forms pass no `check`: the dataset worker reads
    the archive's directory and CSV; a command that checked the archive already passes what it found."""
    dataset.source = DatasetSource.UPLOAD
    dataset.origin = {"filename": archive.name}
    if check is not None:
        dataset.origin.update(check.origin())
    # Stored before the row exists, outside the transaction (a big file must not hold the database lock);
    # removed again if the row cannot be made.
    dataset.upload.save(archive.name, archive, save=False)
    try:
        return _create(dataset, queue)
    except BaseException:
        storage.delete(dataset.upload.name)
        raise


def add_in_place(dataset: Dataset) -> Dataset:
    """Check and analyze a folder used in place (built-in data, tests) now, in this process, and save the
    ready dataset; raises DatasetRejected."""
    process_in_place(dataset)
    dataset.save()
    return dataset


def check_folder(text: str) -> Path:
    """A server folder an admin may register: absolute, existing, under one of the allowed roots."""
    path = Path(text.strip()).expanduser()
    if not path.is_absolute():
        raise DatasetRejected(f"{text} is not an absolute path.")
    resolved = path.resolve()
    roots = [Path(r).resolve() for r in settings.DATASET_FOLDER_ROOTS]
    if not any(resolved.is_relative_to(r) for r in roots):
        raise DatasetRejected(
            f"{path} is outside the folders datasets may be registered from: "
            f"{', '.join(str(r) for r in roots)} (setting TRAINYARD_DATASET_FOLDER_ROOTS)."
        )
    if not resolved.is_dir():
        raise DatasetRejected(f"There is no folder at {path}.")
    return resolved


def start_folder(dataset: Dataset, folder: Path, queue: bool = True) -> Dataset:
    dataset.source = DatasetSource.FOLDER
    dataset.root = str(folder)
    dataset.origin = {"folder": str(folder)}
    return _create(dataset, queue)


def check_torchvision(key: str, folder: Path, download: bool) -> None:
    """Fail now when the files are missing and may not be downloaded (the message names them)."""
    source = SOURCES.get(key)
    if source.missing_files(folder) and not (download and settings.DATASET_DOWNLOADS):
        raise DatasetRejected(source.missing_message(folder))


def start_torchvision(dataset: Dataset, key: str, folder: Path, download: bool, queue: bool = True) -> Dataset:
    dataset.source = DatasetSource.TORCHVISION
    dataset.origin = {
        "torchvision": key,
        "folder": str(folder),
        "download": bool(download and settings.DATASET_DOWNLOADS),
    }
    return _create(dataset, queue)


def queue_processing(dataset: Dataset) -> None:
    """Mark an existing dataset for processing (again) and send the task once that commits."""
    with transaction.atomic():
        Dataset.objects.filter(pk=dataset.pk).update(
            status=DatasetStatus.PROCESSING, stage=WAITING, progress=0, error=""
        )
        dataset.status, dataset.stage, dataset.progress, dataset.error = DatasetStatus.PROCESSING, WAITING, 0, ""
        enqueue(dataset.pk)


def revalidate(dataset: Dataset) -> bool:
    """Check a dataset's images again (the admin's action); False while it is being processed by a task
    that has started (one still waiting for a worker is sent again, in case its message was lost)."""
    if dataset.status == DatasetStatus.PROCESSING and dataset.stage != WAITING:
        return False
    if not dataset.was_ready and dataset.status != DatasetStatus.PROCESSING:
        return False
    queue_processing(dataset)
    return True
