"""The experiment form: its config fields are generated from the training config schema, and the
schema validates the result, so the form and `python -m training` accept exactly the same configs."""
from __future__ import annotations

from typing import Any

from django import forms

from training import ConfigError, TrainConfig
from training.config import GROUPS
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.teams.access import teams_of

GROUP_TITLES = GROUPS


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
    return forms.CharField(**common)


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label=None)

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # Only ready datasets of teams where the user may create experiments.
        self.fields["dataset"].queryset = Dataset.objects.filter(
            team__in=teams_of(user, write=True), status=DatasetStatus.READY).select_related("team")
        self.fields["dataset"].label_from_instance = lambda d: f"{d.name} ({d.team.name}, {d.num_images} images)"
        self.config_field_names = []
        for info in TrainConfig.fields_info():
            self.fields[info["name"]] = config_form_field(info)
            self.config_field_names.append(info["name"])
        self.config: TrainConfig | None = None

    def groups(self) -> list[tuple[str, list, list]]:
        """(title, basic fields, advanced fields) for the template."""
        out = []
        infos = TrainConfig.fields_info()
        for group, title in GROUP_TITLES.items():
            basic = [self[i["name"]] for i in infos if i["group"] == group and not i["advanced"]]
            advanced = [self[i["name"]] for i in infos if i["group"] == group and i["advanced"]]
            out.append((title, basic, advanced))
        return out

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
