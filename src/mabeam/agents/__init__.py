"""The agent registry: register agents by config, run them supervised, find them by capability.

``registry = await AgentRegistry.start(system)``; ``await registry.register(AgentConfig(
id="coder", actor=Coder, capabilities=("python",)), start=True)``; ``await
registry.find(["python"])``; ``await registry.subscribe(ref)`` for :class:`AgentEvent` s.
"""

from ._config import EVENT_KINDS as EVENT_KINDS
from ._config import AgentConfig as AgentConfig
from ._config import AgentEvent as AgentEvent
from ._config import AgentInfo as AgentInfo
from ._config import Health as Health
from ._config import HealthCheck as HealthCheck
from ._config import RegistryError as RegistryError
from ._registry import AgentRegistry as AgentRegistry
from ._registry import RegistryActor as RegistryActor

__all__ = [
    "EVENT_KINDS",
    "AgentConfig",
    "AgentEvent",
    "AgentInfo",
    "AgentRegistry",
    "Health",
    "HealthCheck",
    "RegistryActor",
    "RegistryError",
]
