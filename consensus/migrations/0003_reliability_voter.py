"""One kind of voter (issue 16): each reliability pointed at the voter of its member or
imported annotator (made by annotation 0011). The old columns go in 0004."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def reliabilities_to_voters(apps, schema_editor):
    Voter = apps.get_model("annotation", "Voter")
    ExternalAnnotator = apps.get_model("annotation", "ExternalAnnotator")
    Reliability = apps.get_model("consensus", "Reliability")
    Estimate = apps.get_model("consensus", "Estimate")
    for project_id in Estimate.objects.values_list("project_id", flat=True).distinct():
        member = Voter.objects.filter(project_id=project_id, kind="member", user=OuterRef("annotator"))
        Reliability.objects.filter(estimate__project_id=project_id, annotator__isnull=False).update(
            voter=Subquery(member.values("pk")[:1])
        )
    for e in ExternalAnnotator.objects.order_by("pk").iterator():
        voter = Voter.objects.get(project_id=e.project_id, kind="external", name=e.name)
        Reliability.objects.filter(external_id=e.pk).update(voter=voter)


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0011_voter'),
        ('consensus', '0002_review_case'),
    ]

    operations = [
        migrations.AddField(
            model_name='reliability',
            name='voter',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.voter'),
        ),
        migrations.RunPython(reliabilities_to_voters, migrations.RunPython.noop),
    ]
