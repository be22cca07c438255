from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("experiments", "0007_tags_notes_pins")]

    operations = [migrations.RemoveField(model_name="experiment", name="old_tags")]
