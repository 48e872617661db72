from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class BrandInfo:
    id: int
    code: str
    name: str
    currency: str
    timezone: str


@dataclass(frozen=True)
class PluginContext:
    """What a plugin's hook receives along with an event.

    :ivar brand: the brand the event belongs to.
    :ivar configs: the validated config of each of this plugin's components
        enabled on that brand, by component key (slot kinds: ``key:slot``).
    :ivar log: a logger named after the plugin.
    """

    brand: BrandInfo
    configs: Mapping[str, BaseModel]
    log: logging.Logger
