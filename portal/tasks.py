"""The index Celery autodiscovers for the portal app: each domain's tasks, by the names the beat schedule
and queued messages use (`portal.tasks.<name>`, pinned in each task)."""

import portal.bulkcheck.tasks  # noqa: F401
import portal.carrier.tasks  # noqa: F401
import portal.health.tasks  # noqa: F401
import portal.lookup.tasks  # noqa: F401
import portal.notices.tasks  # noqa: F401
import portal.recycling.tasks  # noqa: F401
import portal.sms.tasks  # noqa: F401
import portal.unbinding.tasks  # noqa: F401
import portal.verification.tasks  # noqa: F401
