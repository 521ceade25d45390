"""The viewer's server under a bounded load on loopback: 500 requests, 50 at a time, mixed whole
files and byte ranges, while 100 idle connections are held open. Every answer must be byte-exact,
the server must still answer afterwards, and its threads and memory must stay bounded."""

from __future__ import annotations

import http.client
import random
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pano.viewer.media import build_gallery
from pano.viewer.server import ViewerServer

REQUESTS, CONCURRENT, IDLE = 500, 50, 100


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("view_load")
    rng = random.Random(1)
    out = {"clip.mp4": rng.randbytes(3 * 1024 * 1024 + 17), "sphere.jpg": rng.randbytes(200_000)}
    for name, data in out.items():
        (folder / name).write_bytes(data)
    return {str(folder / k): v for k, v in out.items()}


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc for the memory reading")
def test_load_with_idle_sockets(files: dict[str, bytes]) -> None:
    gallery = build_gallery(list(files))
    data = {f.url: files[str(f.path)] for f in gallery.files}
    limit = IDLE + CONCURRENT + 20
    with ViewerServer(gallery, port=0, max_connections=limit, header_timeout=120) as srv:
        host = f"127.0.0.1:{srv.port}"
        threads_base = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=30) for _ in range(IDLE)]
        try:
            rss_before = rss_bytes()
            local = threading.local()

            def one(i: int) -> tuple[bool, str]:
                rng = random.Random(i)
                url = rng.choice(sorted(data))
                body, size = data[url], len(data[url])
                kind = rng.choice(["whole", "range", "open", "suffix", "head"])
                headers = {"Host": host}
                if kind == "range":
                    a = rng.randrange(size)
                    b = min(size - 1, a + rng.randrange(1, 256 * 1024))
                    headers["Range"], want, status = f"bytes={a}-{b}", body[a : b + 1], 206
                elif kind == "open":
                    a = rng.randrange(size)
                    headers["Range"], want, status = f"bytes={a}-", body[a:], 206
                elif kind == "suffix":
                    n = rng.randrange(1, 4096)
                    headers["Range"], want, status = f"bytes=-{n}", body[-n:], 206
                else:
                    want, status = (b"" if kind == "head" else body), 200
                if rng.random() < 0.3 or not hasattr(local, "conn"):  # some requests on a new connection
                    if hasattr(local, "conn"):
                        local.conn.close()
                    local.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
                conn = local.conn
                try:
                    conn.request("HEAD" if kind == "head" else "GET", url, headers=headers)
                    resp = conn.getresponse()
                    got = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    del local.conn
                    return False, f"{i} {kind} {url}: {exc!r}"
                ok = resp.status == status and got == want and int(resp.headers["Content-Length"]) == (len(body) if kind == "head" else len(want))
                return ok, f"{i} {kind} {url} {headers.get('Range')}: {resp.status}, {len(got)} bytes"

            with ThreadPoolExecutor(CONCURRENT) as pool:
                results = list(pool.map(one, range(REQUESTS)))
            failures = [msg for ok, msg in results if not ok]
            assert not failures, failures[:5]
            # bounded: one server thread per open connection, never more than the limit, and no
            # memory kept per request
            assert threading.active_count() - threads_base <= limit
            assert rss_bytes() - rss_before < 150 * 2**20
            # the idle sockets were held open all along (not dropped to make room) ...
            for s in idle:
                s.setblocking(False)
                with pytest.raises(BlockingIOError):
                    s.recv(1)
        finally:
            for s in idle:
                s.close()
        # ... and the server still answers, byte-exact
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            url = gallery.files[0].url
            conn.request("GET", url, headers={"Host": host, "Range": "bytes=5-9"})
            resp = conn.getresponse()
            assert resp.status == 206 and resp.read() == data[url][5:10]
        finally:
            conn.close()
