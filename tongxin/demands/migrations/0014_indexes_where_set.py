# What a new demand does not have yet — its handler, its resolution, its first answer —
# and what it often has not — a resident of the register as reporter, staff who entered
# it — indexed only where set. Every intake wrote six index entries for NULLs that no
# query looks for; each query of these columns names a value, a range or IS NOT NULL,
# which SQLite and PostgreSQL both match with the condition.
#
# As in 0007, the foreign keys' db_index changes only the migration state: done as
# AlterField, SQLite would copy the whole demand table into a new one. Their indexes
# are dropped by name; the partial ones take their place.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The index Django named for each foreign key's db_index=True.
FOREIGN_KEY_INDEXES = [
    ("handler_id", "demands_demand_handler_id_44d73a9b"),
    ("reporter_id", "demands_demand_reporter_id_e9f82770"),
    ("entered_by_id", "demands_demand_entered_by_id_c4a82b02"),
]
PARTIAL = [
    "demand_resolved",
    "demand_first_response",
    "demand_resolved_desc",
    "demand_handler",
    "demand_reporter",
    "demand_entered_by",
]


def drop_foreign_key_indexes(apps, schema_editor):
    for _column, name in FOREIGN_KEY_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_foreign_key_indexes(apps, schema_editor):
    for column, name in FOREIGN_KEY_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "demands_demand" ("{column}")'
        )


def analyze_partial_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in PARTIAL:
            schema_editor.execute(f'ANALYZE "{name}"')


def key(**kwargs):
    return models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        **kwargs,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("areas", "0002_zone_label_grid"),
        ("demands", "0013_export_job"),
        ("people", "0003_importjob_language"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(drop_foreign_key_indexes, create_foreign_key_indexes)
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="demand",
                    name="entered_by",
                    field=key(
                        related_name="entered_demands",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="代录人员",
                    ),
                ),
                migrations.AlterField(
                    model_name="demand",
                    name="handler",
                    field=key(
                        related_name="handled_demands",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="承办人",
                    ),
                ),
                migrations.AlterField(
                    model_name="demand",
                    name="reporter",
                    field=key(related_name="demands", to="people.resident", verbose_name="反映人"),
                ),
            ],
        ),
        migrations.RemoveIndex(model_name="demand", name="demands_dem_communi_858eb7_idx"),
        migrations.RemoveIndex(model_name="demand", name="demands_dem_communi_b3572a_idx"),
        migrations.RemoveIndex(model_name="demand", name="demand_resolved_desc"),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["community", "resolved_at"],
                name="demand_resolved",
            ),
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("first_response_at__isnull", False)),
                fields=["community", "first_response_at"],
                name="demand_first_response",
            ),
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["-resolved_at", "-id"],
                name="demand_resolved_desc",
            ),
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("handler__isnull", False)),
                fields=["handler"],
                name="demand_handler",
            ),
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("reporter__isnull", False)),
                fields=["reporter"],
                name="demand_reporter",
            ),
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("entered_by__isnull", False)),
                fields=["entered_by"],
                name="demand_entered_by",
            ),
        ),
        migrations.RunPython(analyze_partial_indexes, migrations.RunPython.noop, elidable=True),
    ]
