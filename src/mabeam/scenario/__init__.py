"""Scenario files: the msgspec schema, the loader with clear errors, and the runner."""

from ._kind import Kind as Kind
from ._kinds import KINDS as KINDS
from ._load import load_scenario as load_scenario
from ._load import parse_scenario as parse_scenario
from ._run import Outcome as Outcome
from ._run import RunError as RunError
from ._run import RunFailure as RunFailure
from ._run import RunMonitor as RunMonitor
from ._run import RunReport as RunReport
from ._run import RunStats as RunStats
from ._run import RunStatus as RunStatus
from ._run import RunStopped as RunStopped
from ._run import ScenarioRun as ScenarioRun
from ._run import check_runnable as check_runnable
from ._run import protocol_kinds as protocol_kinds
from ._run import register_protocol as register_protocol
from ._run import run_scenario as run_scenario
from ._schema import AgentSpec as AgentSpec
from ._schema import FaultSpec as FaultSpec
from ._schema import NetworkSpec as NetworkSpec
from ._schema import Scenario as Scenario
from ._schema import json_schema as json_schema

__all__ = [
    "KINDS",
    "AgentSpec",
    "FaultSpec",
    "Kind",
    "NetworkSpec",
    "Outcome",
    "RunError",
    "RunFailure",
    "RunMonitor",
    "RunReport",
    "RunStats",
    "RunStatus",
    "RunStopped",
    "Scenario",
    "ScenarioRun",
    "check_runnable",
    "json_schema",
    "load_scenario",
    "parse_scenario",
    "protocol_kinds",
    "register_protocol",
    "run_scenario",
]
