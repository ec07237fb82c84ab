"""Runs backend calls on worker threads, batching concurrent unary requests.

Each loaded model gets a `ModelRunner`: a thread pool of `backend.max_concurrency`
threads and a semaphore with as many slots. The batcher takes a slot *before* it
gathers a batch, so while every slot is busy, requests accumulate and the next batch
is as large as they allow (continuous batching); with a free slot, it waits at most
`window` for company, and not at all when the batch is already full or the backend
takes only one job at a time (Piper). Other servers serialise requests behind a lock,
so their latency grows linearly with load.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from model_server import metrics
from model_server.backends.base import BatchStreamer, FloatArray, SynthesisJob, TTSBackend
from model_server.errors import BackendError, SpeechError
from model_server.slots import NORMAL, PrioritySlots

log = logging.getLogger(__name__)
T = TypeVar("T")
Q = TypeVar("Q")


@dataclass
class _Pending:
    job: SynthesisJob
    future: asyncio.Future[FloatArray]


class StreamHandle:
    """Blocks of one streamed job, produced on a worker thread."""

    def __init__(self, job: SynthesisJob) -> None:
        self.job = job
        self.queue: asyncio.Queue[FloatArray | Exception | None] = asyncio.Queue()

    async def __aiter__(self) -> AsyncIterator[FloatArray]:
        try:
            while (item := await self.queue.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.job.cancelled.set()  # no-op when finished; stops the thread otherwise

    def cancel(self) -> None:
        self.job.cancelled.set()


class ModelRunner:
    """Thread pool, slots and batch queue for one model."""

    def __init__(self, name: str, backend: TTSBackend, window_s: float, max_batch: int) -> None:
        self.name = name
        self.backend = backend
        self.window_s = window_s
        self.max_batch = max(1, min(max_batch, backend.max_batch_size))
        self.batch_calls = 0  # how many synthesize_batch calls ran (tests count them)
        self._slots = PrioritySlots(backend.max_concurrency)
        self._pool = ThreadPoolExecutor(backend.max_concurrency, thread_name_prefix=f"tts-{name}")
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs to running batches
        # Streams, batched when the backend has `stream_batch` (Qwen3).
        self.stream_batch_calls = 0
        self._streams: asyncio.PriorityQueue[tuple[int, int, StreamHandle]] = (
            asyncio.PriorityQueue()
        )
        self._stream_order = itertools.count()
        self._stream_task: asyncio.Task[None] | None = None

    @property
    def queue_depth(self) -> int:
        """Jobs waiting: unary sentences and streams not yet started, slot waiters."""
        return self._queue.qsize() + self._streams.qsize() + self._slots.waiting

    # -- unary: batched ----------------------------------------------------------
    async def synthesize(self, job: SynthesisJob) -> FloatArray:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._batch_loop())
        future: asyncio.Future[FloatArray] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(job, future))
        try:
            return await future
        except asyncio.CancelledError:
            job.cancelled.set()  # a running batch skips or stops this job
            raise

    async def _batch_loop(self) -> None:
        while True:
            # Wait for work before taking a slot: an idle loop holding the only slot of a
            # max_concurrency=1 backend (a GPU model) would block its streams forever.
            first = await self._queue.get()
            await self._slots.acquire()
            try:
                batch = await self._gather(self._queue, first)
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.create_task(self._run_batch(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _t: self._slots.release())

    async def _gather(self, queue: asyncio.Queue[Q], first: Q) -> list[Q]:
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self.window_s
        while len(batch) < self.max_batch:
            try:
                batch.append(queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return batch

    async def _run_batch(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.done() and not p.job.cancelled.is_set()]
        if not live:
            return
        self.batch_calls += 1
        metrics.BATCH_SIZE.labels(self.name, "unary").observe(len(live))
        jobs = [p.job for p in live]
        try:
            results = await self.run(self.backend.synthesize_batch, jobs, slot=False)
        except SpeechError as exc:
            for p in live:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        for p, audio in zip(live, results, strict=True):
            if not p.future.done():
                p.future.set_result(audio)

    # -- streaming: one sentence per slot, or batched ----------------------------------
    def start_stream(self, job: SynthesisJob, priority: int = NORMAL) -> StreamHandle:
        """Start `backend.stream(job)` on a thread as soon as a slot is free, lower
        `priority` first (model_server.slots); read it with `async for`. A backend with
        `stream_batch` (several streams in one call) gets concurrent streams gathered
        into batches like unary requests, the most urgent first."""
        handle = StreamHandle(job)
        if isinstance(self.backend, BatchStreamer):
            if self._stream_task is None:
                self._stream_task = asyncio.create_task(self._stream_loop())
            self._streams.put_nowait((priority, next(self._stream_order), handle))
            return handle
        loop = asyncio.get_running_loop()

        def pump() -> None:
            try:
                for block in self.backend.stream(job):
                    loop.call_soon_threadsafe(handle.queue.put_nowait, block)
                    if job.cancelled.is_set():
                        break
                loop.call_soon_threadsafe(handle.queue.put_nowait, None)
            except Exception as exc:
                error = self._failure(exc, "stream")
                loop.call_soon_threadsafe(handle.queue.put_nowait, error)

        task = asyncio.create_task(self.run(pump, priority=priority))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handle

    async def _stream_loop(self) -> None:
        while True:
            first = await self._streams.get()
            await self._slots.acquire(first[0])
            try:
                batch = await self._gather(self._streams, first)
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.create_task(self._run_stream_batch([item[2] for item in batch]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _t: self._slots.release())

    async def _run_stream_batch(self, handles: list[StreamHandle]) -> None:
        live = [h for h in handles if not h.job.cancelled.is_set()]
        for handle in handles:
            if handle not in live:
                handle.queue.put_nowait(None)
        if not live:
            return
        self.stream_batch_calls += 1
        metrics.BATCH_SIZE.labels(self.name, "stream").observe(len(live))
        loop = asyncio.get_running_loop()
        assert isinstance(self.backend, BatchStreamer)
        stream_batch = self.backend.stream_batch

        def pump() -> None:
            ended: set[int] = set()
            events = stream_batch([h.job for h in live])
            last: FloatArray | Exception | None = None
            try:
                for index, block in events:
                    if block is None:
                        ended.add(index)
                    loop.call_soon_threadsafe(live[index].queue.put_nowait, block)
                    if all(h.job.cancelled.is_set() for h in live):
                        break
            except Exception as exc:
                last = self._failure(exc, "stream batch")
            finally:
                events.close()  # stop the backend's work now, not at collection
            for index, handle in enumerate(live):
                if index not in ended:
                    loop.call_soon_threadsafe(handle.queue.put_nowait, last)

        await self.run(pump, slot=False)

    async def run(
        self, fn: Callable[..., T], *args: object, slot: bool = True, priority: int = NORMAL
    ) -> T:
        """Run `fn(*args)` on this model's pool (holding a slot unless one is held). A
        failure that is not a SpeechError is the model's: logged, raised as BackendError."""
        loop = asyncio.get_running_loop()
        try:
            if not slot:
                return await loop.run_in_executor(self._pool, fn, *args)
            async with self._slots.slot(priority):
                return await loop.run_in_executor(self._pool, fn, *args)
        except SpeechError:
            raise
        except Exception as exc:
            raise self._failure(exc, "backend call") from exc

    def _failure(self, exc: Exception, what: str) -> SpeechError:
        """`exc` as the request's error: domain errors as they are, anything else logged
        (with its traceback, for the operator) and reported as the model's failure."""
        if isinstance(exc, SpeechError):
            return exc
        log.error(f"{what} failed", exc_info=exc, extra={"model": self.name})
        return BackendError(f"model {self.name!r} failed to synthesize (see the server log)")

    async def close(self) -> None:
        for loop_task in (self._loop_task, self._stream_task):
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
        self._pool.shutdown(wait=False, cancel_futures=True)
