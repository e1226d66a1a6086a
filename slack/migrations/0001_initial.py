"""Slack workspaces and events move here from chat, keeping their tables and rows (renamed in 0002)."""

import django.db.models.deletion
from django.db import migrations, models

import llm.crypto


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ('chat', '0002_slack'),
        ('llm', '0001_initial'),
        ('tenants', '0002_tenant_audit_retention_days'),
    ]

    operations = [
        # The tables exist already (created by chat's migrations): only Django's picture of them moves here.
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='SlackWorkspace',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('slug', models.SlugField(help_text='The ?workspace= value of the Request URL.', unique=True, verbose_name='slug')),
                        ('team_id', models.CharField(help_text='Slack workspace ID, e.g. T0123ABCD', max_length=32, verbose_name='team ID')),
                        ('app_id', models.CharField(blank=True, help_text='Slack app ID, e.g. A0123ABCD', max_length=32, verbose_name='app ID')),
                        ('signing_secret', llm.crypto.EncryptedTextField(blank=True, verbose_name='signing secret')),
                        ('bot_token', llm.crypto.EncryptedTextField(blank=True, verbose_name='bot token')),
                        ('bot_user_id', models.CharField(blank=True, editable=False, max_length=32, verbose_name='bot user ID')),
                        ('bot_id', models.CharField(blank=True, editable=False, max_length=32, verbose_name='bot ID')),
                        ('bot_name', models.CharField(blank=True, editable=False, max_length=100, verbose_name='bot name')),
                        ('enabled', models.BooleanField(default=True, verbose_name='enabled')),
                        ('include_thread_context', models.BooleanField(default=False, help_text='Channel threads: also send messages that do not mention the bot to the model.', verbose_name='include other thread messages')),
                        ('notice_language', models.CharField(choices=[('ja', 'Japanese'), ('en', 'English')], default='ja', max_length=2, verbose_name='notice language')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('model_version', models.ForeignKey(blank=True, help_text="Empty: the company's default model.", null=True, on_delete=django.db.models.deletion.SET_NULL, to='llm.modelversion', verbose_name='model')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='tenants.tenant', verbose_name='company')),
                    ],
                    options={
                        'db_table': 'chat_slackworkspace',
                        'verbose_name': 'Slack workspace',
                        'verbose_name_plural': 'Slack workspaces',
                        'ordering': ['slug'],
                    },
                ),
                migrations.CreateModel(
                    name='SlackEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event_id', models.CharField(max_length=64)),
                        ('event_type', models.CharField(blank=True, max_length=64)),
                        ('payload', models.JSONField(default=dict)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('processing', 'Processing'), ('done', 'Done'), ('ignored', 'Ignored'), ('failed', 'Failed')], default='queued', max_length=16)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('reply_message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='chat.message')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='tenants.tenant', verbose_name='company')),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='slack.slackworkspace')),
                    ],
                    options={
                        'db_table': 'chat_slackevent',
                        'indexes': [models.Index(fields=['status', 'created_at'], name='slackevent_status')],
                        'constraints': [models.UniqueConstraint(fields=('workspace', 'event_id'), name='slackevent_unique_event')],
                    },
                ),
            ],
        ),
    ]
