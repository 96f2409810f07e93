# Indexes that cost every insert and served no query:
# - the demand's state and community alone: (state, deadline), and (community,
#   created_at) with four more, begin with them;
# - the event's time alone: events are read by demand, or by kind and time;
# - the rare links of a demand (a co-building unit or a department as handler, a merge)
#   over every row, where nearly every row has none: now indexed only where set.
#
# The fields' db_index changes only the migration state here. Done as AlterField, SQLite
# would copy each whole table into a new one (minutes at millions of demands and events)
# and lose its planner statistics with it; dropping the indexes by name leaves the tables
# and the statistics of the other indexes as they are. The new partial indexes get their
# statistics at once (ANALYZE of each: a few entries).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# (table, column, the index Django named for db_index=True)
SINGLE_COLUMN = [
    ("demands_demand", "state", "demands_demand_state_aa955968"),
    ("demands_demand", "community_id", "demands_demand_community_id_70797e58"),
    ("demands_demand", "handler_unit_id", "demands_demand_handler_unit_id_55e9d78b"),
    ("demands_demand", "department_id", "demands_demand_department_id_880cc175"),
    ("demands_demand", "merged_into_id", "demands_demand_merged_into_id_2979e578"),
    ("demands_demandevent", "at", "demands_demandevent_at_cd986009"),
]
PARTIAL = ["demand_handler_unit", "demand_department", "demand_merged_into"]


def drop_single_column_indexes(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for _table, column, name in SINGLE_COLUMN:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
        if postgresql and column == "state":  # its twin for LIKE on a varchar
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}_like"')


def create_single_column_indexes(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for table, column, name in SINGLE_COLUMN:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")')
        if postgresql and column == "state":
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}_like" ON "{table}" '
                f'("{column}" varchar_pattern_ops)'
            )


def analyze_partial_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in PARTIAL:
            schema_editor.execute(f'ANALYZE "{name}"')


def field(**kwargs):
    return models.ForeignKey(
        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, **kwargs
    )


class Migration(migrations.Migration):
    dependencies = [
        ("areas", "0002_zone_label_grid"),
        ("demands", "0006_open_work_indexes"),
        ("people", "0003_importjob_language"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(drop_single_column_indexes, create_single_column_indexes)
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="demand",
                    name="community",
                    field=models.ForeignKey(
                        db_index=False,
                        limit_choices_to={"level": 30},
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="community_demands",
                        to="areas.area",
                        verbose_name="社区",
                    ),
                ),
                migrations.AlterField(
                    model_name="demand",
                    name="state",
                    field=models.CharField(
                        choices=[
                            ("submitted", "待受理"),
                            ("dispatched", "已派单"),
                            ("accepted", "已接单"),
                            ("in_progress", "办理中"),
                            ("resolved", "已办结"),
                            ("closed", "已回访"),
                            ("returned", "已退回"),
                            ("merged", "已合并"),
                            ("withdrawn", "已撤回"),
                        ],
                        default="submitted",
                        max_length=20,
                        verbose_name="状态",
                    ),
                ),
                migrations.AlterField(
                    model_name="demandevent",
                    name="at",
                    field=models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="时间"
                    ),
                ),
                migrations.AlterField(
                    model_name="demand",
                    name="department",
                    field=field(
                        related_name="demands", to="demands.department", verbose_name="承办部门"
                    ),
                ),
                migrations.AlterField(
                    model_name="demand",
                    name="handler_unit",
                    field=field(
                        related_name="demands",
                        to="people.cobuildingunit",
                        verbose_name="承办共建单位",
                    ),
                ),
                migrations.AlterField(
                    model_name="demand",
                    name="merged_into",
                    field=field(
                        related_name="merged_demands", to="demands.demand", verbose_name="合并至"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("handler_unit__isnull", False)),
                fields=["handler_unit"],
                name="demand_handler_unit",
            ),
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("department__isnull", False)),
                fields=["department"],
                name="demand_department",
            ),
        ),
        migrations.AddIndex(
            model_name="demand",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", False)),
                fields=["merged_into"],
                name="demand_merged_into",
            ),
        ),
        migrations.RunPython(analyze_partial_indexes, migrations.RunPython.noop, elidable=True),
    ]
