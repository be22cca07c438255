"""The experiments list, shared by the dashboard and `GET /api/experiments/`: one queryset that loads only
what a row shows (no config, log or per-sample predictions; metrics as annotations), one FilterSet, one
page size rule. Its number of queries does not depend on the number of rows on a page."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import DurationField, ExpressionWrapper, F, FloatField, OuterRef, QuerySet, Subquery
from django.db.models.aggregates import Max, Min
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from training.models import list_models
from webapp.core.api_pages import Pages
from webapp.datasets.access import datasets_for
from webapp.experiments.access import experiments_for
from webapp.experiments.models import EpochMetric, Experiment
from webapp.experiments.states import Status

# The columns a row shows; everything else (config, log, test_metrics with its predictions) stays unloaded.
ROW_FIELDS = (
    *("id", "name", "status", "queue", "gpu_class", "priority", "cancel_requested", "pinned", "team__name"),
    *("created_at", "queued_at", "started_at", "finished_at"),
    *("dataset__id", "dataset__name", "dataset__version", "owner__id", "owner__username"),
)
# Sortable columns: ?sort=<name> (ascending) or ?sort=-<name>; rows without a value come last either way.
SORTS = {
    "created": "created_at",
    "name": "name",
    "status": "status",
    "test_accuracy": "test_accuracy",
    "test_loss": "test_loss",
    "val_accuracy": "val_accuracy",
    "val_loss": "val_loss",
    "duration": "duration",
}


def _best_epoch_value(aggregate, field: str) -> Subquery:
    rows = EpochMetric.objects.filter(experiment=OuterRef("pk")).order_by().values("experiment")
    return Subquery(rows.annotate(value=aggregate(field)).values("value")[:1], output_field=FloatField())


def list_rows(user) -> QuerySet[Experiment]:
    """The user's experiments as list rows, with their metrics as annotations."""
    return (
        experiments_for(user)
        .only(*ROW_FIELDS)
        .annotate(
            arch=KT("config__arch"),
            test_accuracy=Cast(KT("test_metrics__accuracy"), FloatField()),
            test_loss=Cast(KT("test_metrics__loss"), FloatField()),
            val_accuracy=_best_epoch_value(Max, "val_acc"),
            val_loss=_best_epoch_value(Min, "val_loss"),
            duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()),
        )
        .prefetch_related("tags")
    )


def page_rows(rows: QuerySet[Experiment], ids) -> list[Experiment]:
    """The full list rows of one page, in the page's order. Paginate `rows.values_list("pk", flat=True)`
    first: then the count and the ordering read ids alone (no joins, no metric subqueries or JSON per
    row), and the row annotations are computed for this page's rows only, not for every row sorted."""
    ids = list(ids)
    return list(rows.filter(pk__in=ids)) if ids else []


class PinnedFirstOrdering(django_filters.OrderingFilter):
    """Pinned experiments first, then the chosen column with empty values last, newest first on ties."""

    def get_ordering_value(self, param: str):
        descending = param.startswith("-")
        field = F(self.param_map[param.lstrip("-")])
        return field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        chosen = [self.get_ordering_value(p) for p in value or []] or [F("created_at").desc()]
        return qs.order_by(F("pinned").desc(), *chosen, F("pk").desc())


DATE = forms.DateInput(attrs={"type": "date"})


def _datasets(request):
    return (
        datasets_for(request.user if request is not None else None).select_related(None).only("id", "name", "version")
    )


class ExperimentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    dataset = django_filters.ModelChoiceFilter(queryset=_datasets, label="Dataset")
    arch = django_filters.ChoiceFilter(
        field_name="config__arch", choices=[(m, m) for m in list_models()], label="Architecture"
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, label="Status", widget=forms.SelectMultiple(attrs={"size": 3})
    )
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag")
    owner = django_filters.CharFilter(field_name="owner__username", label="Owner")
    sweep = django_filters.NumberFilter(field_name="trial__sweep", label="Sweep #", min_value=1)
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="Created from", widget=DATE
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="Created until", widget=DATE
    )
    sort = PinnedFirstOrdering(fields=[(column, name) for name, column in SORTS.items()], label="Sort by")

    class Meta:
        model = Experiment
        fields: list[str] = []

    @property
    def qs(self) -> QuerySet[Experiment]:
        qs = super().qs
        # A valid form has ordered the rows (pinned first even without ?sort=); an invalid one has not.
        return qs if "sort" in getattr(self.form, "cleaned_data", {}) else self.filters["sort"].filter(qs, None)


def page_size(params) -> int:
    """?page_size=N as the API takes it (Pages): its default and its maximum."""
    try:
        size = int(params.get(Pages.page_size_query_param, Pages.page_size))
    except (TypeError, ValueError):
        return Pages.page_size
    return max(1, min(size, Pages.max_page_size))
