"""Deployments and model versions move here from chat, keeping their tables and rows (renamed in 0002)."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

import llm.crypto


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ('chat', '0002_slack'),
        ('tenants', '0002_tenant_audit_retention_days'),
    ]

    operations = [
        # The tables exist already (created by chat's migrations): only Django's picture of them moves here.
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Deployment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('label', models.CharField(help_text='e.g. japaneast-gpt4o', max_length=100, unique=True, verbose_name='label')),
                        ('kind', models.CharField(choices=[('azure_dated', 'Azure OpenAI, dated API (/openai/deployments/…?api-version=)'), ('azure_v1', 'Azure OpenAI, v1 API (/openai/v1/)'), ('openai_compatible', 'OpenAI or OpenAI-compatible endpoint'), ('fake', 'Built-in fake model (development)')], max_length=32, verbose_name='API style')),
                        ('endpoint', models.CharField(help_text='Azure: https://RESOURCE.openai.azure.com · OpenAI-compatible: the base URL, e.g. https://api.openai.com/v1', max_length=300, verbose_name='endpoint')),
                        ('deployment_name', models.CharField(blank=True, help_text='Azure: the deployment name. OpenAI-compatible: the model name sent in requests.', max_length=200, verbose_name='deployment / model name')),
                        ('api_version', models.CharField(blank=True, help_text='Azure dated API only, e.g. 2024-10-21.', max_length=40, verbose_name='api-version')),
                        ('api_key', llm.crypto.EncryptedTextField(blank=True, verbose_name='API key')),
                        ('connect_timeout', models.FloatField(default=5, validators=[django.core.validators.MinValueValidator(0.1)], verbose_name='connect timeout (s)')),
                        ('first_token_timeout', models.FloatField(default=60, validators=[django.core.validators.MinValueValidator(0.1)], verbose_name='first-token timeout (s)')),
                        ('stall_timeout', models.FloatField(default=60, validators=[django.core.validators.MinValueValidator(0.1)], verbose_name='stall timeout (s)')),
                        ('enabled', models.BooleanField(default=True, verbose_name='enabled')),
                        ('region', models.CharField(blank=True, max_length=60, verbose_name='region')),
                        ('notes', models.TextField(blank=True, verbose_name='notes')),
                        ('last_check_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='last check')),
                        ('last_check_ok', models.BooleanField(editable=False, null=True, verbose_name='last check passed')),
                        ('last_check_latency_ms', models.FloatField(editable=False, null=True, verbose_name='latency (ms)')),
                        ('last_check_model', models.CharField(blank=True, editable=False, max_length=200, verbose_name='model reported')),
                        ('last_check_error', models.TextField(blank=True, editable=False, verbose_name='last error')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'chat_deployment',
                        'verbose_name': 'deployment',
                        'verbose_name_plural': 'deployments',
                        'ordering': ['label'],
                    },
                ),
                migrations.CreateModel(
                    name='ModelVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('display_name', models.CharField(max_length=100, verbose_name='display name')),
                        ('family', models.CharField(help_text='e.g. gpt-4o, o3-mini', max_length=60, verbose_name='model family')),
                        ('version', models.CharField(help_text='e.g. 2024-11-20', max_length=40, verbose_name='version')),
                        ('status', models.CharField(choices=[('preview', 'Preview'), ('active', 'Active'), ('deprecated', 'Deprecated'), ('retired', 'Retired')], default='active', max_length=16, verbose_name='status')),
                        ('deprecated_on', models.DateField(blank=True, null=True, verbose_name='deprecated on')),
                        ('retires_on', models.DateField(blank=True, null=True, verbose_name='retires on')),
                        ('context_window', models.PositiveIntegerField(default=128000, verbose_name='context window (tokens)')),
                        ('max_output_tokens', models.PositiveIntegerField(default=4096, verbose_name='output limit (tokens)')),
                        ('token_param', models.CharField(choices=[('max_tokens', 'max_tokens'), ('max_completion_tokens', 'max_completion_tokens')], default='max_tokens', max_length=32, verbose_name='token parameter')),
                        ('temperature_allowed', models.BooleanField(default=True, verbose_name='temperature allowed')),
                        ('system_role', models.CharField(choices=[('system', 'system'), ('developer', 'developer'), ('none', 'none (folded into the first user message)')], default='system', max_length=16, verbose_name='system prompt role')),
                        ('streaming', models.BooleanField(default=True, verbose_name='streaming allowed')),
                        ('usage_in_stream', models.BooleanField(default=True, verbose_name='usage reported in stream')),
                        ('reasoning_efforts', models.CharField(blank=True, help_text='Comma-separated, e.g. low,medium,high', max_length=100, verbose_name='reasoning-effort values')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'chat_modelversion',
                        'verbose_name': 'model version',
                        'verbose_name_plural': 'model versions',
                        'ordering': ['family', '-version'],
                    },
                ),
                migrations.CreateModel(
                    name='ModelVersionAccess',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('is_default', models.BooleanField(default=False, verbose_name='default for this company')),
                        ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='llm.modelversion')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='tenants.tenant', verbose_name='company')),
                    ],
                    options={
                        'db_table': 'chat_modelversionaccess',
                        'verbose_name': 'company access',
                        'verbose_name_plural': 'company access',
                    },
                ),
                migrations.AddField(
                    model_name='modelversion',
                    name='tenants',
                    field=models.ManyToManyField(related_name='model_versions', through='llm.ModelVersionAccess', to='tenants.tenant', verbose_name='companies'),
                ),
                migrations.CreateModel(
                    name='ModelVersionDeployment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('priority', models.PositiveSmallIntegerField(default=0, help_text='0 = primary', verbose_name='priority')),
                        ('deployment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='llm.deployment', verbose_name='deployment')),
                        ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='llm.modelversion')),
                    ],
                    options={
                        'db_table': 'chat_modelversiondeployment',
                        'verbose_name': 'serving deployment',
                        'verbose_name_plural': 'serving deployments',
                        'ordering': ['priority', 'pk'],
                    },
                ),
                migrations.AddField(
                    model_name='modelversion',
                    name='deployments',
                    field=models.ManyToManyField(related_name='model_versions', through='llm.ModelVersionDeployment', to='llm.deployment', verbose_name='deployments'),
                ),
                migrations.AddConstraint(
                    model_name='modelversionaccess',
                    constraint=models.UniqueConstraint(fields=('model_version', 'tenant'), name='mva_unique_tenant'),
                ),
                migrations.AddConstraint(
                    model_name='modelversionaccess',
                    constraint=models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('tenant',), name='mva_one_default_per_tenant'),
                ),
                migrations.AddConstraint(
                    model_name='modelversiondeployment',
                    constraint=models.UniqueConstraint(fields=('model_version', 'deployment'), name='mvd_unique_deployment'),
                ),
                migrations.AddConstraint(
                    model_name='modelversion',
                    constraint=models.UniqueConstraint(fields=('family', 'version'), name='modelversion_family_version'),
                ),
            ],
        ),
    ]
