"""The sweep form: the experiment form's base config (presets + fields, resolved and checked by the same
code), plus the search space and the sweep's settings. The API validates through it as well."""

from __future__ import annotations

from typing import Any

from django import forms

from training.search import PrunerSpec, SearchSpace, SpaceError, check_method, list_space_presets
from webapp.experiments.forms import ExperimentForm
from webapp.sweeps.models import Method, ObjectiveChoice, Pruner, Sweep

MAX_TRIALS = 10_000
MAX_PARALLELISM = 64


class SpaceField(forms.JSONField):
    """A search space as JSON (the browser's space builder writes it)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6}))
        super().__init__(**kwargs)


class SweepForm(ExperimentForm):
    space = SpaceField(help_text="which config options the sweep varies, over which values or ranges")
    method = forms.ChoiceField(choices=Method.choices, initial=Method.TPE)
    objective = forms.ChoiceField(choices=ObjectiveChoice.choices, initial=ObjectiveChoice.VAL_ACC)
    pruner = forms.ChoiceField(
        choices=Pruner.choices, initial=Pruner.ASHA, label="Early termination", help_text="stops weak trials early"
    )
    max_trials = forms.IntegerField(min_value=1, max_value=MAX_TRIALS, initial=20, label="Maximum trials")
    max_epochs = forms.IntegerField(
        min_value=1, required=False, label="Maximum epochs in all", help_text="optional: all trials' epochs together"
    )
    parallelism = forms.IntegerField(
        min_value=1, max_value=MAX_PARALLELISM, initial=2, help_text="trials queued or running at once"
    )
    seed = forms.IntegerField(initial=0, help_text="the same seed and space give the same points")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("cloned_from", "tags", "init_from"):
            del self.fields[name]
        self.search_space: SearchSpace | None = None

    def clean_tags(self) -> list[str]:  # the trials are tagged "sweep"
        return []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "space" in cleaned:
            self._check_space(cleaned["space"], cleaned.get("method"))
        dataset = cleaned.get("dataset")
        if dataset is not None and "dataset" not in self.errors and not self._has_validation_split(dataset):
            self.add_error("dataset", "A sweep chooses on the validation split; this dataset has none.")
        if self.search_space is not None and self.config is not None:
            self._check_epochs(cleaned)
        return cleaned

    def _check_space(self, raw: Any, method: str | None) -> None:
        try:
            space = SearchSpace.parse(raw)
            if method:
                check_method(space, method)
        except SpaceError as exc:
            for name, message in exc.errors.items():
                field = name if name in ("method",) else "space"
                self.add_error(field, message if name == "__all__" or field != "space" else f"{name}: {message}")
            return
        self.search_space = space

    def _check_epochs(self, cleaned: dict[str, Any]) -> None:
        try:
            PrunerSpec(cleaned.get("pruner") or "none", max_epochs=int(self.pruner_max_epochs()))
        except SpaceError as exc:
            for message in exc.errors.values():
                self.add_error("pruner", message)

    def pruner_max_epochs(self) -> int:
        return int(self.search_space.largest("epochs", self.config))

    @staticmethod
    def _has_validation_split(dataset) -> bool:
        return bool(sum((dataset.split_counts or {}).get("val", {}).values()))

    def new_sweep(self, owner) -> Sweep:
        data = self.cleaned_data
        return Sweep(
            team=data["dataset"].team,
            owner=owner,
            dataset=data["dataset"],
            name=data["name"],
            description=data["description"],
            config=self.config.to_dict(),
            presets=self.chosen_presets(),
            space=self.search_space.to_dict(),
            method=data["method"],
            objective=data["objective"],
            pruner=data["pruner"],
            max_trials=data["max_trials"],
            max_epochs=data.get("max_epochs"),
            parallelism=data["parallelism"],
            seed=data["seed"],
            priority=data["priority"],
            gpu_class=data["gpu_class"],
        )

    @staticmethod
    def space_presets() -> list[dict[str, Any]]:
        return list_space_presets()


class AddTrialsForm(forms.Form):
    trials = forms.IntegerField(min_value=0, max_value=MAX_TRIALS, initial=10, label="Trials to add")
    max_epochs = forms.IntegerField(min_value=1, required=False, label="New maximum epochs in all")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("trials") and cleaned.get("max_epochs") is None and not self.errors:
            raise forms.ValidationError("Add trials or raise the epoch budget.")
        return cleaned
