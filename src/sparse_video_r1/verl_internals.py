"""Every place we touch verl beyond its public extension points, in one file, checked when it is imported.

verl 0.9.1 has public hooks for platforms, rollout replicas, trainers and advantage estimators, but not for:
- the worker-side rollout registry, a module-private dict (`verl.workers.rollout.base._ROLLOUT_REGISTRY`);
- process groups on CPU: both of verl's process-group initialisers build "cpu:gloo,<device>:<backend>",
  which is invalid when the device is the CPU ("cpu:gloo,cpu:gloo"), the non-Ray one without a backend
  argument at all (`verl.utils.distributed.initialize_global_process_group[_ray]`);
- freezing the vision tower: `actor.freeze_vision_tower` is declared and never read, and the SFT trainer has
  no such key, so a frozen tower needs a wrap of the private `FSDPEngine._build_module`;
- verl's vLLM rollout on a CPU (cpu_backend/vllm_rollout.py) subclasses verl's vLLM classes and overrides
  what they offer as hooks for subclasses, all underscored: `vLLMHttpServer._get_worker_extension_cls` and
  `_preprocess_engine_kwargs`, `vLLMReplica._get_server_name_prefix` and its `server_class` attribute, and
  the worker extension's `update_weights_from_ipc` and `_update_weights`. `check_vllm_rollout()` runs when
  that module is imported (it imports vLLM, so not here).
- the reference model (for a KL term) on CPU: verl builds every forward-only FSDP2 engine with
  `CPUOffloadPolicy(pin_memory=True)`, hard-coded in `transformer_impl`, and pinning memory needs CUDA;
  `unpinned_offload_on_cpu()` rebinds that name to a policy that does not pin (the CPU platform only).
- 3D (mRoPE) position ids of equal-length samples (verl issue #7899, open): when every sequence of a batch has
  the same length, `torch.nested.as_nested_tensor` makes the 4 rope components the ragged dimension, and
  verl's `maybe_fix_3d_position_ids` then marks dimension 2 ragged without checking, so the next `unbind()`
  fails ("split_with_sizes expects split_sizes to sum exactly to <L> ... [4, 4, 4, 4]") and the training step
  dies. A multi-turn group that all stops at the same token budget hits it. Its workers import the function by
  name, so `repair_equal_length_position_ids()` rebinds it there to a version that first rebuilds that layout.

`check()` runs at import and asserts that each is still where we expect it, so a verl upgrade that moves one
fails loudly, by name, instead of breaking a run inside a Ray worker.
"""

from __future__ import annotations

import functools
import inspect
import os
from datetime import timedelta

FREEZE_VISION = "SVR1_FREEZE_VISION"  # the launchers set it to 1 for every verl process they start


def register_rollout(name: str, replica_loader, adapter_path: str) -> None:
    """Make `actor_rollout_ref.rollout.name=<name>` mean our replica (trainer side) and adapter (worker side)."""
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    RolloutReplicaRegistry.register(name, replica_loader)  # public
    base._ROLLOUT_REGISTRY[(name, "async")] = adapter_path  # private: no public hook in 0.9.1


def rollout_adapter(name: str) -> str:
    """The worker-side class verl uses for one of its own rollouts (e.g. "vllm"), by qualified name."""
    from verl.workers.rollout import base

    return base._ROLLOUT_REGISTRY[(name, "async")]  # private: no public getter in 0.9.1


def use_gloo_process_groups() -> None:
    """Plain gloo process groups for verl's Ray workers and for torchrun (the SFT trainer) on CPU. Must run
    before verl imports the functions by name (its SFT trainer imports at call time)."""
    import torch
    from verl.utils import distributed

    ray_init = distributed.initialize_global_process_group_ray
    if getattr(ray_init, "__svr1_gloo__", False):
        return

    @functools.wraps(ray_init)
    def initialize_ray(timeout_second=None, backend=None):
        return ray_init(timeout_second=timeout_second, backend=backend or "cpu:gloo")

    def initialize(timeout_second=36000):
        torch.distributed.init_process_group(
            backend="gloo",
            timeout=timedelta(seconds=timeout_second),
            init_method=os.environ.get("DIST_INIT_METHOD"),
        )
        return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])

    initialize_ray.__svr1_gloo__ = initialize.__svr1_gloo__ = True
    distributed.initialize_global_process_group_ray = initialize_ray
    distributed.initialize_global_process_group = initialize


def freeze_vision_tower_when_asked() -> None:
    """With SVR1_FREEZE_VISION=1, every FSDP engine (actor, SFT) builds its model with the vision tower's
    parameters frozen, before FSDP wraps them and the optimizer sees them."""
    if os.environ.get(FREEZE_VISION) != "1":
        return
    from verl.workers.engine.fsdp import transformer_impl

    build = transformer_impl.FSDPEngine._build_module
    if getattr(build, "__svr1_frozen_vision__", False):
        return

    @functools.wraps(build)
    def build_with_frozen_vision(self):
        module = build(self)
        visual = getattr(module, "visual", None) or getattr(getattr(module, "model", None), "visual", None)
        if visual is None:
            raise RuntimeError(
                f"{FREEZE_VISION}=1 but {type(module).__name__} has no vision tower (`visual`)"
            )
        visual.requires_grad_(False)
        return module

    build_with_frozen_vision.__svr1_frozen_vision__ = True
    transformer_impl.FSDPEngine._build_module = build_with_frozen_vision


