"""A load driver for a running server: ``clients`` threads, each with its own keep-alive
connection, send ``requests`` predict requests of one example each; every answer is
checked (status 200, and the predictions equal what the answering version computes
locally). Used by ``benchmarks/bench_serve.py`` and the tests."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

__all__ = ["LoadResult", "drive"]


@dataclass
class LoadResult:
    """What one load run measured."""

    clients: int
    requests: int = 0
    failures: int = 0
    wrong: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    versions: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list, repr=False)

    @property
    def throughput(self) -> float:
        """Answered requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of the latencies, in milliseconds."""
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else 0.0


def drive(url: str, model: str, inputs: np.ndarray, *, clients: int, requests: int,
          expected: Callable[[str, int], np.ndarray],
          during: Callable[[], None] | None = None, tolerance: float = 1e-4,
          wait_for_during: bool = False) -> LoadResult:
    """Run the load (see the module docstring). ``during()``, if given, runs in its own
    thread once a third of the requests are done (e.g. to drop in a new version); with
    ``wait_for_during`` each client sends its last third only after ``during()`` returned
    (tests: the swap surely happens within the run, however slow the machine).

    ``expected(version, i)`` is what version ``version`` should answer for ``inputs[i]``
    (one row)."""
    parts = urlsplit(url)
    result = LoadResult(clients)
    lock = threading.Lock()
    done = threading.Event()
    finished = threading.Event()  # during() has returned
    total = clients * requests
    path = f"/v1/models/{model}:predict"

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            for i in range(requests):
                if wait_for_during and during is not None and 3 * i >= 2 * requests:
                    finished.wait()
                row = (index * requests + i) % len(inputs)
                x = inputs[row][None]
                body = json.dumps({"instances": x.tolist()})
                start = time.perf_counter()
                try:
                    conn.request("POST", path, body, {"Content-Type": "application/json"})
                    response = conn.getresponse()
                    answer = json.loads(response.read())
                    status = response.status
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                    status, answer = 0, {"error": f"{type(exc).__name__}: {exc}"}
                elapsed = time.perf_counter() - start
                ok = status == 200
                right = ok and np.allclose(answer["predictions"],
                                           expected(answer["model_version"], row),
                                           rtol=tolerance, atol=tolerance)
                with lock:
                    result.requests += 1
                    result.latencies.append(elapsed)
                    if not ok:
                        result.failures += 1
                        result.errors.append(f"{status}: {answer.get('error')}")
                    else:
                        version = answer["model_version"]
                        result.versions[version] = result.versions.get(version, 0) + 1
                        result.wrong += not right
                    if result.requests * 3 >= total:
                        done.set()
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    side = None
    if during is not None:
        def trigger() -> None:
            done.wait()
            try:
                during()
            finally:
                finished.set()

        side = threading.Thread(target=trigger)
        side.start()
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - start
    done.set()
    if side is not None:
        side.join()
    return result
