"""Every place the CPU backend touches verl beyond its public extension points, in one file.

verl 0.9.1 has public hooks for platforms and rollout replicas, but the worker-side rollout registry is a
module-private dict, and its Ray process-group setup names the device twice on CPU ("cpu:gloo,cpu:gloo").
`check()` asserts that each of these is still where we expect it; a test calls it, so a verl upgrade
that moves one fails loudly instead of breaking CPU training in a Ray worker.
"""

from __future__ import annotations

import functools
import inspect


def register_rollout(name: str, replica_loader, adapter_path: str) -> None:
    """Make `actor_rollout_ref.rollout.name=<name>` mean our replica (trainer side) and adapter (worker side)."""
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    RolloutReplicaRegistry.register(name, replica_loader)  # public
    base._ROLLOUT_REGISTRY[(name, "async")] = adapter_path  # private: no public hook in 0.9.1


def use_gloo_process_groups() -> None:
    """verl's Ray workers build "cpu:gloo,<device>:<backend>", invalid when the device is the CPU; default
    the backend to plain gloo. Must run before verl's workers import the function by name."""
    from verl.utils import distributed

    original = distributed.initialize_global_process_group_ray
    if getattr(original, "__svr1_gloo__", False):
        return

    @functools.wraps(original)
    def initialize(timeout_second=None, backend=None):
        return original(timeout_second=timeout_second, backend=backend or "cpu:gloo")

    initialize.__svr1_gloo__ = True
    distributed.initialize_global_process_group_ray = initialize


def check() -> None:
    """Raise if a verl upgrade moved what this file touches."""
    from verl.utils import distributed
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplica, RolloutReplicaRegistry

    assert isinstance(base._ROLLOUT_REGISTRY, dict), "verl.workers.rollout.base._ROLLOUT_REGISTRY moved"
    assert ("vllm", "async") in base._ROLLOUT_REGISTRY, "the rollout registry's keys changed"
    assert callable(RolloutReplicaRegistry.register), "RolloutReplicaRegistry.register moved"
    parameters = inspect.signature(distributed.initialize_global_process_group_ray).parameters
    assert "backend" in parameters, "initialize_global_process_group_ray lost its backend argument"
    assert inspect.isabstract(RolloutReplica) and "launch_servers" in RolloutReplica.__abstractmethods__
