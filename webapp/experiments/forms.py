"""The experiment form: its config fields are generated from the training config schema, and the
schema validates the result, so the form and `python -m training` accept exactly the same configs."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from training import ConfigError, Splits, TrainConfig
from training.config import GROUPS
from training.engine import MODEL_NAME
from training.preflight import Preflight, preflight
from training.presets import KINDS as PRESET_KINDS
from training.presets import Resolved, list_presets, resolve, resolve_config
from training.steps import steps_info
from webapp.core.paths import hide_paths
from webapp.core.queues import queue_for
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.experiments import gpu_classes
from webapp.experiments.access import experiments_for, writable_experiments
from webapp.experiments.files import fetch
from webapp.experiments.models import Experiment, Priority
from webapp.experiments.states import WITH_FINAL_MODEL
from webapp.teams.access import writable_teams

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


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags as a list without repeats; a ValidationError names the bad ones."""
    tags = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in tags if not TAG.match(t)]
    if bad:
        raise forms.ValidationError(f"Tags are single words of letters, digits, . _ + - (up to 40): {', '.join(bad)}")
    if len(tags) > 20:
        raise forms.ValidationError("At most 20 tags.")
    return list(dict.fromkeys(tags))


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
    gpu_class = forms.ChoiceField(
        required=False,
        label="GPU class",
        help_text="run only on workers of this GPU class (their queue gpu-<class>), or on any GPU",
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
        self._limit_choices_to_the_users_teams()
        self._offer_gpu_classes()
        self.preset_field_names = self._add_fields({f"preset_{kind}": preset_form_field(kind) for kind in PRESET_KINDS})
        self.config_field_names = self._add_fields({i["name"]: config_form_field(i) for i in TrainConfig.fields_info()})
        if clone_of is not None:
            self.initial.update(clone_initial(clone_of, self.fields))
        elif not self.is_bound:
            # A new experiment starts from presets (the quick recipe unless the URL names others).
            self.initial.update(presets_initial(presets or DEFAULT_PRESETS))
        self.config: TrainConfig | None = None
        self.splits: Splits | None = None  # the chosen dataset's split (lists only)
        self.resolved: Resolved | None = None
        self.preflight = Preflight()

    def _limit_choices_to_the_users_teams(self) -> None:
        # Only ready datasets of teams where the user may create experiments; clones of runs they may see;
        # weights only from runs of teams where they may write.
        self.fields["dataset"].queryset = Dataset.objects.filter(
            team__in=writable_teams(self.user), status=DatasetStatus.READY
        ).select_related("team")
        self.fields["dataset"].label_from_instance = lambda d: f"{d} ({d.team.name}, {d.num_images:,} images)"
        self.fields["cloned_from"].queryset = experiments_for(self.user)
        self.fields["init_from"].queryset = writable_experiments(self.user).filter(status__in=WITH_FINAL_MODEL)
        self.fields["init_from"].label_from_instance = lambda e: (
            f"#{e.pk} {e.name} ({e.config.get('arch')}, {e.dataset.name})"
        )

    def _offer_gpu_classes(self) -> None:
        offered = gpu_classes.offered()
        field = self.fields["gpu_class"]
        field.choices = [("", "any GPU"), *((c, c) for c in offered)]
        known = ", ".join(offered) or "none yet"
        field.error_messages["invalid_choice"] = (
            f"Unknown GPU class %(value)s. Known classes: {known} (from workers seen online and "
            "TRAINYARD_GPU_CLASSES); leave it empty for any GPU."
        )

    def _add_fields(self, fields: dict[str, forms.Field]) -> list[str]:
        self.fields.update(fields)
        return list(fields)

    def new_experiment(self, owner) -> Experiment:
        """The experiment this valid form describes (unsaved), with its full resolved config."""
        data = self.cleaned_data
        return Experiment(
            team=data["dataset"].team,
            owner=owner,
            dataset=data["dataset"],
            name=data["name"],
            description=data["description"],
            priority=data["priority"],
            config=self.config.to_dict(),
            gpu_class=data["gpu_class"],
            queue=queue_for(self.config, data["gpu_class"]),
            cloned_from=data.get("cloned_from"),
            presets=self.chosen_presets(),
            init_from=data.get("init_from"),
        )

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
        return parse_tags(self.cleaned_data["tags"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if any(name in self.errors for name in self.config_field_names):
            return cleaned
        try:
            self.splits = dataset_splits(cleaned.get("dataset"))
        except ValueError as exc:
            self.add_error("dataset", str(exc))
            return cleaned
        values = {name: cleaned[name] for name in self.config_field_names if name in cleaned}
        try:
            self.resolved = self._resolve(values)
        except ConfigError as exc:
            for name, message in exc.errors.items():
                self.add_error(name if name in self.fields else None, message)
            return cleaned
        self.config = self.resolved.config
        self.preflight = check_run(self.config, self.splits, cleaned.get("init_from"))
        if cleaned.get("gpu_class") and self.config.device == "cpu":
            self.preflight.errors.setdefault(
                "gpu_class", "A GPU class runs on a GPU worker: set the device to auto or cuda, or choose any GPU."
            )
        for name, message in self.preflight.errors.items():
            self.add_error(name if name in self.fields else None, hide_paths(message))
        if self.preflight.errors:
            self.config = None
        return cleaned

    def _resolve(self, values: dict[str, Any]) -> Resolved:
        """The config from the fields, with the chosen recipe adapted to the dataset's training split.

        The fields hold the presets' values until the user changes them: a value that differs from what
        the chosen presets set is the user's, and wins; the rest is the presets', adapted to the data."""
        presets = self.chosen_presets()
        try:
            from_presets = resolve_config(presets).to_dict()
        except ConfigError:  # presets that only work with the user's other values: everything is explicit
            from_presets = {}
        explicit = {k: v for k, v in values.items() if k not in from_presets or from_presets[k] != v}
        train_size = len(self.splits.train) if self.splits is not None else None
        return resolve(presets, explicit, train_size)

    def steps(self) -> dict[str, Any] | None:
        """The valid config's length in optimizer steps on the chosen dataset (None without one)."""
        if self.config is None or self.splits is None:
            return None
        return steps_info(len(self.splits.train), self.config.batch_size, self.config.epochs)


def preset_form_field(kind: str) -> forms.Field:
    choices = [("", "—")] + [(p["name"], p["name"]) for p in list_presets(kind)]
    return forms.ChoiceField(choices=choices, required=False, label=PRESET_LABELS[kind])


def _kinds_of(names: list[str]) -> dict[str, str]:
    by_kind = {p["name"]: p["kind"] for p in list_presets()}
    return {by_kind[name]: name for name in names if name in by_kind}


def presets_initial(names: list[str]) -> dict[str, Any]:
    """The form's values for a new experiment from these presets: the resolved config and the preset fields."""
    return {
        **resolve_config(names).to_dict(),
        **{f"preset_{kind}": name for kind, name in _kinds_of(names).items()},
    }


def clone_initial(source: Experiment, fields: dict[str, forms.Field]) -> dict[str, Any]:
    """The form's values for a clone: the source's exact config, data, tags, priority and presets."""
    return {
        **{k: v for k, v in source.config.items() if k in fields},
        "name": f"{source.name} (clone)",
        "description": source.description,
        "dataset": source.dataset_id,
        "tags": ", ".join(source.tag_names()),
        "priority": source.priority,
        "gpu_class": source.gpu_class,
        "cloned_from": source.pk,
        "init_from": source.init_from_id,
        **{f"preset_{kind}": name for kind, name in _kinds_of(source.presets).items()},
    }


def dataset_splits(dataset: Dataset | None) -> Splits | None:
    """The dataset's split as lists (nothing is extracted on the web server); ValueError saying why not."""
    if dataset is None:
        return None
    try:
        return dataset.splits(local=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"This dataset cannot be read: {exc}") from exc


def check_run(config: TrainConfig, data: Splits | None, init_from: Experiment | None) -> Preflight:
    """Choices that cannot work on this installation or with this dataset, by field, and warnings before
    a wasted run: the training library's preflight (weights in the torch cache, loss for the class count,
    a validation split for early stopping, something to transfer from, the batch size against the
    training split, too few optimizer steps, ...), once the web's own question is answered: the earlier
    run has a saved model."""
    start = None
    if init_from is not None:
        start = fetch(init_from.pk, MODEL_NAME)
        if start is None:
            missing = f"#{init_from.pk} has no saved final model to start from (it may predate this version)"
            return Preflight(errors={"init_from": missing})
    return preflight(config, data, init_from=start)


class ExtendForm(forms.Form):
    epochs = forms.IntegerField(min_value=1, max_value=1000, initial=5, label="Epochs to add")


class NotesForm(forms.Form):
    """What members change on a run at any time: its notes (Markdown), tags and pin."""

    notes = forms.CharField(
        required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 6}), help_text="Markdown"
    )
    tags = forms.CharField(required=False, help_text="comma-separated, e.g. baseline, augmentation")
    pinned = forms.BooleanField(required=False, label="Pinned", help_text="pinned experiments come first in the list")

    def clean_tags(self) -> list[str]:
        return parse_tags(self.cleaned_data["tags"])

    @staticmethod
    def initial_for(experiment: Experiment) -> dict[str, Any]:
        return {"notes": experiment.notes, "tags": ", ".join(experiment.tag_names()), "pinned": experiment.pinned}
