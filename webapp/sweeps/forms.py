"""The sweep form: the experiment form's base config (presets + fields, resolved and checked by the same
code), plus the search space and the sweep's settings. The API validates through it as well."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from training.search import PrunerSpec, SearchSpace, SpaceError, check_method, list_space_presets, widen_space
from training.search.space import Choice, IntRange
from webapp.experiments.forms import ExperimentForm
from webapp.sweeps.driver import Widening, widen, widened_budget
from webapp.sweeps.models import Method, ObjectiveChoice, Pruner, Sweep

MAX_TRIALS = 10_000
MAX_PARALLELISM = 64
MIN_HOURS = 0.001  # 3.6 seconds
MAX_HOURS = 100_000.0


class SpaceField(forms.JSONField):
    """A search space as JSON (the browser's space builder writes it)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6}))
        super().__init__(**kwargs)


class HoursField(forms.FloatField):
    """An optional hours budget: the trials' training time added up (two trials running side by side for
    an hour use two hours). No new trial starts once it is used; running ones finish."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Maximum hours in all")
        kwargs.setdefault(
            "help_text",
            "optional: all trials' training time added up (not the clock since the start); "
            "no new trial starts once it is used",
        )
        super().__init__(required=False, min_value=MIN_HOURS, max_value=MAX_HOURS, **kwargs)


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
    max_hours = HoursField()
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
            max_hours=data.get("max_hours"),
            parallelism=data["parallelism"],
            seed=data["seed"],
            priority=data["priority"],
            gpu_class=data["gpu_class"],
        )

    @staticmethod
    def space_presets() -> list[dict[str, Any]]:
        return list_space_presets()


class AddTrialsForm(forms.Form):
    trials = forms.IntegerField(min_value=0, max_value=MAX_TRIALS, initial=10, required=False, label="Trials to add")
    max_epochs = forms.IntegerField(min_value=1, required=False, label="New maximum epochs in all")
    max_hours = HoursField(label="New maximum hours in all")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        raised = cleaned.get("trials") or any(cleaned.get(k) is not None for k in ("max_epochs", "max_hours"))
        if not raised and not self.errors:
            raise forms.ValidationError("Add trials or raise the epoch or hours budget.")
        return cleaned


class WidenForm(forms.Form):
    """Widen a sweep's space, keeping its trials (the API's form: `space` names only the changed
    parameters), with the budget the wider space needs. `widening` is set once it is valid."""

    space = forms.JSONField(
        required=False,
        help_text='only the parameters to widen, e.g. {"lr": {"low": 0.00001}} or {"optimizer": ["sgd", "adam"]}',
    )
    trials = forms.IntegerField(
        min_value=0,
        max_value=MAX_TRIALS,
        required=False,
        label="Trials to add",
        help_text="empty: a grid gets one trial per new point; random and TPE need more once their trials are used",
    )
    max_epochs = forms.IntegerField(min_value=1, required=False, label="New maximum epochs in all")
    max_hours = HoursField(label="New maximum hours in all")

    def __init__(self, *args: Any, sweep: Sweep, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sweep = sweep
        self.widening: Widening | None = None

    def changes(self, cleaned: dict[str, Any]) -> Any:
        return cleaned.get("space")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            space = widen_space(self.sweep.space, self.changes(cleaned))
            check_method(space, self.sweep.method)
            widening = Widening(space, cleaned.get("trials"), cleaned.get("max_epochs"), cleaned.get("max_hours"))
            widened_budget(self.sweep, widening, self.sweep.records())
        except SpaceError as exc:
            for name, message in exc.errors.items():
                self.add_widen_error(name, message)
            return cleaned
        self.widening = widening
        return cleaned

    def apply(self, sweep: Sweep, by: str) -> bool:
        """Widen `sweep` as the form says: True when done; False with the errors on the form (its own, or a
        change another user made first, checked again under the sweep's lock)."""
        if self.is_valid():
            try:
                widen(sweep, self.widening, by=by)
            except SpaceError as exc:
                for name, message in exc.errors.items():
                    self.add_widen_error(name, message)
        return self.is_valid()

    def add_widen_error(self, name: str, message: str) -> None:
        """An error of the space (by parameter) or of the budget (by field) on the field to blame."""
        if name in self.fields:
            self.add_error(name, message)
        else:
            self.add_error("space", message if name == "__all__" else f"{name}: {message}")


class WidenPageForm(WidenForm):
    """The sweep page's version: each parameter's values (comma-separated) or its low and high, filled
    in with the current ones, instead of JSON."""

    def __init__(self, *args: Any, sweep: Sweep, **kwargs: Any) -> None:
        super().__init__(*args, sweep=sweep, **kwargs)
        del self.fields["space"]
        self.params = sweep.search_space.params
        for param in self.params:
            self.fields.update(param_fields(param))

    def param_rows(self) -> list[tuple[str, list]]:
        """(parameter, its bound fields), for the template."""
        return [(p.name, [self[name] for name in param_fields(p)]) for p in self.params]

    def changes(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for param in self.params:
            if isinstance(param, Choice):
                values = cleaned.get(f"{param.name}__values")
                if values is not None and values != list(param.values):
                    out[param.name] = values
            else:
                low, high = cleaned.get(f"{param.name}__low"), cleaned.get(f"{param.name}__high")
                if (low, high) != (param.low, param.high) and None not in (low, high):
                    out[param.name] = {"low": low, "high": high}
        if not out:
            raise SpaceError({"__all__": "Nothing changes: give a parameter a wider range or more values."})
        return out

    def add_widen_error(self, name: str, message: str) -> None:
        fields = [f for f in self.fields if f.startswith(f"{name}__")]
        if fields:
            self.add_error(fields[0], message)
        elif name in self.fields:
            self.add_error(name, message)
        else:
            self.add_error(None, message)


class ValuesField(forms.CharField):
    """A list of values, comma-separated: numbers, true/false and words (quotes optional)."""

    def to_python(self, value: Any) -> list[Any] | None:
        text = super().to_python(value)
        if not text:
            return None
        return [_value(item.strip()) for item in text.split(",") if item.strip()]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def param_fields(param) -> dict[str, forms.Field]:
    """The widen form's fields for one parameter, filled in with its current values."""
    if isinstance(param, Choice):
        return {
            f"{param.name}__values": ValuesField(
                label=f"{param.name}: values",
                initial=", ".join(_shown(v) for v in param.values),
                help_text="comma-separated; keep the current ones and add more",
            )
        }
    number = forms.IntegerField if isinstance(param, IntRange) else forms.FloatField
    return {
        f"{param.name}__low": number(
            label=f"{param.name}: from", initial=param.low, help_text=f"now {param.describe()}"
        ),
        f"{param.name}__high": number(label=f"{param.name}: to", initial=param.high),
    }
