from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    Project = apps.get_model("annotation", "Project")
    RulebookVersion = apps.get_model("annotation", "RulebookVersion")
    newest = RulebookVersion.objects.filter(project=OuterRef("pk"), status="published").order_by("-number").values("pk")[:1]
    Project.objects.update(current_rulebook=Subquery(newest))


class Migration(migrations.Migration):
    dependencies = [("annotation", "0003_project_current_rulebook")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
