"""One kind of voter (issue 16), step 2 of 2: votes and memberships name their voter only;
suspension lives on the voter; imported annotators are voters (``ExternalAnnotator`` goes)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0011_voter'),
        ('consensus', '0004_reliability_voter_only'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='vote', name='vote_idempotency'),
        migrations.RemoveConstraint(model_name='vote', name='vote_external_once'),
        migrations.RemoveConstraint(model_name='vote', name='vote_one_voter'),
        migrations.RemoveIndex(model_name='vote', name='vote_annotator_time'),
        migrations.RemoveIndex(model_name='vote', name='vote_item_annotator'),
        migrations.RemoveField(model_name='vote', name='annotator'),
        migrations.RemoveField(model_name='vote', name='external'),
        migrations.RemoveField(model_name='membership', name='suspended_at'),
        migrations.RemoveField(model_name='membership', name='suspended_reason'),
        migrations.AlterField(
            model_name='membership',
            name='voter',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='membership', to='annotation.voter'),
        ),
        migrations.AlterField(
            model_name='vote',
            name='voter',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='votes', to='annotation.voter'),
        ),
        migrations.AddConstraint(
            model_name='vote',
            constraint=models.UniqueConstraint(fields=('voter', 'client_id'), name='vote_idempotency'),
        ),
        migrations.AddConstraint(
            model_name='vote',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'vote'), ('lease__isnull', True)), fields=('voter', 'item'), name='vote_imported_once'),
        ),
        migrations.AddIndex(
            model_name='vote',
            index=models.Index(fields=['voter', 'created_at'], name='vote_voter_time'),
        ),
        migrations.AddIndex(
            model_name='vote',
            index=models.Index(fields=['item', 'voter'], name='vote_item_voter'),
        ),
        migrations.DeleteModel(name='ExternalAnnotator'),
    ]
