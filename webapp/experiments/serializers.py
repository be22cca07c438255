"""The experiments API's request and response shapes. Creating one goes through the experiment form
itself (`api_form`), so the API and the page accept exactly the same experiments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from training import TrainConfig
from training.presets import PRESETS
from webapp.core.api_schema import FromDict
from webapp.experiments.forms import DEFAULT_PRESETS, ExperimentForm, NotesForm, presets_initial
from webapp.experiments.models import EpochMetric, Experiment, Priority
from webapp.experiments.states import Status

FIELD_TYPES = {int: serializers.IntegerField, float: serializers.FloatField, bool: serializers.BooleanField}
# The form's own fields that the API takes as they are (the config is under "config", presets as a list).
PLAIN_FIELDS = ("name", "description", "dataset", "priority", "gpu_class", "init_from", "cloned_from")


def config_field(info: dict[str, Any]) -> serializers.Field:
    common = {"required": False, "help_text": info["help"]}
    if info["choices"]:
        return serializers.ChoiceField(choices=info["choices"], **common)
    field = FIELD_TYPES.get(info["type"])
    if field is None:
        return serializers.CharField(allow_blank=True, **common)
    if info["type"] is bool:
        return field(**common)
    return field(min_value=info["min"], max_value=info["max"], **common)


ConfigSerializer = type(
    "ConfigSerializer",
    (serializers.Serializer,),
    {i["name"]: config_field(i) for i in TrainConfig.fields_info()},
)


class ExperimentCreateSerializer(serializers.Serializer):
    """Documents the create request; `api_form` validates it with the experiment form."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    dataset = serializers.IntegerField(help_text="a ready dataset of a team where you are a member or owner")
    presets = serializers.ListField(
        child=serializers.ChoiceField(choices=PRESETS.names()),
        required=False,
        help_text=f"applied in order, then `config`; default {DEFAULT_PRESETS}",
    )
    config = ConfigSerializer(required=False, help_text="settings that override the presets")
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL)
    gpu_class = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="run only on workers of this GPU class (TRAINYARD_GPU_CLASS); empty or absent: any GPU",
    )
    init_from = serializers.IntegerField(required=False, allow_null=True, help_text="start from this run's weights")
    cloned_from = serializers.IntegerField(required=False, allow_null=True)


