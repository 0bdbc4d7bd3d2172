"""DataLoader: batches from a dataset through a sampler and a collate function, in this process or in worker processes."""

from __future__ import annotations

import itertools
import multiprocessing as python_multiprocessing
import queue
import sys
import weakref
from typing import Callable, Optional

from ._utils import MP_STATUS_CHECK_INTERVAL, ExceptionWrapper
from ._utils.collate import default_collate, default_convert
from ._utils.fetch import create_fetcher
from ._utils.worker import _IterableDatasetStopIteration, _ResumeIteration, _worker_loop, get_worker_info
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]


# how often a waiting parent checks that its workers are alive: short, so a worker that died at
# start-up (a script without a main guard, say) is reported within a second
_LIVENESS_INTERVAL = 1.0


def _stop_workers(workers, index_queues, result_queue, done_event):
    """Stops the workers of one iterator. It runs from a weakref.finalize that holds the queues,
    so when the iterator dies in a garbage cycle the queues are not collected (and their feeder
    threads not closed) before the stop messages go out; at exit it runs before
    multiprocessing's own exit hook for the same reason."""
    try:
        done_event.set()
        for q in index_queues:
            try:
                q.put(None)
            except Exception:
                pass
        wait = 0.1 if sys.is_finalizing() else MP_STATUS_CHECK_INTERVAL
        for w in workers:
            w.join(timeout=wait)
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        for q in index_queues:
            q.cancel_join_thread()
            q.close()
        result_queue.cancel_join_thread()
        result_queue.close()
    except Exception:
        pass


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: the dataset decides when the stream ends."""

    def __iter__(self):
        while True:
            yield None


def _default_context():
    """Worker processes start by 'forkserver' (else 'spawn'), never by a plain fork: a fork
    after the engine's thread pool or the GPU device has started leaves the child with locks
    and a pool whose threads do not exist, and its first parallel op hangs. The price is
    torch's spawn rule: datasets, collate_fn and worker_init_fn must be picklable (no lambdas)
    and a script needs the ``if __name__ == "__main__":`` guard. ``multiprocessing_context="fork"``
    works for datasets that stay on the CPU (each worker drops to a one-thread engine, so it never
    waits on the parent's pool), as torch's Linux default does; a forked worker must not use the GPU."""
    methods = python_multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = python_multiprocessing.get_context("forkserver")
        # the server imports the package once; each worker is then a cheap fork of it. The
        # server itself never runs tensor code, so it has no threads to lose in the fork.
        ctx.set_forkserver_preload(["rustensor"])
        return ctx
    return python_multiprocessing.get_context("spawn")


class DataLoader:
    """torch.utils.data.DataLoader: iterates over batches of ``dataset``.

    ``pin_memory`` is accepted and has no effect (host memory is not pinned); tensors come
    back from worker processes by pickling (a copy per batch) rather than shared memory.
    """

    __initialized = False

    def __init__(self, dataset, batch_size: Optional[int] = 1, shuffle: Optional[bool] = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn: Optional[Callable] = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Optional[Callable] = None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: Optional[int] = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.in_order = in_order
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            if isinstance(shuffle, bool) and shuffle:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self.__initialized = True
        self._IterableDataset_len_called = None
        self._iterator = None

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx):
        if ctx is not None and self.num_workers > 0:
            if isinstance(ctx, str):
                valid = python_multiprocessing.get_all_start_methods()
                if ctx not in valid:
                    raise ValueError(f"multiprocessing_context option should specify a valid start method in {valid!r}, "
                                     f"but got multiprocessing_context={ctx!r}")
                ctx = python_multiprocessing.get_context(ctx)
            elif not hasattr(ctx, "Process"):
                raise TypeError("multiprocessing_context option should be a valid context object or a string specifying "
                                f"the start method, but got multiprocessing_context={ctx}")
        self.__multiprocessing_context = ctx

    def __setattr__(self, attr, val):
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                           "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        if self._is_iterable:
            length = self._IterableDataset_len_called = len(self.dataset)  # type: ignore[assignment]
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._is_iterable = loader._is_iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._generator = loader.generator
        self._persistent_workers = loader.persistent_workers
        self._in_order = loader.in_order
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = self._draw_seed()
        self._num_yielded = 0

    def _draw_seed(self) -> int:
        import rustensor as rt

        kw = {} if self._generator is None else {"generator": self._generator}
        return int(rt.randint(0, 2**62, (), **kw).item())

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        return data

    def __len__(self):
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = create_fetcher(self._is_iterable, self._dataset, self._auto_collation, self._collate_fn,
                                       self._drop_last)

    def _next_data(self):
        index = self._next_index()
        return self._fetcher.fetch(index)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Workers each own an index queue; results come back on one queue and are put back in
    sampler order (unless ``in_order=False``). ``prefetch_factor`` tasks per worker stay in flight."""

    def __init__(self, loader):
        super().__init__(loader)
        ctx = loader.multiprocessing_context or _default_context()
        self._start_method = ctx.get_start_method()
        self._worker_init_fn = loader.worker_init_fn
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues = []
        self._workers = []
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers, self._index_queues,
                                           self._worker_result_queue, self._workers_done_event)
        for i in range(self._num_workers):
            iq = ctx.Queue()
            # the queue's feeder thread must not block interpreter exit on an unread queue
            iq.cancel_join_thread()
            w = ctx.Process(target=_worker_loop, args=(
                self._is_iterable, self._dataset, iq, self._worker_result_queue, self._workers_done_event,
                self._auto_collation, self._collate_fn, self._drop_last, self._base_seed, self._worker_init_fn, i,
                self._num_workers, self._persistent_workers))
            w.daemon = True
            try:
                w.start()
            except Exception as e:
                self._shutdown_workers()
                if "pickle" in type(e).__name__.lower() or "pickle" in str(e).lower() or isinstance(e, (AttributeError, TypeError)):
                    raise RuntimeError(
                        f"DataLoader: could not start worker {i}: {type(e).__name__}: {e}. Workers start by "
                        f"'{ctx.get_start_method()}', so the dataset, collate_fn and worker_init_fn must be picklable "
                        "(module-level functions and classes, no lambdas or local functions); or pass "
                        "multiprocessing_context='fork' if the process has not used the thread pool or the GPU yet."
                    ) from e
                raise
            self._index_queues.append(iq)
            self._workers.append(w)
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: start each one's new epoch, and drop the old epoch's leftovers
            for q in self._index_queues:
                q.put(_ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                ok, data = self._try_get_data()
                if not ok:
                    continue
                if isinstance(data[0], _ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            w = next(self._worker_queue_idx_cycle)
            if self._workers_status[w]:
                break
        else:
            return
        self._index_queues[w].put((self._send_idx, index))
        self._task_info[self._send_idx] = (w,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _try_get_data(self, timeout=_LIVENESS_INTERVAL):
        try:
            return True, self._worker_result_queue.get(timeout=timeout)
        except queue.Empty:
            failed = [w for i, w in enumerate(self._workers) if self._workers_status[i] and not w.is_alive()]
            if failed:
                pids = ", ".join(str(w.pid) for w in failed)
                codes = ", ".join(str(w.exitcode) for w in failed)
                hint = ""
                if self._start_method != "fork":
                    hint = (f" Workers start by '{self._start_method}': they import the main script again, so a "
                            "script must start its training under `if __name__ == \"__main__\":` (see the "
                            "worker's error printed above).")
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly (exit code(s) {codes})."
                                   + hint) from None
            return False, None

    def _get_data(self):
        if self._timeout > 0:
            ok, data = self._try_get_data(self._timeout)
            if not ok:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            return data
        while True:
            ok, data = self._try_get_data()
            if ok:
                return data

    def _next_data(self):
        while True:
            # skip tasks of workers whose stream ended (iterable datasets)
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                data = self._task_info.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._process_data(data)
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(idx, _ResumeIteration):
                continue
            if self._is_iterable and isinstance(data, _IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if self._in_order:
                    self._task_info[idx] += (data,)
                    continue
                del self._task_info[idx]
                return self._process_data(data, advance=False)
            del self._task_info[idx]
            self._rcvd_idx += 1
            return self._process_data(data)

    def _process_data(self, data, advance=True):
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id):
        self._workers_status[worker_id] = False
        q = self._index_queues[worker_id]
        q.put(None)

    def _shutdown_workers(self):
        fin = getattr(self, "_finalizer", None)
        if fin is not None:
            fin()
