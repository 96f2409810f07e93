# The deadline had an index of its own besides those that pair it with the state and
# with the community. For "open and overdue, oldest deadline first, the first few" — the
# sweep's batch, the 超期 tab of a community worker, the briefing's overdue list — both
# planners walked that index from the oldest deadline through every closed demand
# (nearly all of them) to find the open ones: at a million demands the sweep's batch
# query took 0.45 s on PostgreSQL and 0.6 s on SQLite, the 超期 tab 0.36 s on
# PostgreSQL. Without it they read the state's (or the community's) range and sort the
# few rows found: 19 ms, 6.5 ms and 25 ms.
#
# Only the index goes. Altering the field would make SQLite copy the whole table; the
# state changes by AlterField, the database by a DROP INDEX (same name on both).

from django.db import migrations, models

INDEX = "demands_demand_deadline_139e775b"


class Migration(migrations.Migration):
    dependencies = [
        ("demands", "0011_meeting_tier_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="demand",
                    name="deadline",
                    field=models.DateTimeField(blank=True, null=True, verbose_name="办理时限"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "demands_demand" ("deadline")',
                ),
            ],
        ),
    ]
