"""Tool tabs of the explorer (filled in by issue 4). `build(shared)` adds its tabs inside ui.build_demo's gr.Tabs."""
from __future__ import annotations


def build(shared) -> None:
    return None
