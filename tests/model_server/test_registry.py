"""The model registry: LRU eviction, in-use models kept, single load, keep-alive."""

from __future__ import annotations

import asyncio
import threading

import pytest

from model_server.errors import ModelBusyError
from model_server.registry import ModelNotFoundError, ModelRegistry, State
from tests.model_server.conftest import CountingPiper


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now


def registry_of(n: int, clock: Clock | None = None, **kwargs: object) -> ModelRegistry:
    backends = {f"m{i}": ("piper", CountingPiper()) for i in range(n)}
    return ModelRegistry(backends, clock=clock or Clock(), **kwargs)  # type: ignore[arg-type]


def backend(registry: ModelRegistry, name: str) -> CountingPiper:
    b = registry.entry(name).backend
    assert isinstance(b, CountingPiper)
    return b


async def test_least_recently_used_idle_model_is_evicted() -> None:
    clock = Clock()
    registry = registry_of(4, clock, max_loaded=3)
    for name in ("m0", "m1", "m2"):
        clock.tick()
        await registry.load(name)
    clock.tick()
    async with registry.lease("m0"):  # m0 becomes the most recent
        pass
    clock.tick()
    await registry.load("m3")
    assert sorted(registry.loaded_names()) == ["m0", "m2", "m3"]
    assert backend(registry, "m1").unloads == 1
    clock.tick()
    await registry.load("m1")
    assert sorted(registry.loaded_names()) == ["m0", "m1", "m3"]  # m2 was now the oldest


async def test_model_in_use_is_never_evicted() -> None:
    clock = Clock()
    registry = registry_of(3, clock, max_loaded=1)
    async with registry.lease("m0"):
        clock.tick()
        async with registry.lease("m1"):
            # both busy: the registry is over its limit rather than pulling one away
            assert sorted(registry.loaded_names()) == ["m0", "m1"]
            assert backend(registry, "m0").unloads == 0
        # m1 released while m0 is still busy: m1 is the only idle one, so it goes
        assert registry.loaded_names() == ["m0"]
    async with registry.lease("m2"):
        assert registry.loaded_names() == ["m2"]
    assert backend(registry, "m0").unloads == 1


async def test_concurrent_first_requests_load_once() -> None:
    gate = threading.Event()
    registry = ModelRegistry({"m": ("piper", CountingPiper(gate))})

    async def use() -> State:
        async with registry.lease("m"):
            return registry.entry("m").state

    tasks = [asyncio.create_task(use()) for _ in range(8)]
    await asyncio.sleep(0.05)
    assert registry.entry("m").state is State.LOADING
    assert registry.entry("m").in_flight == 8
    gate.set()
    assert await asyncio.gather(*tasks) == [State.LOADED] * 8
    assert backend(registry, "m").loads == 1


async def test_a_cancelled_first_request_does_not_cancel_the_load() -> None:
    gate = threading.Event()
    registry = ModelRegistry({"m": ("piper", CountingPiper(gate))})

    async def use() -> None:
        async with registry.lease("m"):
            pass

    first, second = asyncio.create_task(use()), asyncio.create_task(use())
    await asyncio.sleep(0.05)
    first.cancel()
    gate.set()
    await second
    assert first.cancelled()
    assert registry.entry("m").state is State.LOADED
    assert backend(registry, "m").loads == 1


async def test_idle_model_is_unloaded_after_keep_alive() -> None:
    registry = registry_of(2, None, keep_alive_seconds=0.2)
    registry._clock = __import__("time").time  # real time for the reaper
    registry.start()
    try:
        await registry.load("m0")
        async with registry.lease("m1"):
            await asyncio.sleep(0.5)
            # m0 idle past its keep-alive: gone; m1 in use: kept however long
            assert registry.loaded_names() == ["m1"]
        await asyncio.sleep(0.5)
        assert registry.loaded_names() == []
    finally:
        await registry.close()


async def test_memory_budget_evicts_until_under_budget() -> None:
    clock = Clock()
    registry = registry_of(3, clock, max_loaded=3)
    await registry.load("m0")
    size = registry.entry("m0").memory_bytes
    assert size >= backend(registry, "m0").path.stat().st_size  # at least the weights
    registry.memory_budget_bytes = int(size * 2.5)  # room for two voices
    for name in ("m1", "m2"):
        clock.tick()
        await registry.load(name)
    assert sorted(registry.loaded_names()) == ["m1", "m2"]
    assert registry.entry("m1").memory_bytes == size


async def test_unload_refuses_a_busy_model_and_unknown_names_list_the_known() -> None:
    registry = registry_of(2)
    async with registry.lease("m0"):
        with pytest.raises(ModelBusyError, match="in flight"):
            await registry.unload("m0")
    entry = await registry.unload("m0")
    assert entry.state is State.UNLOADED
    with pytest.raises(ModelNotFoundError, match="available models: m0, m1"):
        registry.entry("nope")
