"""Registries filled by decorators, timm-style: `@MODELS.register("name")`, then `MODELS.get(name)`.

Architectures, augmentation presets, optimizers, schedulers and presets each have one; code picks
an entry by name through its registry, never through if/elif chains on strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, description: str = "", **info: Any) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj, description, **info)
            return obj

        return decorator

    def add(self, name: str, obj: T, description: str = "", **info: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if not description and getattr(obj, "__doc__", None):
            description = obj.__doc__.strip().splitlines()[0]
        self._entries[name] = Entry(name, obj, description, dict(info))

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
