"""Shared test setup for stimuli_gen."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each test on one torch thread: tiny networks gain nothing from intra-op
    threads, and on a shared 2-core machine they oversubscribe."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
