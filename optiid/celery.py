"""The Celery application, configured from Django settings (``CELERY_*``).

Without a broker (the laptop default) ``CELERY_TASK_ALWAYS_EAGER`` runs tasks in-process;
with ``CELERY_BROKER_URL``/``REDIS_URL`` they run in ``make worker`` and ``make beat``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optiid.settings")

app = Celery("optiid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
