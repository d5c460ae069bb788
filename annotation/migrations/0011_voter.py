"""One kind of voter (issue 16), step 1 of 2: voters for every identity that voted or may vote,
and every vote and membership pointed at its voter. The old columns go in 0012, after the
consensus app has moved its reliabilities over (consensus 0003, 0004)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def voters_from_members_and_externals(apps, schema_editor):
    Voter = apps.get_model("annotation", "Voter")
    Membership = apps.get_model("annotation", "Membership")
    Vote = apps.get_model("annotation", "Vote")
    ExternalAnnotator = apps.get_model("annotation", "ExternalAnnotator")
    # A member's voter; also one for each user whose votes outlived their membership, so those
    # votes keep meaning the same person.
    pairs = set(Membership.objects.values_list("project_id", "user_id"))
    pairs |= set(Vote.objects.filter(annotator__isnull=False).values_list("project_id", "annotator_id").distinct())
    Voter.objects.bulk_create(
        [Voter(project_id=p, user_id=u, kind="member") for p, u in sorted(pairs)], batch_size=2000
    )
    member = Voter.objects.filter(kind="member")
    for m in Membership.objects.all().iterator():
        member.filter(project_id=m.project_id, user_id=m.user_id).update(
            created_at=m.created_at, suspended_at=m.suspended_at, suspended_reason=m.suspended_reason
        )
    Membership.objects.update(
        voter=Subquery(member.filter(project=OuterRef("project"), user=OuterRef("user")).values("pk")[:1])
    )
    Vote.objects.filter(annotator__isnull=False).update(
        voter=Subquery(member.filter(project=OuterRef("project"), user=OuterRef("annotator")).values("pk")[:1])
    )
    for e in ExternalAnnotator.objects.order_by("pk").iterator():
        voter = Voter.objects.create(
            project_id=e.project_id, kind="external", name=e.name,
            suspended_at=e.suspended_at, suspended_reason=e.suspended_reason,
        )  # fmt: skip
        Voter.objects.filter(pk=voter.pk).update(created_at=e.created_at)
        Vote.objects.filter(external_id=e.pk).update(voter=voter)


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0010_item_colour'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Voter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('member', 'Member'), ('external', 'Imported annotator'), ('rule', 'Labeling rule'), ('model', 'Model')], max_length=10)),
                ('name', models.CharField(blank=True, help_text="An imported annotator's name; empty for a member.", max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('suspended_at', models.DateTimeField(blank=True, null=True)),
                ('suspended_reason', models.TextField(blank=True)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='voters', to='annotation.project')),
                ('suspended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [
                    models.UniqueConstraint(condition=models.Q(('user__isnull', False)), fields=('project', 'user'), name='voter_member_once'),
                    models.UniqueConstraint(condition=models.Q(('kind', 'external')), fields=('project', 'name'), name='voter_external_once'),
                    models.CheckConstraint(condition=models.Q(models.Q(('kind', 'member'), ('user__isnull', False)), models.Q(models.Q(('kind', 'member'), _negated=True), ('user__isnull', True)), _connector='OR'), name='voter_member_has_user'),
                ],
            },
        ),
        migrations.AddField(
            model_name='membership',
            name='voter',
            field=models.OneToOneField(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='membership', to='annotation.voter'),
        ),
        migrations.AddField(
            model_name='vote',
            name='voter',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='votes', to='annotation.voter'),
        ),
        migrations.RunPython(voters_from_members_and_externals, migrations.RunPython.noop),
    ]