def _object(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValidationError({what: ["Expected a JSON object."]} if what else ["Expected a JSON object."])
    return value


def _names(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({field: ["Expected a list of names."]})
    return value


def api_form(data: Any, user) -> ExperimentForm:
    """The experiment form filled from an API request: the presets' config, then the overrides."""
    data = _object(data, "")
    presets = _names(data.get("presets", DEFAULT_PRESETS), "presets")
    unknown = [name for name in presets if name not in PRESETS]
    if unknown:
        raise ValidationError({"presets": [f"Unknown preset: {', '.join(unknown)}"]})
    config = _object(data.get("config", {}), "config")
    known = {i["name"] for i in TrainConfig.fields_info()}
    if strange := sorted(set(config) - known):
        raise ValidationError({"config": {name: ["Unknown setting."] for name in strange}})
    values = {**presets_initial(presets), **config, "tags": ", ".join(_names(data.get("tags", []), "tags"))}
    values.update({name: data[name] for name in PLAIN_FIELDS if data.get(name) is not None})
    values.setdefault("priority", Priority.NORMAL)
    return ExperimentForm(values, user=user)


def form_errors(form: ExperimentForm) -> dict[str, Any]:
    """The form's errors by API field: config settings under "config", preset kinds under "presets"."""
    out: dict[str, Any] = {}
    for name, errors in form.errors.items():
        messages = [str(e) for e in errors]
        if name in form.config_field_names:
            out.setdefault("config", {})[name] = messages
        elif name in form.preset_field_names:
            out.setdefault("presets", []).extend(messages)
        else:
            out["non_field_errors" if name == "__all__" else name] = messages
    return out


class ExperimentSummarySerializer(FromDict):
    """`Experiment.summary_dict()`: its state."""

    method = "summary_dict"
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField()
    queue = serializers.CharField()
    gpu_class = serializers.CharField(help_text="the GPU class it asked for; empty: any GPU")
    priority = serializers.ChoiceField(choices=Priority.choices)
    queue_position = serializers.IntegerField(allow_null=True)
    epochs = serializers.IntegerField()
    checkpoint_epoch = serializers.IntegerField(allow_null=True)
    best_epoch = serializers.IntegerField(allow_null=True)
    stop_reason = serializers.CharField()
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField()
    test_metrics = serializers.DictField(allow_null=True)
    queued_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ExperimentSerializer(ExperimentSummarySerializer):
    """`Experiment.to_dict()`: its state and what it is."""

    method = "to_dict"
    description = serializers.CharField()
    team = serializers.IntegerField()
    dataset = serializers.IntegerField()
    dataset_name = serializers.CharField()
    owner = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    presets = serializers.ListField(child=serializers.CharField())
    config = serializers.DictField()
    cloned_from = serializers.IntegerField(allow_null=True)
    init_from = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    notes = serializers.CharField(help_text="Markdown")
    notes_html = serializers.CharField(help_text="the notes rendered and sanitized")
    pinned = serializers.BooleanField()


class CancelSerializer(ExperimentSerializer):
    outcome = serializers.CharField()


class EpochSerializer(serializers.ModelSerializer):
    class Meta:
        model = EpochMetric
        fields = EpochMetric.FIELDS


class MetricsSerializer(ExperimentSummarySerializer):
    """Its state and every epoch so far: what the live page draws before its websocket connects."""

    history = EpochSerializer(many=True)


class ExperimentRowSerializer(serializers.ModelSerializer):
    """One row of the experiments list (`history.list_rows`): what the list shows, metrics included."""

    url = serializers.CharField(source="get_absolute_url")
    status_label = serializers.CharField(source="get_status_display")
    queue_position = serializers.SerializerMethodField()
    team = serializers.IntegerField(source="team_id")
    dataset = serializers.IntegerField(source="dataset.id")
    dataset_name = serializers.CharField(source="dataset.name")
    owner = serializers.CharField(source="owner.username")
    arch = serializers.CharField(allow_null=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    test_accuracy = serializers.FloatField(allow_null=True)
    test_loss = serializers.FloatField(allow_null=True)
    val_accuracy = serializers.FloatField(allow_null=True, help_text="the best epoch's")
    val_loss = serializers.FloatField(allow_null=True, help_text="the best epoch's")
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Experiment
        fields = [
            *("id", "name", "url", "status", "status_label", "queue", "gpu_class", "priority", "queue_position"),
            *("cancel_requested", "pinned", "team", "dataset", "dataset_name", "owner", "arch", "tags"),
            *("test_accuracy", "test_loss", "val_accuracy", "val_loss", "duration_seconds"),
            *("created_at", "queued_at", "started_at", "finished_at"),
        ]
        read_only_fields = fields

    def get_queue_position(self, experiment: Experiment) -> int | None:
        return self.context["positions"].get(experiment.pk)

    def get_duration_seconds(self, experiment: Experiment) -> float | None:
        return experiment.duration.total_seconds() if experiment.duration is not None else None


class NotesSerializer(serializers.Serializer):
    """Documents PATCH /api/experiments/<id>/ (any of these); the notes form validates it."""

    notes = serializers.CharField(required=False, allow_blank=True, max_length=20_000, help_text="Markdown")
    tags = serializers.ListField(child=serializers.CharField(), required=False, help_text="replaces the tags")
    pinned = serializers.BooleanField(required=False)


def notes_form(data: Any, experiment: Experiment) -> NotesForm:
    """The notes form filled from a PATCH: what is not sent stays as it is."""
    data = _object(data, "")
    values = NotesForm.initial_for(experiment)
    values.update({name: data[name] for name in ("notes", "pinned") if name in data})
    if "tags" in data:
        values["tags"] = ", ".join(_names(data["tags"], "tags"))
    return NotesForm(values)


class ExtendSerializer(serializers.Serializer):
    epochs = serializers.IntegerField(min_value=1, max_value=1000)


class GpuSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField(help_text="the GPU model, e.g. NVIDIA H200")
    memory_gb = serializers.FloatField()


class RunningSerializer(serializers.Serializer):
    visible = serializers.BooleanField(help_text="false: another team's experiment (nothing more is shown)")
    id = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    url = serializers.CharField(required=False)


class WorkerSerializer(serializers.Serializer):
    """Documents GET /api/workers/ (`workers.worker_to_dict`)."""

    name = serializers.CharField()
    host = serializers.CharField()
    device = serializers.CharField(help_text="cuda, cpu or unknown (it did not answer the device question)")
    gpus = GpuSerializer(many=True)
    cpus = serializers.IntegerField(allow_null=True)
    gpu_classes = serializers.ListField(child=serializers.CharField(), help_text="the classes whose queue it serves")
    queues = serializers.ListField(child=serializers.CharField())
    pool = serializers.CharField()
    concurrency = serializers.IntegerField(allow_null=True)
    uptime = serializers.IntegerField(allow_null=True, help_text="seconds")
    pid = serializers.IntegerField(allow_null=True)
    running = RunningSerializer(many=True)