def unpinned_offload_on_cpu() -> None:
    """On CPU, verl's forward-only engines (the KL term's reference model) offload their parameters with a
    policy that does not pin memory: pinning needs CUDA, and on a CPU there is nothing to pin for."""
    from verl.workers.engine.fsdp import transformer_impl

    policy = transformer_impl.CPUOffloadPolicy
    if getattr(policy, "__svr1_unpinned__", False):
        return

    class UnpinnedOffloadPolicy(policy):
        __svr1_unpinned__ = True

        def __init__(self, pin_memory: bool = True) -> None:
            super().__init__(pin_memory=False)

    transformer_impl.CPUOffloadPolicy = UnpinnedOffloadPolicy


def canonical_position_ids(position_ids):
    """The ragged-on-sequence layout of a nested (batch, 4, length) tensor that `as_nested_tensor` built
    ragged on the component dimension (values (batch x 4, length)); any other tensor unchanged."""
    import torch

    values, offsets = position_ids.values(), position_ids.offsets()
    batch = offsets.numel() - 1
    component_packed = (
        position_ids._ragged_idx == 1 and values.shape[0] == int(offsets[-1]) != values.shape[1]
    )
    if not component_packed or values.shape[0] % batch:
        return position_ids
    components, length = values.shape[0] // batch, values.shape[1]
    by_sequence = values.view(batch, components, length).transpose(0, 1).reshape(components, batch * length)
    lengths = torch.arange(batch + 1, device=offsets.device, dtype=offsets.dtype) * length
    return torch.nested.nested_tensor_from_jagged(by_sequence, offsets=lengths, jagged_dim=2)


def repair_equal_length_position_ids() -> None:
    """verl #7899 (see the module docstring): every caller of `maybe_fix_3d_position_ids` gets a version that
    rebuilds the component-packed layout before verl's own fix runs. Checks the callers as it goes; call it
    after `use_gloo_process_groups` (the workers it imports bind verl's process-group functions by name)."""
    from verl.utils import tensordict_utils
    from verl.workers import engine_workers
    from verl.workers.engine import base as engine_base

    fix = tensordict_utils.maybe_fix_3d_position_ids

    @functools.wraps(fix)
    def fix_3d_position_ids(data):
        position_ids = data.get("position_ids", None)
        if position_ids is not None and position_ids.is_nested and position_ids.dim() == 3:
            data["position_ids"] = canonical_position_ids(position_ids)
        fix(data)

    for module in (engine_workers, engine_base):
        bound = module.maybe_fix_3d_position_ids
        assert getattr(bound, "__wrapped__", bound) is fix, (
            f"{module.__name__} no longer imports maybe_fix_3d_position_ids by name"
        )
        module.maybe_fix_3d_position_ids = fix_3d_position_ids


def check_vllm_rollout() -> None:
    """Raise if a verl upgrade moved the vLLM rollout's hooks that cpu_backend/vllm_rollout.py overrides."""
    from verl.workers.rollout.vllm_rollout.utils import vLLMColocateWorkerExtension
    from verl.workers.rollout.vllm_rollout.vllm_async_server import vLLMHttpServer, vLLMReplica

    for cls, names in (
        (vLLMHttpServer, ("_get_worker_extension_cls", "_preprocess_engine_kwargs")),
        (vLLMReplica, ("_get_server_name_prefix",)),
        (vLLMColocateWorkerExtension, ("update_weights_from_ipc", "_update_weights")),
    ):
        for name in names:
            assert callable(getattr(cls, name, None)), f"{cls.__name__}.{name} moved"
    assert "self.server_class = ray.remote(vLLMHttpServer)" in inspect.getsource(vLLMReplica.__init__), (
        "vLLMReplica no longer picks its server class in __init__"
    )
    assert "weights" in inspect.signature(vLLMColocateWorkerExtension._update_weights).parameters


def check() -> None:
    """Raise if a verl upgrade moved what this file touches."""
    from verl.utils import distributed
    from verl.workers.engine.fsdp import transformer_impl
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplica, RolloutReplicaRegistry

    assert isinstance(base._ROLLOUT_REGISTRY, dict), "verl.workers.rollout.base._ROLLOUT_REGISTRY moved"
    assert ("vllm", "async") in base._ROLLOUT_REGISTRY, "the rollout registry's keys changed"
    assert callable(RolloutReplicaRegistry.register), "RolloutReplicaRegistry.register moved"
    parameters = inspect.signature(distributed.initialize_global_process_group_ray).parameters
    assert "backend" in parameters, "initialize_global_process_group_ray lost its backend argument"
    returns = inspect.getsource(distributed.initialize_global_process_group)
    assert "return local_rank, rank, world_size" in returns, "initialize_global_process_group changed"
    assert callable(transformer_impl.FSDPEngine._build_module), "FSDPEngine._build_module moved"
    assert "CPUOffloadPolicy(pin_memory=True)" in inspect.getsource(transformer_impl), (
        "verl's FSDP engine no longer builds its offload policy by the name CPUOffloadPolicy"
    )
    assert inspect.isabstract(RolloutReplica) and "launch_servers" in RolloutReplica.__abstractmethods__


check()
