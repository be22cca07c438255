"""The experiment form: its config fields are generated from the training config schema, and the
schema validates the result, so the form and `python -m training` accept exactly the same configs."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from training import ConfigError, TrainConfig
from training.config import GROUPS
from training.preflight import Preflight, preflight
from training.presets import KINDS as PRESET_KINDS
from training.presets import list_presets, resolve_config
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.experiments.models import Experiment, Priority, Status
from webapp.teams.access import teams_of

GROUP_TITLES = GROUPS
PRESET_LABELS = {
    "recipe": "Recipe",
    "architecture": "Architecture",
    "augmentation": "Augmentation",
    "transfer": "Transfer learning",
    "optimizer": "Optimizer and schedule",
}
DEFAULT_PRESETS = ["quick"]
TAG = re.compile(r"^[\w.+-]{1,40}$")


def config_form_field(info: dict[str, Any]) -> forms.Field:
    kind = info["type"]
    common = {"label": info["label"], "help_text": info["help"], "initial": info["default"]}
    if info["choices"]:
        return forms.ChoiceField(choices=[(c, c) for c in info["choices"]], **common)
    if kind is bool:
        return forms.BooleanField(required=False, **common)
    if kind is int:
        return forms.IntegerField(min_value=info["min"], max_value=info["max"], **common)
    if kind is float:
        widget = forms.NumberInput(attrs={"step": "any"})
        return forms.FloatField(min_value=info["min"], max_value=info["max"], widget=widget, **common)
    return forms.CharField(required=False, **common)


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label=None)
    tags = forms.CharField(required=False, help_text="comma-separated, e.g. baseline, augmentation")
    priority = forms.ChoiceField(
        choices=Priority.choices,
        initial=Priority.NORMAL,
        help_text="high-priority experiments start before normal and low ones",
    )
    cloned_from = forms.ModelChoiceField(queryset=Experiment.objects.none(), required=False, widget=forms.HiddenInput)
    init_from = forms.ModelChoiceField(
        queryset=Experiment.objects.none(),
        required=False,
        label="Start from an earlier run",
        empty_label="— (ImageNet weights or random, as set below)",
        help_text=(
            "transfer learning from your own model: its weights are the start; the head is replaced for new classes"
        ),
    )

    def __init__(
        self, *args: Any, user, clone_of: Experiment | None = None, presets: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # Only ready datasets of teams where the user may create experiments.
        self.fields["dataset"].queryset = Dataset.objects.filter(
            team__in=teams_of(user, write=True), status=DatasetStatus.READY
        ).select_related("team")
        self.fields["dataset"].label_from_instance = lambda d: f"{d} ({d.team.name}, {d.num_images:,} images)"
        self.fields["cloned_from"].queryset = Experiment.objects.filter(team__in=teams_of(user))
        self.fields["init_from"].queryset = Experiment.objects.filter(
            team__in=teams_of(user), status__in=[Status.SUCCEEDED, Status.STOPPED_EARLY]
        ).select_related("dataset")
        self.fields["init_from"].label_from_instance = lambda e: (
            f"#{e.pk} {e.name} ({e.config.get('arch')}, {e.dataset.name})"
        )
        self.preset_field_names = []
        for kind in PRESET_KINDS:
            choices = [("", "—")] + [(p["name"], p["name"]) for p in list_presets(kind)]
            name = f"preset_{kind}"
            self.fields[name] = forms.ChoiceField(choices=choices, required=False, label=PRESET_LABELS[kind])
            self.preset_field_names.append(name)
        self.config_field_names = []
        for info in TrainConfig.fields_info():
            self.fields[info["name"]] = config_form_field(info)
            self.config_field_names.append(info["name"])
        if clone_of is None and not self.is_bound:
            # A new experiment starts from presets (the quick recipe unless the URL names others).
            chosen = presets or DEFAULT_PRESETS
            self.initial.update(resolve_config(chosen).to_dict())
            self.initial.update({f"preset_{kind}": name for kind, name in _kinds_of(chosen).items()})
        if clone_of is not None:
            self.initial.update(
                {
                    **{k: v for k, v in clone_of.config.items() if k in self.fields},
                    "name": f"{clone_of.name} (clone)",
                    "description": clone_of.description,
                    "dataset": clone_of.dataset_id,
                    "tags": ", ".join(clone_of.tags),
                    "priority": clone_of.priority,
                    "cloned_from": clone_of.pk,
                    "init_from": clone_of.init_from_id,
                    **{f"preset_{kind}": name for kind, name in _kinds_of(clone_of.presets).items()},
                }
            )
        self.config: TrainConfig | None = None

    def preset_fields(self) -> list:
        return [self[name] for name in self.preset_field_names]

    def chosen_presets(self) -> list[str]:
        return [self.cleaned_data[name] for name in self.preset_field_names if self.cleaned_data.get(name)]

    @staticmethod
    def presets_catalog() -> dict[str, list[dict[str, Any]]]:
        """Every preset by kind, with its values: the page applies them to the fields as they are picked."""
        return {kind: list_presets(kind) for kind in PRESET_KINDS}

    def groups(self) -> list[tuple[str, list, list]]:
        """(title, basic fields, advanced fields) for the template."""
        out = []
        infos = TrainConfig.fields_info()
        for group, title in GROUP_TITLES.items():
            basic = [self[i["name"]] for i in infos if i["group"] == group and not i["advanced"]]
            advanced = [self[i["name"]] for i in infos if i["group"] == group and i["advanced"]]
            if basic or advanced:
                out.append((title, basic, advanced))
        return out

    def clean_tags(self) -> list[str]:
        tags = [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]
        bad = [t for t in tags if not TAG.match(t)]
        if bad:
            raise forms.ValidationError(
                f"Tags are single words of letters, digits, . _ + - (up to 40): {', '.join(bad)}"
            )
        if len(tags) > 20:
            raise forms.ValidationError("At most 20 tags.")
        return list(dict.fromkeys(tags))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if any(name in self.errors for name in self.config_field_names):
            return cleaned
        values = {name: cleaned[name] for name in self.config_field_names if name in cleaned}
        try:
            self.config = TrainConfig.from_dict(values)
        except ConfigError as exc:
            for name, message in exc.errors.items():
                self.add_error(name if name in self.fields else None, message)
            return cleaned
        problems = check_run(self.config, cleaned.get("dataset"), cleaned.get("init_from"))
        for name, message in problems.errors.items():
            self.add_error(name if name in self.fields else None, message)
        if problems.errors:
            self.config = None
        return cleaned


def _kinds_of(names: list[str]) -> dict[str, str]:
    by_kind = {p["name"]: p["kind"] for p in list_presets()}
    return {by_kind[name]: name for name in names if name in by_kind}


def check_run(config: TrainConfig, dataset: Dataset | None, init_from: Experiment | None) -> Preflight:
    """Choices that cannot work on this installation or with this dataset, by field: the training
    library's preflight (weights in the torch cache, loss for the class count, a validation split for
    early stopping, something to transfer from, the batch size against the training split), once the
    web's own questions are answered: the earlier run has a saved model, the dataset can be read."""
    from webapp.experiments.tasks import final_model_path

    start = None
    if init_from is not None:
        start = final_model_path(init_from.pk)
        if not start.exists():
            missing = f"#{init_from.pk} has no saved final model to start from (it may predate this version)"
            return Preflight(errors={"init_from": missing})
    data = None
    if dataset is not None:
        try:
            data = dataset.splits(local=False)  # lists only: nothing is extracted on the web server
        except (OSError, ValueError) as exc:
            return Preflight(errors={"dataset": f"This dataset cannot be read: {exc}"})
    return preflight(config, data, init_from=start)


class ExtendForm(forms.Form):
    epochs = forms.IntegerField(min_value=1, max_value=1000, initial=5, label="Epochs to add")
