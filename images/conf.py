"""Settings of the images app, read from Django settings with defaults (see README "Configuration")."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def _number(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def jobs_per_host() -> int:
    """How many jobs may run at once on one host; the rest wait queued."""
    return max(1, int(getattr(settings, "IMAGES_JOBS_PER_HOST", 2)))


def job_time_limit() -> float:
    """Seconds a job may run before it is stopped and failed."""
    return _number("IMAGES_JOB_TIME_LIMIT", 3600.0)


def heartbeat_interval() -> float:
    return _number("IMAGES_JOB_HEARTBEAT", 5.0)


def stale_after() -> float:
    """A running job whose worker has not written a heartbeat for this long is considered lost."""
    return _number("IMAGES_JOB_STALE_AFTER", 60.0)


def progress_interval() -> float:
    """Minimum seconds between two progress saves (and broadcasts) of one job."""
    return _number("IMAGES_PROGRESS_INTERVAL", 0.25)


def cancel_poll_interval() -> float:
    return _number("IMAGES_CANCEL_POLL", 0.5)


def max_upload_bytes() -> int:
    return int(getattr(settings, "IMAGES_MAX_UPLOAD_BYTES", 2 * 1024**3))


def upload_dir() -> Path:
    """Where build contexts wait for their job; workers on other machines need it shared."""
    configured = getattr(settings, "IMAGES_UPLOAD_DIR", None)
    path = Path(configured) if configured else Path(settings.DATA_DIR) / "build-contexts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def context_retention() -> float:
    """Seconds the context of a failed or cancelled build is kept for a retry."""
    return _number("IMAGES_CONTEXT_RETENTION", 86400.0)


def connect_retries() -> int:
    """Retries (with backoff) of a job whose host could not be reached before any work started."""
    return int(getattr(settings, "IMAGES_JOB_CONNECT_RETRIES", 3))


def retry_backoff() -> float:
    return _number("IMAGES_JOB_RETRY_BACKOFF", 5.0)


def max_attempts() -> int:
    """Runs of a pull whose worker was lost, before it is failed instead of run again."""
    return int(getattr(settings, "IMAGES_JOB_MAX_ATTEMPTS", 2))
