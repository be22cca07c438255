"""The upload form (team pages and API) and the admin's add form, sharing their checks; and the upload
size check that runs before a request body is parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from webapp.datasets import intake
from webapp.datasets.access import dataset_for
from webapp.datasets.archives import check_is_zip
from webapp.datasets.models import Dataset, DatasetSource
from webapp.datasets.rejection import DatasetRejected, Limits, size_text
from webapp.datasets.torchvision_import import choices as torchvision_choices
from webapp.teams.access import writable_teams

ARCHIVE_HELP = (
    "A .zip with one folder per class (cats/001.png …), optionally inside train/, val/ and test/ "
    "folders that fix the split; or images plus one CSV file of filename,label[,split] rows."
)
MAX_EVAL_FRACTION = 0.9  # at least a tenth of the images stays for training
FORM_FIELDS_ROOM = 2**20  # bytes of a multipart body that are not the archive


def upload_too_large(request) -> bool:
    """A request body beyond the archive cap (plus room for the form's other fields): refused before
    Django parses it into yet another temporary file."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.DATASET_MAX_BYTES + FORM_FIELDS_ROOM


def upload_too_large_message() -> str:
    return f"The upload is larger than the limit of {size_text(settings.DATASET_MAX_BYTES)}."


def check_uploaded_archive(archive) -> None:
    """That the upload is a zip within the caps, as a field error. Its directory, labels CSV and images
    are checked by the dataset worker: a problem there comes back as the upload's rejection."""
    try:
        archive.seek(0)
        check_is_zip(archive, Limits.from_settings())
    except DatasetRejected as exc:
        raise ValidationError(str(exc), code="rejected") from None
    finally:
        archive.seek(0)


class SplitFieldsMixin:
    """Name checks and split settings shared by the forms that start a dataset."""

    def clean_split(self, cleaned: dict[str, Any]) -> None:
        val, test = cleaned.get("val_fraction"), cleaned.get("test_fraction")
        if val is not None and test is not None and val + test > MAX_EVAL_FRACTION:
            self.add_error(
                "test_fraction",
                f"Validation and test together may take at most {MAX_EVAL_FRACTION:.0%} "
                "of the images; the rest is for training.",
            )

    def clean_name_in_team(self, cleaned: dict[str, Any]) -> None:
        team, name = cleaned.get("team"), cleaned.get("name")
        if team is not None and name:
            busy = intake.busy_version(team, name)
            if busy is not None:
                self.add_error(
                    "name",
                    f"Version {busy.version} of {name} is still being processed; wait until it "
                    "is ready before uploading another version.",
                )


def split_fields() -> dict[str, forms.Field]:
    return {
        "split_seed": forms.IntegerField(
            min_value=0,
            max_value=2**31 - 1,
            initial=0,
            label="Split seed",
            help_text="the same seed always draws the same split",
        ),
        "val_fraction": fraction_field("Validation fraction", "val"),
        "test_fraction": fraction_field("Test fraction", "test"),
    }


def fraction_field(label: str, split: str) -> forms.FloatField:
    """The share of each class drawn for a split the archive's folders do not give."""
    return forms.FloatField(
        min_value=0,
        max_value=MAX_EVAL_FRACTION,
        initial=0.15,
        label=label,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
        help_text=f"of each class, when the archive has no {split}/ folder",
    )


class UploadForm(SplitFieldsMixin, forms.Form):
    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(max_length=200, help_text="an existing name of the team makes a new version of it")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    archive = forms.FileField(
        label="Zip archive",
        help_text=ARCHIVE_HELP,
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields.update(split_fields())
        self.fields["team"].queryset = writable_teams(user)
        self.fields["archive"].help_text += f" At most {size_text(settings.DATASET_MAX_BYTES)} unpacked."

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        check_uploaded_archive(archive)
        return archive

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.clean_split(cleaned)
        self.clean_name_in_team(cleaned)
        return cleaned

    def save(self) -> Dataset:
        data = self.cleaned_data
        dataset = Dataset(
            team=data["team"],
            name=data["name"],
            description=data["description"],
            split_seed=data["split_seed"],
            val_fraction=data["val_fraction"],
            test_fraction=data["test_fraction"],
            created_by=self.user,
        )
        return intake.start_upload(dataset, data["archive"])


def upload_initial(user, query) -> dict[str, Any]:
    """The upload page's first values: a dataset's to upload a new version of (?from=<id>, one the user may
    change), else the team and name of a rejected upload to correct (?team=…&name=…)."""
    base_id = query.get("from", "")
    if not base_id.isdigit():
        return {"team": query.get("team", ""), "name": query.get("name", "")}
    base = dataset_for(user, int(base_id), write=True)
    return {
        "team": base.team_id,
        "name": base.name,
        "description": base.description,
        **{name: getattr(base, name) for name in split_fields()},
    }


# The sources an admin adds a dataset from, as the add form words them (built-in data is made by a command).
ADD_SOURCES = [
    (DatasetSource.UPLOAD, "Zip archive (image folders, or images + CSV)"),
    (DatasetSource.FOLDER, "Folder on the server"),
    (DatasetSource.TORCHVISION, "torchvision dataset from its original files"),
]


class AdminAddForm(SplitFieldsMixin, forms.ModelForm):
    """The admin's add form: one dataset from any source."""

    add_source = forms.ChoiceField(
        label="Source", choices=ADD_SOURCES, initial=DatasetSource.UPLOAD, widget=forms.RadioSelect
    )
    # Not "archive": that is the model field holding the packed images' storage name.
    zip_archive = forms.FileField(required=False, label="Zip archive", help_text=ARCHIVE_HELP)
    folder = forms.CharField(
        required=False,
        label="Server folder",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text="an absolute path under one of TRAINYARD_DATASET_FOLDER_ROOTS; read in place",
    )
    torchvision = forms.ChoiceField(required=False, label="torchvision dataset", choices=[])
    torchvision_folder = forms.CharField(
        required=False,
        label="Folder with its original files",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text="empty: TRAINYARD_TORCHVISION_DIR",
    )
    download = forms.BooleanField(
        required=False,
        initial=True,
        label="Download the files when they are missing",
        help_text="needs internet on the dataset worker",
    )

    class Meta:
        model = Dataset
        fields = ["team", "name", "description", "split_seed", "val_fraction", "test_fraction"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in split_fields().items():
            self.fields[name] = field
        self.fields["torchvision"].choices = [("", "—")] + torchvision_choices()
        self.fields["torchvision_folder"].widget.attrs["placeholder"] = str(settings.DATASET_TORCHVISION_DIR)
        self.fields["folder"].widget.attrs["placeholder"] = str(settings.DATASET_FOLDER_ROOTS[0]) + "/…"
        self.folder_path: Path | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.clean_split(cleaned)
        self.clean_name_in_team(cleaned)
        source = cleaned.get("add_source")
        if source in self.source_checks:
            self.source_checks[source](self, cleaned)
        return cleaned

    # --- one check and one start per source ------------------------------------------------------
    def _check_upload(self, cleaned: dict[str, Any]) -> None:
        if not cleaned.get("zip_archive"):
            self.add_error("zip_archive", "Choose a zip archive to upload.")
            return
        try:
            check_uploaded_archive(cleaned["zip_archive"])
        except ValidationError as exc:
            self.add_error("zip_archive", exc)

    def _check_folder(self, cleaned: dict[str, Any]) -> None:
        if not cleaned.get("folder"):
            self.add_error("folder", "Give the folder's absolute path.")
            return
        try:
            self.folder_path = intake.check_folder(cleaned["folder"])
        except DatasetRejected as exc:
            self.add_error("folder", str(exc))

    def _check_torchvision(self, cleaned: dict[str, Any]) -> None:
        if not cleaned.get("torchvision"):
            self.add_error("torchvision", "Choose which dataset to import.")
            return
        self.folder_path = Path(cleaned.get("torchvision_folder") or settings.DATASET_TORCHVISION_DIR)
        try:
            intake.check_torchvision(cleaned["torchvision"], self.folder_path, cleaned.get("download", False))
        except DatasetRejected as exc:
            self.add_error("torchvision_folder", str(exc))

    source_checks = {
        DatasetSource.UPLOAD: _check_upload,
        DatasetSource.FOLDER: _check_folder,
        DatasetSource.TORCHVISION: _check_torchvision,
    }

    def start(self, dataset: Dataset, user) -> Dataset:
        """Called by the admin's save_model with the instance this form built."""
        data = self.cleaned_data
        dataset.created_by = user
        starts = {
            DatasetSource.UPLOAD: lambda: intake.start_upload(dataset, data["zip_archive"]),
            DatasetSource.FOLDER: lambda: intake.start_folder(dataset, self.folder_path),
            DatasetSource.TORCHVISION: lambda: intake.start_torchvision(
                dataset, data["torchvision"], self.folder_path, data.get("download", False)
            ),
        }
        return starts[data["add_source"]]()
