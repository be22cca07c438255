"""Turning an upload, an import or a folder into a ready dataset, or rejecting it without a trace.

    process(dataset_id)          the Celery task's body (upload, torchvision import, re-validation)
    process_in_place(dataset)    built-in data and tests: a folder processed now, in this process

Steps: lay out (extract an archive safely / write an import's images / walk a folder) -> inspect
every image -> analyze (split, statistics, health report) -> publish (samples, split and packed
images to storage; the images into this host's cache) -> mark ready. A new dataset that fails any
step is deleted with everything it wrote, and its message kept for the user (see notices).
A dataset that was ready before (re-validation) is marked failed instead, with the message.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from training.layout import LayoutPlan, list_files, plan_folders
from webapp.core import leases
from webapp.core.paths import hide_paths
from webapp.datasets import cache, notices, storage
from webapp.datasets.analysis import Analysis, analyze, inspect_all
from webapp.datasets.archives import check_archive, extract
from webapp.datasets.models import REJECTED, WAITING, Dataset, DatasetSource, DatasetStatus
from webapp.datasets.rejection import DatasetRejected, Limits
from webapp.datasets.torchvision_import import SOURCES, import_images

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class ProgressReporter:
    """Writes stage and percent to the dataset's row (what the page polls), at most twice a second."""

    def __init__(self, dataset_id: int | None, interval: float = 0.5) -> None:
        self.dataset_id = dataset_id
        self.interval = interval
        self.last = 0.0

    def stage(self, text: str, percent: int) -> None:
        if self.dataset_id is not None:
            Dataset.objects.filter(pk=self.dataset_id).update(stage=text[:80], progress=max(0, min(100, percent)))
        self.last = time.monotonic()

    def within(self, text: str, start: int, end: int) -> Progress:
        """A (done, total) callback mapped onto start..end percent."""
        self.stage(text, start)

        def report(done: int, total: int) -> None:
            if time.monotonic() - self.last >= self.interval or done == total:
                self.stage(text, start + (end - start) * done // max(1, total))

        return report


# --- the steps -------------------------------------------------------------------------------------
def _analyze(
    dataset: Dataset, folder: Path, plan: LayoutPlan, limits: Limits, progress: ProgressReporter, start: int = 40
) -> Analysis:
    facts = inspect_all(folder, plan, limits, progress.within("Checking images", start, 85))
    progress.stage("Computing statistics", 86)
    return analyze(facts, plan, limits, dataset.val_fraction, dataset.test_fraction, dataset.split_seed)


def _publish(dataset: Dataset, folder: Path, analysis: Analysis, pack: bool, progress: ProgressReporter) -> None:
    """Write samples, split and (for stored data) the packed images; set the results on the instance."""
    dataset.content_hash = analysis.content_hash  # first: a failure from here on knows what to clean up
    progress.stage("Saving samples", 90)
    samples = storage.save_samples(folder, analysis.classes, analysis.samples, analysis.content_hash)
    split_file = storage.save_split(
        analysis.manifest,
        analysis.classes,
        analysis.content_hash,
        dataset.split_seed,
        dataset.val_fraction,
        dataset.test_fraction,
    )
    if pack:
        progress.stage("Storing the images", 94)
        targets = [t for part in analysis.manifest.values() for t, _ in part]
        dataset.archive = storage.pack(folder, targets, analysis.content_hash, scratch=cache.cache_root())
        with cache.cache_lock(analysis.content_hash):
            cache.adopt_into_cache(folder, analysis.content_hash)
    dataset.classes = analysis.classes
    dataset.class_counts = analysis.class_counts
    dataset.num_images = analysis.num_images
    dataset.size_bytes = analysis.size_bytes
    dataset.content_hash = analysis.content_hash
    dataset.split_counts = analysis.split_counts
    dataset.split_file = split_file
    dataset.fixed_split = analysis.fixed_split
    dataset.mean, dataset.std = analysis.mean, analysis.std
    dataset.report = {**analysis.report, "samples": samples}
    dataset.status, dataset.stage, dataset.progress, dataset.error = DatasetStatus.READY, "", 100, ""
    dataset.processed_at = timezone.now()


def _refuse_identical_version(dataset: Dataset, analysis: Analysis) -> None:
    same = (
        Dataset.objects.filter(team_id=dataset.team_id, name=dataset.name, content_hash=analysis.content_hash)
        .exclude(pk=dataset.pk)
        .order_by("version")
        .first()
    )
    if same is not None:
        raise DatasetRejected(
            f"These images are identical to version {same.version} of {dataset.name}, so no "
            "new version was made. Change the images, or use that version."
        )


def _refuse_changed_content(dataset: Dataset, analysis: Analysis) -> None:
    if dataset.content_hash and analysis.content_hash != dataset.content_hash and dataset.is_used():
        raise DatasetRejected(
            "The images changed since experiments used this version (content hash "
            f"{dataset.content_hash[:12]}… is now {analysis.content_hash[:12]}…). This version stays failed so that "
            "no new experiment trains on different data under the same version; register the folder again "
            "to make a new version."
        )


def _refuse_what_cannot_be_kept(dataset: Dataset, analysis: Analysis) -> None:
    if dataset.was_ready:
        _refuse_changed_content(dataset, analysis)
    else:
        _refuse_identical_version(dataset, analysis)


def process_in_place(dataset: Dataset, progress: ProgressReporter | None = None) -> None:
    """Validate and analyze a folder used in place, and set the results on the (maybe unsaved) instance."""
    progress = progress or ProgressReporter(None)
    folder = dataset.local_path()
    progress.stage("Listing files", 5)
    plan = plan_folders(list_files(folder)).in_place()  # files are read where they are, not at canonical places
    analysis = _analyze(dataset, folder, plan, Limits.from_settings(), progress, start=10)
    _refuse_what_cannot_be_kept(dataset, analysis)
    _publish(dataset, folder, analysis, pack=False, progress=progress)


# --- laying stored data out in a staging folder: one step per kind of stored data -------------------
def _lay_out_upload(
    dataset: Dataset, staging: Path, workdir: Path, limits: Limits, progress: ProgressReporter
) -> LayoutPlan:
    with cache.local_copy(dataset.upload.name) as path, open(path, "rb") as f:
        progress.stage("Checking the archive", 2)
        check = check_archive(f, limits)
        dataset.origin.update(check.origin())  # what the archive turned out to hold
        f.seek(0)
        extract(f, check, staging, limits, progress.within("Extracting", 5, 40))
    return check.plan


def _lay_out_import(
    dataset: Dataset, staging: Path, workdir: Path, limits: Limits, progress: ProgressReporter
) -> LayoutPlan:
    origin = dataset.origin
    progress.stage(f"Reading {SOURCES.get(origin['torchvision']).title}", 2)
    files = import_images(
        origin["torchvision"],
        Path(origin["folder"]),
        staging,
        workdir,
        origin.get("download", False),
        progress.within("Writing images", 5, 40),
    )
    return LayoutPlan(files=files, classes=sorted({f.label for f in files}), fixed_split=True, layout="torchvision")


def _lay_out_stored_copy(
    dataset: Dataset, staging: Path, workdir: Path, limits: Limits, progress: ProgressReporter
) -> LayoutPlan:
    """Re-validation of stored images: this host's copy, checked as if it were new."""
    progress.stage("Fetching the images", 2)
    shutil.rmtree(staging)
    shutil.copytree(cache.ensure_local(dataset.content_hash), staging)
    return plan_folders(list_files(staging))


def _lay_out_step(dataset: Dataset) -> Callable[..., LayoutPlan]:
    if dataset.upload:
        return _lay_out_upload
    if dataset.source == DatasetSource.TORCHVISION and not dataset.content_hash:
        return _lay_out_import
    return _lay_out_stored_copy


def _process_stored(dataset: Dataset, progress: ProgressReporter, workdir: Path) -> None:
    """Uploads, imports and re-validation of stored images: staged in a folder, published if valid."""
    limits = Limits.from_settings()
    staging = cache.staging_dir()
    try:
        plan = _lay_out_step(dataset)(dataset, staging, workdir, limits, progress)
        analysis = _analyze(dataset, staging, plan, limits, progress)
        _refuse_what_cannot_be_kept(dataset, analysis)
        _publish(dataset, staging, analysis, pack=True, progress=progress)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when adopted into the cache


def _claim(dataset_id: int, holder: str) -> bool:
    """Take the row with a lease: one waiting for a worker, or one whose worker was lost (its lease
    expired; a restart). A message delivered twice never processes the same row twice at once."""
    rows = Dataset.objects.filter(pk=dataset_id, status=DatasetStatus.PROCESSING)
    taken = {"stage": "Starting", "lease_holder": holder, "lease_expires_at": leases.lease_until()}
    return bool(
        rows.filter(stage=WAITING).update(**taken)
        or rows.filter(lease_expires_at__lt=timezone.now(), restarts__lt=settings.TRAINYARD_MAX_RESTARTS).update(
            restarts=F("restarts") + 1, **taken
        )
    )


def process(dataset_id: int, worker: str = "") -> str:
    """Process one dataset row marked `processing`; the Celery task calls this with the id."""
    holder = leases.new_holder(worker or "local")
    if not _claim(dataset_id, holder):
        return "not waiting"
    held = Dataset.objects.filter(pk=dataset_id, status=DatasetStatus.PROCESSING, lease_holder=holder)
    with leases.Heartbeat(held):
        return _process_held(Dataset.objects.select_related("team").get(pk=dataset_id), held)


def _process_held(dataset: Dataset, held) -> str:
    old_hash, old_split = dataset.content_hash, dataset.split_file
    upload_name = dataset.upload.name or ""
    progress = ProgressReporter(dataset.pk)
    try:
        with tempfile.TemporaryDirectory(dir=cache.cache_root(), prefix=".work-") as workdir:
            if dataset.in_place:
                process_in_place(dataset, progress)
            else:
                _process_stored(dataset, progress, Path(workdir))
        dataset.upload = ""
        dataset.lease_holder, dataset.lease_expires_at = "", None
        with transaction.atomic():
            if not Dataset.objects.select_for_update().filter(pk=dataset.pk).exists():
                raise DatasetRejected("The dataset was deleted while it was being processed.")
            if not held.exists():
                return "lease lost"  # another worker took it over; it is theirs to finish
            dataset.save()
    except DatasetRejected as exc:
        return _fail(dataset, str(exc), upload_name)
    except Exception as exc:  # a bug or a broken disk must still end the upload with a message, not hang it
        logger.exception("processing dataset %s failed", dataset.pk)
        return _fail(dataset, f"Processing failed unexpectedly: {type(exc).__name__}: {exc}", upload_name)
    storage.delete(upload_name)
    # A re-validated dataset whose images or split changed: the old stored files, unless still used.
    Dataset.objects.delete_unused_files(old_hash, old_split)
    return DatasetStatus.READY


def _mark_failed(dataset: Dataset, message: str) -> str:
    Dataset.objects.filter(pk=dataset.pk).update(
        status=DatasetStatus.FAILED, stage="", progress=0, error=message, lease_holder="", lease_expires_at=None
    )
    return DatasetStatus.FAILED


def _fail(dataset: Dataset, message: str, upload_name: str = "") -> str:
    message = hide_paths(message)  # shown on pages: the server's layout is not
    if dataset.was_ready:
        return _mark_failed(dataset, message)
    # A new dataset that failed leaves nothing: what it stored, its upload, its row.
    notices.remember(dataset, message)
    try:
        Dataset.objects.filter(pk=dataset.pk).delete()
    except ProtectedError:  # only ready datasets can be picked for experiments, but never lose the message
        return _mark_failed(dataset, message)
    Dataset.objects.delete_unused_files(dataset.content_hash)  # set by _publish only: what this attempt stored
    storage.delete(upload_name)
    return REJECTED
