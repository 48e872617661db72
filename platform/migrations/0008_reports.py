from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tessera', '0007_admin_form_submission')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportTarget',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('report_type', fields.CharField(max_length=100)),
                ('figure', fields.CharField(max_length=64)),
                ('start', fields.DateField()),
                ('end', fields.DateField()),
                ('value', fields.CharField(description="exact decimal in the figure's unit: money in currency units, ratios as 0.25", max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'report_target', 'app': 'tessera', 'unique_together': (('brand_id', 'report_type', 'figure', 'start', 'end'),), 'pk_attr': 'id', 'table_description': 'A target for one figure of one report type over one period (local'},
            bases=['BrandOwned'],
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['brand_id', 'occurred_at']),
        ),
    ]
