"""The viewer's web server: the page's own assets, a JSON manifest, and the named files by id.

Routes (GET and HEAD only; anything else is 404):

* ``/`` and ``/index.html``: the viewer page.
* ``/static/<name>``: one of the files shipped in ``pano/viewer/static`` (exact names only).
* ``/manifest.json``: :meth:`pano.viewer.media.Gallery.manifest`.
* ``/media/<id>``: file ``id`` of the gallery, with HTTP range requests (206/416) for seeking.
* ``/tiles/<id>/meta.json`` and ``/tiles/<id>/[right/]<level>/<face>/<row>_<col>.jpg``: the cube-face
  tile pyramid of a large image (:mod:`pano.viewer.tiles`; ``right/`` for a stereo photo's right eye),
  built once into the user's cache folder and served from its files.

No URL is ever mapped onto the file system, so ``..``, percent-encoded traversal, absolute paths
and symlinks out of a folder all end in 404. With a token (``--lan``), every request must carry it
as ``?t=TOKEN`` (then it is kept in a cookie) or the cookie: otherwise 403. Without a token the
server only answers requests whose ``Host`` is the loopback name it was opened on (no DNS
rebinding; the port may be left out on 80 for HTTP and 443 for HTTPS, as browsers do). A request
with two ``Host`` headers is 400 (RFC 9112 3.2).

Bounded: at most ``max_connections`` connections at a time (more are closed at once); the request
line and headers must arrive within ``header_timeout`` seconds of the connection waiting for them
(a slow or idle client is dropped then, however it trickles its bytes); access (token, Host) is
checked as soon as the headers are in, and a refused client is disconnected.
"""

from __future__ import annotations

import email.utils
import hmac
import importlib.resources
import io
import json
import os
import re
import socket
import ssl
import threading
import time
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pano.viewer.media import Gallery, mime_type

__all__ = ["ViewerServer", "STATIC_TYPES", "allowed_hosts"]

STATIC_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}
COOKIE = "pano_token"
_CHUNK = 256 * 1024
_MEDIA_RE = re.compile(r"/media/(0|[1-9][0-9]{0,8})")
_TILE_RE = re.compile(r"/tiles/(0|[1-9][0-9]{0,8})/(?:(meta\.json)|(right/)?([0-9])/([0-5])/(0|[1-9][0-9]{0,3})_(0|[1-9][0-9]{0,3})\.jpg)")
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _static_assets() -> dict[str, bytes]:
    """Name -> bytes of every file shipped in ``pano/viewer/static`` (read once at start)."""
    root = importlib.resources.files("pano.viewer") / "static"
    out = {}
    for entry in root.iterdir():
        ext = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and ext in STATIC_TYPES and not entry.name.startswith("."):
            out[entry.name] = entry.read_bytes()
    return out


class _DeadlineReader(io.RawIOBase):
    """The socket's read side with a deadline: every ``recv`` waits at most until ``deadline``
    (``time.monotonic()``), so a client that trickles a byte at a time cannot hold a thread longer
    than the header timeout."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = time.monotonic()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request headers did not arrive in time")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class _SocketWriter(io.BufferedIOBase):
    """Unbuffered writes with ``sendall`` (what ``StreamRequestHandler`` uses for ``wfile``)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sock.sendall(data)
        return len(memoryview(data))


