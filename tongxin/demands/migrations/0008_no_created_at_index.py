# The demand's time of intake had an index of its own beside "demand_keyset"
# (created_at, id), which begins with the same column and serves the same ranges and
# orders: one index fewer to keep up on every insert and to build after a bulk load.
#
# Dropped by name, as in 0007: as AlterField, SQLite would copy the whole table.

import django.utils.timezone
from django.db import migrations, models

NAME = "demands_demand_created_at_a7258e5f"


def drop(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


def create(apps, schema_editor):
    schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "demands_demand" ("created_at")')


class Migration(migrations.Migration):
    dependencies = [
        ("demands", "0007_fewer_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, create)],
            state_operations=[
                migrations.AlterField(
                    model_name="demand",
                    name="created_at",
                    field=models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="反映时间"
                    ),
                ),
            ],
        ),
    ]
