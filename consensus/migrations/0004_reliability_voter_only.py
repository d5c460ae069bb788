"""One kind of voter (issue 16): reliabilities name their voter only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0011_voter'),
        ('consensus', '0003_reliability_voter'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='reliability', name='reliability_annotator'),
        migrations.RemoveIndex(model_name='reliability', name='reliability_external'),
        migrations.RemoveField(model_name='reliability', name='annotator'),
        migrations.RemoveField(model_name='reliability', name='external'),
        migrations.AlterField(
            model_name='reliability',
            name='voter',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.voter'),
        ),
        migrations.AddIndex(
            model_name='reliability',
            index=models.Index(fields=['estimate', 'voter'], name='reliability_voter'),
        ),
    ]
