"""Imported once by the local executor's fork server, before it forks the workers: the
scenario runner and every built-in protocol (scipy included), so a worker starts with
them loaded instead of importing them itself."""

from ..scenario import protocol_kinds
from . import _worker as _worker

protocol_kinds()
