"""Costs moto's Step Functions engine adds to every local run for nothing (patches 7, 9, 10, 11).

7. **Looks at a job every half second.** :func:`backing_off` makes a ``.sync`` Task look at its
   work soon, then less often (moto_patches' docstring has the figures), and look again as soon
   as a local work ends (:mod:`medallion.local.changes`) instead of when its wait runs out.

9. **EC2 loaded for an enum.** moto's Task factory imports every service integration, Batch's
   among them, and that module takes one enum (``JobStatus``) from ``moto.batch.utils``.
   Importing a submodule runs its package's ``__init__`` first, and ``moto/batch/__init__.py``
   imports Batch's backend, which imports EC2's models: about 1.1 s of a local run's start (a
   third of its imports on two cores), before the first job. :func:`defer_batch_backend`
   registers the ``moto.batch`` package without running its ``__init__`` (its only line imports
   ``batch_backends``): the package's submodules import as before, and ``batch_backends`` is
   imported the first time anything asks the package for it, so Batch works as shipped for a
   caller that uses it. It must run before moto's Step Functions parser is imported, and does
   nothing when ``moto.batch`` is already imported.
10. **A new boto3 client for every Task.** The engine asks ``boto_client_for`` for a client each
   time a Task calls a service (a Glue job's start and its ``.sync`` looks, every crawler poll,
   every view's query), and each call builds a client from the service's model: tens of
   milliseconds of CPU each, about 40 per run. The clients are alike (the same fixed test
   credentials, region, endpoint and configuration; the Task's state credentials are not used by
   moto 5.2.5) and botocore clients are thread-safe, so :func:`reuse_clients` hands out one
   client per region, service and endpoint instead.

11. **Nothing wakes a waiter.** :func:`signalling_changes` makes every history event moto's
   engine adds, and every execution's end, a change (:data:`medallion.local.changes.CHANGES`),
   so ``medallion run`` sees a state entered or the run ended when it happens, not at its next
   look (:func:`medallion.aws.stepfunctions.follow` waits on it between looks).

``tests/medallion/local/test_moto_lean.py`` checks 9 and 10, and that moto still behaves as
shipped; ``tests/medallion/local/test_moto_patches.py`` checks 7 and 11.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, Final

from medallion.local.changes import CHANGES

BATCH: Final = "moto.batch"
CLIENT_FACTORY: Final = "boto_client_for"
ENGINE: Final = "moto.stepfunctions.parser."
ATHENA_SYNC: Final = "medallion.local.moto_athena_sync"  # patch 2's service, built like moto's
# patch 7: a local .sync Task's first wait between looks at its work, growth, and longest wait
SYNC_POLL_SECONDS: Final = 0.01
SYNC_POLL_GROWTH: Final = 1.5
SYNC_POLL_MAX_SECONDS: Final = 1.0  # a local work's end wakes the Task at once (changes.py)
_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}


def defer_batch_backend() -> bool:
    """Register ``moto.batch`` without importing Batch's backend (and EC2's) until it is asked
    for. Returns whether it did (False: already imported, or moto has no Batch package)."""
    if BATCH in sys.modules:
        return False
    spec = importlib.util.find_spec(BATCH)
    if spec is None or spec.submodule_search_locations is None:
        return False
    package = importlib.util.module_from_spec(spec)  # __path__, __spec__; __init__ not run

    def __getattr__(name: str) -> Any:  # what moto/batch/__init__.py would have imported
        if name == "batch_backends":
            from moto.batch.models import batch_backends

            return batch_backends
        raise AttributeError(f"module {BATCH!r} has no attribute {name!r}")

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[BATCH] = package
    parent = sys.modules.get("moto")
    if parent is not None:
        parent.batch = package  # type: ignore[attr-defined]
    return True


def _engine_modules() -> list[ModuleType]:
    """The loaded modules of moto's Step Functions engine (and patch 2's Athena service) that
    bound moto's ``boto_client_for``."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    found = []
    for name, module in list(sys.modules.items()):
        engine = name.startswith(ENGINE) or name == ATHENA_SYNC
        if engine and getattr(module, CLIENT_FACTORY, None) is boto_client.boto_client_for:
            found.append(module)
    return found


def reuse_clients() -> list[tuple[ModuleType, str, Callable[..., Any]]]:
    """(module, attribute, replacement) for each engine module: a ``boto_client_for`` that hands
    out one client per region, service and endpoint. moto_patches applies and restores them
    as it does every patch; :func:`forget_clients` drops the clients kept."""
    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto points a client at its server unless the in-process stubber is on: both
        # decide which client is asked for, so both are in the key.
        key = (region, service, bool(botocore_stubber.enabled), _server_port())
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = original(region, service, state_credentials)
        return client

    return [(module, CLIENT_FACTORY, boto_client_for) for module in _engine_modules()]


def signalling_changes() -> list[tuple[Any, str, Callable[..., Any]]]:
    """(owner, attribute, replacement) for patch 11: moto's ``EventManager.add_event`` and its
    executions' ``terminated`` callback, each signalling a change after doing what they did."""
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    add_event = EventManager.add_event
    terminated = BaseExecutionWorkerCommunication.terminated

    def signalled_add_event(self: Any, *args: Any, **kwargs: Any) -> Any:
        event_id = add_event(self, *args, **kwargs)
        CHANGES.changed()
        return event_id

    def signalled_terminated(self: Any) -> None:
        terminated(self)  # the execution's status is set here, after its last event
        CHANGES.changed()

    return [
        (EventManager, "add_event", signalled_add_event),
        (BaseExecutionWorkerCommunication, "terminated", signalled_terminated),
    ]


def _server_port() -> int:
    from moto.settings import moto_server_port

    return int(moto_server_port())


def forget_clients() -> None:
    """Drop the clients kept (moto_patches' uninstall, with moto's own factory put back)."""
    with _lock:
        _clients.clear()


def backing_off(resolver: Callable[[], Any]) -> Callable[[], Any]:
    """``resolver`` (a .sync Task's look at its work), waiting after each look that finds it
    unfinished until a local work ends or :data:`SYNC_POLL_SECONDS` pass, then longer by
    :data:`SYNC_POLL_GROWTH` each time, up to :data:`SYNC_POLL_MAX_SECONDS`."""
    delay = SYNC_POLL_SECONDS

    def look() -> Any:
        nonlocal delay
        seen = CHANGES.count()  # before the look: an end during it cuts the wait short
        result = resolver()
        if not result:
            CHANGES.wait_past(seen, delay)
            delay = min(delay * SYNC_POLL_GROWTH, SYNC_POLL_MAX_SECONDS)
        return result

    return look
