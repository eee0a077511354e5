"""Shared test set-up: a headless matplotlib, and one torch thread per pytest worker."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

# The tests run small tensors on `pytest -n auto` workers (2 cores in CI): more threads than
# cores only adds contention, which made tiny per-step updates ~10x slower when measured.
torch.set_num_threads(1)


import re  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_doc_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict]:
    """Execute a docs page's ```python blocks in order, in one namespace, inside ``tmp_path``.

    The integration pages promise that their code runs; tests call this and then check what the
    code left in the returned namespace.
    """

    def run(page: str) -> dict:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
        assert blocks, f"{page} has no python code"
        monkeypatch.chdir(tmp_path)
        namespace: dict = {"__name__": "__doc_page__"}
        for block in blocks:
            exec(compile(block, f"docs/{page}", "exec"), namespace)
        return namespace

    return run