class _Handler(BaseHTTPRequestHandler):
    server: "_HTTPServer"
    server_version = "pano-view"
    protocol_version = "HTTP/1.1"

    # -- plumbing -------------------------------------------------------------------------------
    def setup(self) -> None:
        self.connection = self.request
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader, 64 * 1024)
        self.wfile = _SocketWriter(self.connection)

    def handle_one_request(self) -> None:
        # The request line and headers of each request must arrive within header_timeout of the
        # server waiting for them (an idle keep-alive connection is closed then too).
        self._reader.deadline = time.monotonic() + self.server.viewer.header_timeout
        super().handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        # The headers are in: from now on writes may take send_timeout per chunk.
        self.connection.settimeout(self.server.viewer.send_timeout)
        self._set_cookie = ""
        if len(self.headers.get_all("Host") or []) > 1:
            self.close_connection = True
            self._send_simple(HTTPStatus.BAD_REQUEST, "400 Bad Request: more than one Host header\n", {"Connection": "close"})
            return False
        try:
            query = parse_qs(urlsplit(self.path).query)
        except ValueError:
            query = {}
        if not self._allowed(query):  # before any method or path is looked at
            self.close_connection = True
            viewer = self.server.viewer
            if viewer.token is not None:
                text = "403 Forbidden: open the URL with its ?t= token\n"
            else:
                text = f"403 Forbidden: this viewer answers only at {viewer.url} (the Host header named another site)\n"
            self._send_simple(HTTPStatus.FORBIDDEN, text, {"Connection": "close"})
            return False
        return True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.viewer.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(body=False)

    def _send_simple(self, status: HTTPStatus, text: str = "", headers: dict[str, str] | None = None) -> None:
        data = (text or f"{status.value} {status.phrase}\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _common_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        if self._set_cookie:
            secure = "; Secure" if self.server.viewer.tls else ""
            self.send_header("Set-Cookie", f"{COOKIE}={self._set_cookie}; Path=/; HttpOnly; SameSite=Lax{secure}")

    # -- access control -----------------------------------------------------------------------
    def _allowed(self, query: dict[str, list[str]]) -> bool:
        viewer = self.server.viewer
        self._set_cookie = ""
        if viewer.token is None:
            host = (self.headers.get("Host") or "").lower()
            return host in viewer.allowed_hosts
        given = query.get("t", [""])[0]
        if given and hmac.compare_digest(given.encode(), viewer.token.encode()):
            self._set_cookie = viewer.token
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except Exception:  # malformed cookie header: treat as absent
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value.encode(), viewer.token.encode())

    # -- routing ------------------------------------------------------------------------------
    def _dispatch(self, body: bool) -> None:
        try:
            parts = urlsplit(self.path)
        except ValueError:
            self._send_simple(HTTPStatus.NOT_FOUND)
            return
        path, viewer = parts.path, self.server.viewer
        if path in ("/", "/index.html"):
            self._send_bytes(viewer.assets["index.html"], STATIC_TYPES[".html"], body, html=True)
        elif path == "/manifest.json":
            data = json.dumps(viewer.gallery.manifest()).encode()
            self._send_bytes(data, "application/json", body)
        elif path.startswith("/static/") and path[len("/static/") :] in viewer.assets:
            name = path[len("/static/") :]
            self._send_bytes(viewer.assets[name], STATIC_TYPES["." + name.rsplit(".", 1)[-1]], body)
        elif (m := _MEDIA_RE.fullmatch(path)) and viewer.gallery.file(int(m.group(1))) is not None:
            self._send_media(int(m.group(1)), body)
        elif (m := _TILE_RE.fullmatch(path)) and (source := viewer.tile_source(int(m.group(1)))) is not None:
            self._send_tile(source, m, body)
        else:
            self._send_simple(HTTPStatus.NOT_FOUND)

    def _send_bytes(self, data: bytes, ctype: str, body: bool, html: bool = False) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if html:
            self.send_header("Content-Security-Policy", _CSP)
        self._common_headers()
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _send_tile(self, source: Any, m: re.Match, body: bool) -> None:
        from pano.errors import PanoError

        if m.group(2):
            self._send_bytes(json.dumps(source.meta()).encode(), "application/json", body)
            return
        try:
            tile = source.tile_file(*(int(g) for g in m.group(4, 5, 6, 7)), eye=1 if m.group(3) else 0)
        except PanoError as exc:
            self._send_simple(HTTPStatus.INTERNAL_SERVER_ERROR, f"500 {exc.format_message()}\n")
            return
        if tile is None:
            self._send_simple(HTTPStatus.NOT_FOUND)
            return
        self._send_bytes(tile.read_bytes(), "image/jpeg", body)

    def _send_media(self, media_id: int, body: bool) -> None:
        mf = self.server.viewer.gallery.files[media_id]
        try:
            f = open(mf.path, "rb")  # noqa: SIM115 - closed below
        except OSError:
            self._send_simple(HTTPStatus.NOT_FOUND)
            return
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            etag = f'"{st.st_mtime_ns:x}-{size:x}"'
            headers = {
                "Accept-Ranges": "bytes",
                "ETag": etag,
                "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
                "Cache-Control": "no-cache",
            }
            if self.headers.get("If-None-Match") == etag and not self.headers.get("Range"):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                for k, v in headers.items():
                    self.send_header(k, v)
                self._common_headers()
                self.end_headers()
                return
            start, end, status = 0, size - 1, HTTPStatus.OK
            rng = self.headers.get("Range")
            if rng and not _if_range_holds(self.headers.get("If-Range"), etag, st.st_mtime):
                rng = None  # RFC 9110 13.1.5: the file changed (or the validator is weak): send it whole
            if rng and "," not in rng:  # multi-range requests get the whole file (allowed by RFC 9110)
                parsed = _parse_range(rng, size)
                if parsed is None:
                    self._send_simple(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"})
                    return
                if parsed != "ignore":
                    start, end = parsed
                    status = HTTPStatus.PARTIAL_CONTENT
            length = max(0, end - start + 1)
            self.send_response(status)
            self.send_header("Content-Type", mime_type(mf.path))
            self.send_header("Content-Length", str(length))
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            for k, v in headers.items():
                self.send_header(k, v)
            self._common_headers()
            self.end_headers()
            if not body:
                return
            f.seek(start)
            left = length
            while left > 0:
                chunk = f.read(min(_CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


def _if_range_holds(if_range: str | None, etag: str, mtime: float) -> bool:
    """RFC 9110 13.1.5: whether a ``Range`` may be applied under ``If-Range`` (absent: yes).

    An entity tag must match the current one by strong comparison (a weak tag never does); a date
    must equal ``Last-Modified`` exactly, and that date only counts as a strong validator when the
    file was last changed at least a second before now.
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    if when is None:
        return False
    return int(when.timestamp()) == int(mtime) and time.time() - mtime >= 1.0


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` inclusive for a single ``bytes=`` range; ``"ignore"`` for a header this
    server does not understand (serve the whole file); ``None`` when unsatisfiable (416)."""
    m = _RANGE_RE.fullmatch(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return "ignore"
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
        if m.group(2) and end < start:
            return "ignore"
        if start >= size:
            return None
        return start, min(end, size - 1)
    suffix = int(m.group(2))
    if suffix == 0 or size == 0:
        return None
    return max(0, size - suffix), size - 1


def allowed_hosts(names: set[str], port: int, tls: bool) -> set[str]:
    """The ``Host`` header values that name this server: ``name:port`` for each name, and the bare
    name too on the scheme's default port (80 for HTTP, 443 for HTTPS), which browsers leave out
    (RFC 9110 7.2)."""
    out = {f"{n}:{port}" for n in names}
    if port == (443 if tls else 80):
        out |= names
    return out


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    viewer: "ViewerServer"
    slots: threading.BoundedSemaphore

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):  # too many connections: drop this one at once
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):  # handshake in the worker thread, not in accept()
            request.settimeout(self.viewer.header_timeout)
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Browsers drop connections all the time (video seeking, page reloads); stay quiet.
        if self.viewer.verbose:
            super().handle_error(request, client_address)


class ViewerServer:
    """Serve a :class:`~pano.viewer.media.Gallery` to a browser.

    Args:
        gallery: What to show.
        host: Address to bind (``127.0.0.1``; ``0.0.0.0`` for the LAN).
        port: TCP port; 0 picks a free one.
        token: Access token every request must carry (``None``: no token, loopback Host only).
        ssl_context: Serve HTTPS with this context (``None``: plain HTTP).
        public_host: Host name or address to put in the printed URL (default: ``host``, or
            ``127.0.0.1`` when binding all interfaces).
        verbose: Log every request to stderr.
        max_connections: Connections served at once (one thread each); more are closed at once.
        header_timeout: Seconds a connection may take to send a request's line and headers
            (counted from when the server starts waiting for it, so idle connections close too).
        send_timeout: Seconds one write to a client may block (a reader that stops reading).
        tile_cache: Where tile pyramids are kept (default: ``pano.viewer.tiles.cache_dir()``).

    Raises:
        OSError: The port is taken (the command turns this into a one-line error).
    """

    def __init__(
        self,
        gallery: Gallery,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        public_host: str | None = None,
        verbose: bool = False,
        max_connections: int = 256,
        header_timeout: float = 15.0,
        send_timeout: float = 30.0,
        tile_cache: Path | None = None,
    ) -> None:
        self.gallery = gallery
        self.token = token
        self.tls = ssl_context is not None
        self.verbose = verbose
        self.header_timeout = header_timeout
        self.send_timeout = send_timeout
        self.assets = _static_assets()
        self.tile_cache = tile_cache
        self._tile_sources: dict[int, Any] = {}
        self._tile_lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.viewer = self
        self._httpd.slots = threading.BoundedSemaphore(max_connections)
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port: int = self._httpd.server_address[1]
        self.host = host
        self.public_host = public_host or ("127.0.0.1" if host in ("0.0.0.0", "") else host)
        names = {"127.0.0.1", "localhost", "[::1]", self.public_host.lower()}
        self.allowed_hosts = allowed_hosts(names, self.port, self.tls)
        self._thread: threading.Thread | None = None

    def tile_source(self, media_id: int) -> Any:
        """The :class:`~pano.viewer.tiles.TileSource` of file ``media_id``, or ``None`` when that file
        is not shown from tiles."""
        mf = self.gallery.file(media_id)
        if mf is None or not mf.tiled or mf.size is None:
            return None
        with self._tile_lock:
            if media_id not in self._tile_sources:
                from pano.viewer.tiles import TileSource

                self._tile_sources[media_id] = TileSource(
                    mf.path, *mf.size, folder=self.tile_cache, stereo=mf.stereo, geometry=mf.geometry
                )
            return self._tile_sources[media_id]

    @property
    def url(self) -> str:
        """The URL to open, with the token when there is one."""
        scheme = "https" if self.tls else "http"
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        query = f"/?t={self.token}" if self.token else "/"
        port = "" if self.port == (443 if self.tls else 80) else f":{self.port}"
        return f"{scheme}://{host}{port}{query}"

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (from another thread) or KeyboardInterrupt."""
        self._httpd.serve_forever(poll_interval=0.25)

    def start(self) -> "ViewerServer":
        """Serve in a background daemon thread (for tests and embedding); returns ``self``."""
        self._thread = threading.Thread(target=self.serve_forever, name="pano-view", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "ViewerServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

