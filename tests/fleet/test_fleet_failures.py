"""Two real model servers (piper-joe on both, one core's worth of Piper each) and a
fleet in front of them:

- one is SIGKILLed under load: no request that had not started audio fails (it moves
  to the other server); a request that had started fails with a clear error; the
  routing stops sending to it at once and takes it back when it returns;
- one is drained with SIGTERM: no new call reaches it, and its in-flight calls finish."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from harness.fleet_servers import ServerSlot, shared_port, start_all, stop_all
from harness.processes import decode
from shared.audio.formats import AudioFormat
from shared.logs import request_id_var
from tests.fleet.support import open_fleet, speak, until, where_served
from voice_worker.errors import UpstreamUnavailable, VoiceError
from voice_worker.tts.base import SpeechOptions
from voice_worker.tts.fleet.members import Health
from voice_worker.tts.fleet.provider import FleetTTS

pytestmark = pytest.mark.timeout(180)

#: six sentences: a stream lasts a while, its first chunk comes after the first one
LONG = (
    "The quick brown fox jumps over the lazy dog. It was a bright cold day in April. "
    "The clocks were striking thirteen. Nobody expected the rain to stop so soon. "
    "We walked home along the river. The lights of the town came on one by one."
)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerSlot]]:
    tmp = tmp_path_factory.mktemp("fleet-failures")
    hosts = ["127.0.0.1", "127.0.0.2"]
    port = shared_port(hosts)
    slots = [ServerSlot(tmp, h, port, {"VOICE_SHUTDOWN_GRACE_SECONDS": "60"}) for h in hosts]
    try:
        start_all(slots)
        yield slots
    finally:
        stop_all(slots)


@dataclass
class Listener:
    """One streamed request: what arrived, and how it ended."""

    request_id: str
    chunks: list[bytes] = field(default_factory=list)
    error: VoiceError | None = None
    done: bool = False

    async def run(self, tts: FleetTTS) -> None:
        request_id_var.set(self.request_id)
        try:
            async for chunk in tts.stream(LONG, SpeechOptions(format=AudioFormat.WAV)):
                self.chunks.append(chunk)
        except VoiceError as exc:
            self.error = exc
        self.done = True


async def test_a_server_killed_under_load(pair: list[ServerSlot]) -> None:
    victim, survivor = pair
    async with open_fleet([s.address for s in pair], max_retries=2) as tts:
        listeners = [Listener(f"kill-{i}") for i in range(12)]
        tasks = [asyncio.create_task(x.run(tts)) for x in listeners]
        # 6 on each server, one sentence at a time: kill as the first audio arrives,
        # while most requests on the victim are still waiting for theirs
        await until(lambda: any(x.chunks for x in listeners), what="the first audio")
        victim.signal(signal.SIGKILL)
        victim.wait_exit()
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        # the routing set it aside at its first failure, not at the next refresh
        assert not tts.fleet.members[victim.address].eligible
        failed = [x for x in listeners if x.error is not None]
        for x in failed:
            assert x.chunks, f"{x.request_id} failed before any audio: {x.error}"
            assert isinstance(x.error, UpstreamUnavailable)
            assert "went away after the audio had started" in x.error.message
        for x in listeners:
            if x.error is None:
                assert decode(b"".join(x.chunks))[1] > 8.0, x.request_id  # the whole text
        assert tts.fleet.failovers >= 1  # requests queued on the victim moved
        # meanwhile, everything goes to the survivor
        after = [f"kill-after-{i}" for i in range(4)]
        await asyncio.gather(*(speak(tts, rid, stream=False) for rid in after))
        assert all(where == [survivor.address] for where in where_served(pair, after).values())
        # it comes back on the same address: taken back once it answers
        victim.start()
        victim.wait_serving()
        member = tts.fleet.members[victim.address]
        await until(lambda: member.eligible, what="the victim back in the routing")
        back = [f"kill-back-{i}" for i in range(6)]
        await asyncio.gather(*(speak(tts, rid) for rid in back))
    served = where_served(pair, back)
    assert any(where == [victim.address] for where in served.values()), served


async def test_a_drained_server_takes_no_new_calls_and_finishes_its_own(
    pair: list[ServerSlot],
) -> None:
    drained, other = pair
    async with open_fleet([s.address for s in pair]) as tts:
        await until(lambda: all(m.eligible for m in tts.fleet.members.values()), what="both up")
        listeners = [Listener(f"drain-{i}") for i in range(4)]
        tasks = [asyncio.create_task(x.run(tts)) for x in listeners]
        await until(lambda: all(x.chunks for x in listeners), timeout=60, what="audio on all")
        drained.signal(signal.SIGTERM)
        member = tts.fleet.members[drained.address]
        # NOT_SERVING from its health Watch (then its refusals)
        await until(lambda: not member.eligible, what="the drain seen")
        assert member.health is not Health.SERVING
        new = [f"drain-new-{i}" for i in range(4)]
        await asyncio.gather(*(speak(tts, rid, stream=False) for rid in new))
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    for x in listeners:
        assert x.error is None, x.error
        assert decode(b"".join(x.chunks))[1] > 8.0
    assert drained.wait_exit() == 0
    first = where_served(pair, [x.request_id for x in listeners])
    on_drained = [rid for rid, where in first.items() if where == [drained.address]]
    assert len(on_drained) == 2, first  # it had two in flight, and finished both
    assert all(where == [other.address] for where in where_served(pair, new).values())
