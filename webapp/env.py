"""Settings from environment variables: small readers that fail loudly on bad values."""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


GPU_CLASS_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


def env_gpu_classes(name: str, default: list[str]) -> list[str]:
    """GPU class names (`a100`, `h200`, ...): each becomes part of a queue name, so only a-z 0-9 . _ -."""
    names = env_list(name, default)
    for value in names:
        if not GPU_CLASS_NAME.match(value):
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not a GPU class name (lowercase letters, digits, . _ -; up to 32)"
            )
    return list(dict.fromkeys(names))


def env_gpu_class(name: str) -> str:
    """One GPU class name, or "" when unset (a worker serves at most one class besides `gpu`)."""
    names = env_gpu_classes(name, [])
    if len(names) > 1:
        raise ImproperlyConfigured(f"{name} names one GPU class, not {', '.join(names)} (one worker per GPU type)")
    return names[0] if names else ""


def env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    path = Path(value).expanduser() if value else default
    if not path.is_absolute():
        raise ImproperlyConfigured(f"{name}={value!r} must be an absolute path")
    if path.exists() and not path.is_dir():
        raise ImproperlyConfigured(f"{name}={str(path)!r} exists and is not a folder")
    return path


def redis_url_for_celery(url: str) -> str:
    """Kombu spells a Redis unix socket `redis+socket://`; redis-py and channels-redis say `unix://`."""
    if url.startswith("unix://"):
        return "redis+socket://" + url[len("unix://") :]
    return url


def check_redis_url(name: str, url: str) -> str:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"{name}={url!r} must start with redis://, rediss:// or unix://")
    return url


def s3_storage(bucket: str, endpoint_url: str, access_key: str, secret_key: str, region: str) -> dict:
    """django-storages' S3 backend for Django's STORAGES["default"]: path-style addressing (SeaweedFS,
    MinIO), objects private, files overwritten in place (a checkpoint keeps its name). The keys are
    checked here, never logged."""
    missing = [
        name
        for name, value in (
            ("TRAINYARD_S3_ENDPOINT_URL", endpoint_url),
            ("TRAINYARD_S3_ACCESS_KEY_ID", access_key),
            ("TRAINYARD_S3_SECRET_ACCESS_KEY", secret_key),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(f"TRAINYARD_S3_BUCKET={bucket!r} is set, so {', '.join(missing)} must be set too")
    if not endpoint_url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"TRAINYARD_S3_ENDPOINT_URL={endpoint_url!r} must start with http:// or https://")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url,
            "access_key": access_key,
            "secret_key": secret_key,
            "region_name": region,
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
            # A file opened through the storage spills to a temporary file past this size (0: all in memory).
            "max_memory_size": 16 * 2**20,
        },
    }
