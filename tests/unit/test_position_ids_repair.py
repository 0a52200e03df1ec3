"""verl #7899: an update batch whose sequences all have one length must not kill the training step.

A group of multi-turn rollouts that all stop at the token budget has exactly that shape; it crashed one CI run
in three (`split_with_sizes expects split_sizes to sum exactly to 1298 ... [4, 4, 4, 4]`).
"""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict

from sparse_video_r1 import verl_internals


def _batch(lengths: list[int]) -> tuple[TensorDict, list[torch.Tensor]]:
    """Per-sample mRoPE position ids (4 components x length), nested the way verl's batches carry them."""
    samples = [torch.arange(4 * n).view(4, n) + 1000 * i for i, n in enumerate(lengths)]
    nested = torch.nested.as_nested_tensor(samples, layout=torch.jagged)
    return TensorDict({"position_ids": nested}, batch_size=[len(lengths)]), samples


def test_verl_alone_still_breaks_on_equal_lengths():
    """When this fails, verl fixed #7899 and `repair_equal_length_position_ids` can go."""
    from verl.utils import tensordict_utils

    data, _ = _batch([7, 7, 7, 7])
    tensordict_utils.maybe_fix_3d_position_ids(data)
    with pytest.raises(RuntimeError):
        data["position_ids"].unbind()


@pytest.mark.parametrize("lengths", [[7, 7, 7, 7], [5], [3, 9, 4]])
def test_the_repaired_fix_keeps_every_sample_and_the_mini_batch_split_works(lengths):
    from verl.utils import tensordict_utils as tu
    from verl.workers import engine_workers
    from verl.workers.engine import base as engine_base

    verl_internals.repair_equal_length_position_ids()
    assert engine_base.maybe_fix_3d_position_ids is engine_workers.maybe_fix_3d_position_ids
    data, samples = _batch(lengths)
    engine_workers.maybe_fix_3d_position_ids(data)

    assert [tuple(t.shape) for t in data["position_ids"].unbind()] == [(4, n) for n in lengths]
    for got, want in zip(data["position_ids"].unbind(), samples, strict=True):
        assert torch.equal(got, want)
    picked = list(reversed(range(len(lengths))))
    mini_batch = tu.index_select_tensor_dict(data, picked)  # what train_mini_batch's iterator does
    for got, index in zip(mini_batch["position_ids"].unbind(), picked, strict=True):
        assert torch.equal(got, samples[index])


def test_a_batch_already_ragged_on_the_sequence_is_left_as_it_is():
    _, samples = _batch([3, 9])
    nested = torch.nested.as_nested_tensor(samples, layout=torch.jagged)
    assert verl_internals.canonical_position_ids(nested) is nested
