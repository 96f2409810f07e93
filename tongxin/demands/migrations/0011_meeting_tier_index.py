# The dispatch meeting's agenda is filled each time its page opens, from the open
# demands at the top tier (T4). Without an index on the tier, that read every open
# demand of the district (tens of thousands at a million demands: a quarter of a second
# on PostgreSQL, more when its statistics lag behind). The index holds the T4 demands
# alone, so every other demand's writes keep up nothing more.
#
# AddIndex is a CREATE INDEX on both databases (no copy of the table); SQLite gets the
# new index's statistics at once, as in 0007 and 0010.

from django.db import migrations, models


def analyze(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute('ANALYZE "demand_meeting_tier"')


class Migration(migrations.Migration):
    dependencies = [
        ("demands", "0010_counted_events_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("tier", 4)),
                fields=["state"],
                name="demand_meeting_tier",
            ),
        ),
        migrations.RunPython(analyze, migrations.RunPython.noop),
    ]
