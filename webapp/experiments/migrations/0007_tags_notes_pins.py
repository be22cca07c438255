"""Tags become rows of their team (a Tag model) instead of a JSON list on each experiment; experiments get
Markdown notes and a pin. The old lists are copied into tags here and dropped in the next migration (a
data change and a table change in one PostgreSQL transaction clash over pending triggers)."""

import django.db.models.deletion
from django.db import migrations, models


def copy_tags(apps, schema_editor):
    Experiment = apps.get_model("experiments", "Experiment")
    Tag = apps.get_model("experiments", "Tag")
    for experiment in Experiment.objects.exclude(old_tags=[]).only("pk", "team_id", "old_tags").iterator():
        names = [str(name)[:40] for name in experiment.old_tags or []]
        tags = [Tag.objects.get_or_create(team_id=experiment.team_id, name=name)[0] for name in names]
        experiment.tags.set(tags)


def restore_tags(apps, schema_editor):
    Experiment = apps.get_model("experiments", "Experiment")
    for experiment in Experiment.objects.prefetch_related("tags").iterator(chunk_size=500):
        experiment.old_tags = [tag.name for tag in experiment.tags.all()]
        experiment.save(update_fields=["old_tags"])


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0006_pruned_status"),
        ("teams", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=40)),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="tags", to="teams.team"
                    ),
                ),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.AddConstraint(
            model_name="tag",
            constraint=models.UniqueConstraint(fields=("team", "name"), name="one_tag_name_per_team"),
        ),
        migrations.RenameField(model_name="experiment", old_name="tags", new_name="old_tags"),
        migrations.AddField(
            model_name="experiment",
            name="tags",
            field=models.ManyToManyField(blank=True, related_name="experiments", to="experiments.tag"),
        ),
        migrations.AddField(
            model_name="experiment",
            name="notes",
            field=models.TextField(blank=True, help_text="Markdown: what the team learned from this run"),
        ),
        migrations.AddField(
            model_name="experiment",
            name="pinned",
            field=models.BooleanField(
                db_index=True, default=False, help_text="pinned experiments come first in the list"
            ),
        ),
        migrations.RunPython(copy_tags, restore_tags),
    ]
