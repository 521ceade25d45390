"""The viewer's server with raw HTTP requests: only named files, no traversal of any kind, range
requests, the LAN token over HTTPS, and the gallery rules (folders, pairs, --compare)."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pano.errors import InputError
from pano.viewer.media import build_gallery
from pano.viewer.server import ViewerServer, allowed_hosts
from pano.viewer.tls import ensure_certificate, server_context

CLIP = bytes(range(256)) * 40  # 10240 bytes with a recognisable pattern


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """shown/ holds a.jpg + a_dream.jpg, clip.mp4, notes.txt, .hidden.jpg, a symlink out of the
    folder and one inside it; secret.jpg sits next to shown/ and must never be served."""
    root = tmp_path_factory.mktemp("view_server")
    shown = root / "shown"
    shown.mkdir()
    (shown / "a.jpg").write_bytes(b"\xff\xd8 raw")
    (shown / "a_dream.jpg").write_bytes(b"\xff\xd8 dream")
    (shown / "clip.mp4").write_bytes(CLIP)
    (shown / "notes.txt").write_text("not media")
    (shown / ".hidden.jpg").write_bytes(b"\xff\xd8 hidden")
    (root / "secret.jpg").write_bytes(b"\xff\xd8 SECRET")
    (shown / "escape.jpg").symlink_to(root / "secret.jpg")
    (shown / "inside.mp4").symlink_to(shown / "clip.mp4")
    return shown


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[ViewerServer]:
    with ViewerServer(build_gallery([folder]), port=0) as srv:
        yield srv


def get(srv: ViewerServer, path: str, headers: dict[str, str] | None = None, method: str = "GET", tls: ssl.SSLContext | None = None):
    conn = (
        http.client.HTTPSConnection("127.0.0.1", srv.port, context=tls, timeout=10)
        if tls
        else http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    )
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)  # the path goes out byte for byte
        headers = {"Host": f"127.0.0.1:{srv.port}", **(headers or {})}
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_gallery_from_folder(server: ViewerServer, folder: Path) -> None:
    g = server.gallery
    names = [(it.a.path.name, it.b.path.name if it.b else None) for it in g.items]
    # a_dream.jpg pairs with a.jpg; the in-folder symlink is the same file as clip.mp4 (listed once);
    # notes.txt, .hidden.jpg and the symlink out of the folder are not there.
    assert names == [("a.jpg", "a_dream.jpg"), ("clip.mp4", None)]
    assert all(f.path.parent == folder.resolve() for f in g.files)
    status, headers, body = get(server, "/manifest.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert b"SECRET" not in body and b"secret" not in body and b"escape" not in body


def test_page_and_assets(server: ViewerServer) -> None:
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b"/static/viewer.js" in body
    for name, ctype in [("viewer.js", "text/javascript"), ("style.css", "text/css"), ("index.html", "text/html")]:
        status, headers, _ = get(server, f"/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(ctype), name
    status, headers, body = get(server, "/media/0")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and body == b"\xff\xd8 raw"
    status, headers, body = get(server, "/media/2")
    assert status == 200 and headers["Content-Type"] == "video/mp4" and body == CLIP


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.jpg",
        "/static/../../secret.jpg",
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/%2E%2E%2Fserver.py",
        "/static/..%2f..%2fsecret.jpg",
        "/%2e%2e/%2e%2e/secret.jpg",
        "/static/%252e%252e/server.py",  # double encoding
        "/media/0/../../secret.jpg",
        "/media/../static/viewer.js",
        "/static/./viewer.js",
        "/static//viewer.js",
        "//etc/passwd",
        "/etc/passwd",
        "/static/",  # no directory listing
        "/static",
        "/media/",
        "/media/3",  # beyond the named files
        "/media/-1",
        "/media/01",
        "/media/%30",
        "/media/0x0",
        "/shown/a.jpg",
        "/escape.jpg",
        "/a.jpg",
        "/__init__.py",
    ],
)
def test_traversal_is_404(server: ViewerServer, folder: Path, path: str) -> None:
    status, _, body = get(server, path)
    assert status == 404, path
    assert b"SECRET" not in body


def test_absolute_paths_are_404(server: ViewerServer, folder: Path) -> None:
    for p in [folder.parent / "secret.jpg", folder / "a.jpg", folder / "escape.jpg"]:
        status, _, body = get(server, str(p.resolve()))
        assert status == 404 and b"SECRET" not in body
    status, _, _ = get(server, "http://127.0.0.1/" + str(folder.parent / "secret.jpg"))
    assert status == 404


def test_foreign_host_header_is_403(server: ViewerServer) -> None:
    """DNS rebinding: a page on another origin that resolves to 127.0.0.1 gets nothing."""
    assert get(server, "/manifest.json", {"Host": "attacker.example:80"})[0] == 403
    assert get(server, "/manifest.json", {"Host": f"localhost:{server.port}"})[0] == 200


def test_only_get_and_head(server: ViewerServer) -> None:
    status, headers, body = get(server, "/media/2", method="HEAD")
    assert status == 200 and headers["Content-Length"] == str(len(CLIP)) and body == b""
    assert get(server, "/media/2", method="POST")[0] in (404, 405, 501)
    assert get(server, "/media/2", method="PUT")[0] in (404, 405, 501)


@pytest.mark.parametrize(
    ("header", "status", "start", "end"),
    [
        ("bytes=0-99", 206, 0, 99),
        ("bytes=100-", 206, 100, len(CLIP) - 1),
        ("bytes=-50", 206, len(CLIP) - 50, len(CLIP) - 1),
        ("bytes=10000-20000", 206, 10000, len(CLIP) - 1),  # end clipped to the file
        ("bytes=0-0", 206, 0, 0),
        ("bytes=20000-", 416, None, None),
        ("bytes=-0", 416, None, None),
        ("bytes=50-10", 200, 0, len(CLIP) - 1),  # invalid: ignored, whole file
        ("bytes=0-9,20-29", 200, 0, len(CLIP) - 1),  # multiple ranges: whole file
        ("items=0-9", 200, 0, len(CLIP) - 1),
    ],
)
def test_range_requests(server: ViewerServer, header: str, status: int, start: int | None, end: int | None) -> None:
    got, headers, body = get(server, "/media/2", {"Range": header})
    assert got == status, header
    if status == 416:
        assert headers["Content-Range"] == f"bytes */{len(CLIP)}"
        return
    assert headers["Accept-Ranges"] == "bytes"
    assert body == CLIP[start : end + 1]
    assert headers["Content-Length"] == str(end - start + 1)
    if status == 206:
        assert headers["Content-Range"] == f"bytes {start}-{end}/{len(CLIP)}"


def test_etag_revalidation(server: ViewerServer) -> None:
    _, headers, _ = get(server, "/media/0")
    status, _, body = get(server, "/media/0", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


def test_lan_token_over_https(folder: Path, tmp_path: Path) -> None:
    cert, key = ensure_certificate(["127.0.0.1"], folder=tmp_path / "tls")
    client = ssl.create_default_context(cafile=str(cert))  # verifies the chain and the IP SAN
    token = "s3cret-Token_123"
    with ViewerServer(build_gallery([folder]), host="127.0.0.1", port=0, token=token, ssl_context=server_context(cert, key)) as srv:
        assert srv.url == f"https://127.0.0.1:{srv.port}/?t={token}"
        for path, headers in [
            ("/", {}),
            ("/?t=wrong", {}),
            ("/?t=", {}),
            (f"/?t={token[:-1]}", {}),
            ("/manifest.json", {"Cookie": "pano_token=wrong"}),
            ("/media/0", {}),
            ("/static/viewer.js", {}),
            ("/../secret.jpg", {}),  # unauthenticated: 403 before any routing
        ]:
            status, _, body = get(srv, path, headers, tls=client)
            assert status == 403, (path, headers)
            assert b"raw" not in body
        status, headers, _ = get(srv, f"/?t={token}", tls=client)
        assert status == 200
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"pano_token={token};") and "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
        jar = {"Cookie": f"pano_token={token}"}
        assert get(srv, "/manifest.json", jar, tls=client)[0] == 200
        status, _, body = get(srv, "/media/0", jar, tls=client)
        assert status == 200 and body == b"\xff\xd8 raw"
        assert get(srv, "/media/2", {**jar, "Range": "bytes=0-9"}, tls=client)[2] == CLIP[:10]
        assert get(srv, "/static/%2e%2e/server.py", jar, tls=client)[0] == 404
        # Another Host is fine with a token (the headset reaches the LAN address).
        assert get(srv, "/manifest.json", {**jar, "Host": "192.168.1.20:8360"}, tls=client)[0] == 200
        # A plain-HTTP client on the HTTPS port gets nothing and does not stop the server.
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            get(srv, "/", {"Cookie": f"pano_token={token}"})
        assert get(srv, "/manifest.json", jar, tls=client)[0] == 200


def test_certificate_made_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    cert, key = ensure_certificate(["10.1.2.3"])
    assert cert.parent == tmp_path / "cfg" / "pano" / "tls"
    assert (key.stat().st_mode & 0o777) == 0o600
    before = cert.read_bytes()
    assert ensure_certificate(["10.1.2.3"]) == (cert, key)
    assert cert.read_bytes() == before  # reused: the headset's certificate exception stays valid
    ensure_certificate(["10.9.9.9"])  # a new LAN address: a new certificate naming both
    from cryptography import x509

    san = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    names = {str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)}
    assert {"10.1.2.3", "10.9.9.9", "127.0.0.1"} <= names


def test_gallery_rules(tmp_path: Path) -> None:
    for name in ["x.jpg", "x_dream.jpg", "y.png", "b.webm", "c.jpg", "c_dream.png"]:
        (tmp_path / name).write_bytes(b"0")
    g = build_gallery([tmp_path / "y.png", tmp_path / "x_dream.jpg", tmp_path / "x.jpg", tmp_path / "b.webm"])
    assert [(i.a.path.name, i.b and i.b.path.name) for i in g.items] == [("y.png", None), ("x.jpg", "x_dream.jpg"), ("b.webm", None)]
    assert g.manifest()["items"][1]["label_b"] == "dream"
    # different extensions do not pair on their own, --compare pairs anything alike
    g = build_gallery([], compare=[(str(tmp_path / "c.jpg"), str(tmp_path / "c_dream.png"))])
    assert [(i.a.path.name, i.b and i.b.path.name) for i in g.items] == [("c.jpg", "c_dream.png")]
    g = build_gallery([tmp_path / "c.jpg", tmp_path / "x.jpg"], compare=[(str(tmp_path / "c.jpg"), str(tmp_path / "y.png"))])
    assert [i.a.path.name for i in g.items] == ["c.jpg", "c.jpg", "x.jpg"]
    assert len(g.files) == 3  # c.jpg is one file with one id, shown twice


@pytest.mark.parametrize(
    ("args", "compare", "words"),
    [
        (["missing.jpg"], None, "does not exist"),
        (["notes.txt"], None, "not something a browser can show"),
        (["empty"], None, "holds no images or videos"),
        ([], [("x.jpg", "b.webm")], "compare like with like"),
        ([], None, "nothing to show"),
    ],
)
def test_gallery_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args, compare, words) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "x.jpg").write_bytes(b"0")
    (tmp_path / "b.webm").write_bytes(b"0")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=words) as exc:
        build_gallery(args, compare)
    assert "\n" not in exc.value.format_message()


def test_unreadable_file_is_input_error(tmp_path: Path) -> None:
    p = tmp_path / "locked.jpg"
    p.write_bytes(b"0")
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):
            pytest.skip("running as root: permissions do not apply")
        with pytest.raises(InputError, match="not readable"):
            build_gallery([p])
    finally:
        p.chmod(0o644)


def _gpano_jpeg(path: Path, **fields) -> Path:
    from PIL import Image

    from pano.io.gpano import SphereGeometry, gpano_xmp

    geom = SphereGeometry(**fields)
    Image.new("RGB", (geom.crop_width, geom.crop_height), (90, 90, 90)).save(path, xmp=gpano_xmp(geom))
    return path


def test_first_view_from_gpano(tmp_path: Path) -> None:
    crop = dict(full_width=360, full_height=180, crop_top=40, crop_width=90, crop_height=60)
    east = _gpano_jpeg(tmp_path / "east.jpg", crop_left=225, **crop)  # lon +45..+135, lat +50..-10
    north = _gpano_jpeg(tmp_path / "north.jpg", crop_left=0, crop_top=0, crop_width=360, crop_height=30,
                        full_width=360, full_height=180)  # a band at lat +90..+60
    posed = _gpano_jpeg(tmp_path / "posed.jpg", crop_left=225, **crop, heading_deg=100.0,
                        initial_heading_deg=130.0, initial_pitch_deg=-5.0, initial_hfov_deg=70.0)
    unposed = _gpano_jpeg(tmp_path / "unposed.jpg", crop_left=225, **crop, initial_heading_deg=270.0)
    full = _gpano_jpeg(tmp_path / "full.jpg", crop_left=0, crop_top=0, crop_width=360, crop_height=180,
                       full_width=360, full_height=180)
    g = build_gallery([east, north, posed, unposed, full])
    views = {f.path.name: f.view for f in g.files}
    assert views["east.jpg"] == pytest.approx({"yaw": 90.0, "pitch": 0.0})  # the middle of the crop; it spans the horizon
    assert views["north.jpg"] == pytest.approx({"yaw": 0.0, "pitch": 75.0})  # the band's middle latitude
    assert views["posed.jpg"] == pytest.approx({"yaw": 30.0, "pitch": -5.0, "fov": 70.0})  # heading minus pose heading
    assert views["unposed.jpg"] == pytest.approx({"yaw": 90.0, "pitch": 0.0})  # no pose: the full pano's centre is 180
    assert views["full.jpg"] is None and g.files[-1].geometry is None  # a full sphere that only carries GPano tags
    assert g.files[0].geometry == {"full_width": 360, "full_height": 180, "crop_left": 225, "crop_top": 40, "crop_width": 90, "crop_height": 60}
    assert g.manifest()["items"][0]["a"]["view"] == pytest.approx({"yaw": 90.0, "pitch": 0.0})


def test_first_view_of_a_real_partial_pano(photosphere_dir: Path) -> None:
    path = photosphere_dir / "PXL_20210730_183041272.PANO.jpg"  # InitialViewHeadingDegrees 87, no pose heading
    if not path.is_file():
        pytest.skip(f"{path.name} is absent")
    f = build_gallery([path]).files[0]
    assert f.geometry is not None and f.view is not None
    crop_centre_lon = ((f.geometry["crop_left"] + f.geometry["crop_width"] / 2) / f.geometry["full_width"] - 0.5) * 360
    assert f.view["yaw"] == pytest.approx(-93.0)
    assert abs(f.view["yaw"] - crop_centre_lon) < 1.0  # the camera's initial view is the middle of what it shot


# --- faults a real browser and a hostile LAN found --------------------------------------------------


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` as it is and read until the server closes the connection (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def test_default_port_host_without_port() -> None:
    """Browsers send ``Host: name`` without ``:80`` (HTTP) or ``:443`` (HTTPS)."""
    names = {"127.0.0.1", "localhost"}
    assert allowed_hosts(names, 80, tls=False) == {"127.0.0.1", "localhost", "127.0.0.1:80", "localhost:80"}
    assert allowed_hosts(names, 443, tls=True) == {"127.0.0.1", "localhost", "127.0.0.1:443", "localhost:443"}
    assert allowed_hosts(names, 443, tls=False) == {"127.0.0.1:443", "localhost:443"}  # 443 is not HTTP's default
    assert allowed_hosts(names, 8360, tls=False) == {"127.0.0.1:8360", "localhost:8360"}


def test_default_port_served_end_to_end(folder: Path) -> None:
    try:
        srv = ViewerServer(build_gallery([folder]), port=80)
    except OSError:
        pytest.skip("port 80 cannot be bound here (not root, or taken)")
    with srv:
        assert srv.url == "http://127.0.0.1/"
        assert get(srv, "/manifest.json", {"Host": "127.0.0.1"})[0] == 200
        assert get(srv, "/manifest.json", {"Host": "localhost:80"})[0] == 200
        assert get(srv, "/manifest.json", {"Host": "attacker.example"})[0] == 403


def test_bare_host_on_another_port_is_403(server: ViewerServer) -> None:
    assert get(server, "/manifest.json", {"Host": "127.0.0.1"})[0] == 403


def test_two_host_headers_are_400(server: ViewerServer) -> None:
    good, bad = f"127.0.0.1:{server.port}", "attacker.example"
    for first, second in [(good, bad), (bad, good), (good, good)]:
        reply = raw_exchange(server.port, f"GET /manifest.json HTTP/1.1\r\nHost: {first}\r\nHost: {second}\r\n\r\n".encode())
        assert reply.startswith(b"HTTP/1.1 400 "), (first, second, reply[:80])
        assert b'"items"' not in reply


def test_forbidden_page_without_token_does_not_mention_one(server: ViewerServer) -> None:
    status, _, body = get(server, "/", {"Host": "attacker.example:80"})
    assert status == 403
    assert b"token" not in body.lower() and b"?t=" not in body
    assert server.url.encode() in body  # where the viewer does answer


@pytest.mark.parametrize(
    ("validator", "status"),
    [
        ("etag", 206),
        ('"0-0"', 200),  # another version of the file
        ("weak", 200),  # RFC 9110: If-Range needs a strong comparison; a weak tag never matches
        ("date", 206),  # the file's own Last-Modified, a strong validator (over a second old)
        ("Thu, 01 Jan 2015 00:00:00 GMT", 200),
        ("not a date", 200),
    ],
)
def test_if_range(server: ViewerServer, folder: Path, validator: str, status: int) -> None:
    old = time.time() - 10  # a Last-Modified is a strong validator only once the file is over a second old
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))
    _, headers, _ = get(server, "/media/2")
    value = {"etag": headers["ETag"], "weak": "W/" + headers["ETag"], "date": headers["Last-Modified"]}.get(validator, validator)
    got, headers2, body = get(server, "/media/2", {"Range": "bytes=0-9", "If-Range": value})
    assert got == status, validator
    assert body == (CLIP[:10] if status == 206 else CLIP)
    if status == 200:
        assert "Content-Range" not in headers2


def test_if_range_date_of_a_file_changed_just_now(folder: Path, tmp_path: Path) -> None:
    """A Last-Modified less than a second old is a weak validator (RFC 9110 8.8.2.2): no range."""
    clip = tmp_path / "fresh.mp4"
    clip.write_bytes(CLIP)
    with ViewerServer(build_gallery([clip]), port=0) as srv:
        _, headers, _ = get(srv, "/media/0")
        got, _, body = get(srv, "/media/0", {"Range": "bytes=0-9", "If-Range": headers["Last-Modified"]})
        if time.time() - clip.stat().st_mtime < 1.0:  # still fresh when the server answered
            assert got == 200 and body == CLIP


def test_connections_are_bounded_and_slow_clients_dropped(folder: Path) -> None:
    """max_connections at once, more closed at once; a client that trickles its headers is dropped at
    the header deadline however steadily it sends; the server serves again once they are gone."""
    with ViewerServer(build_gallery([folder]), port=0, max_connections=4, header_timeout=1.5) as srv:
        idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(4)]
        try:
            deadline = time.monotonic() + 60  # until the server has accepted all four (its slots are taken)
            while srv._httpd.slots._value > 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert srv._httpd.slots._value == 0, "the server did not accept the four connections"
            extra = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            with extra:
                extra.sendall(f"GET /manifest.json HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
                try:
                    assert extra.recv(100) == b""  # closed without an answer
                except ConnectionResetError:
                    pass
        finally:
            for s in idle:
                s.close()
        assert get(srv, "/manifest.json")[0] == 200  # the slots came back

        # A slowloris client: one byte every 0.1 s would need 6 s for this request.
        request = f"GET /manifest.json HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Pad: {'a' * 20}\r\n\r\n".encode()
        sent = 0
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            try:
                for byte in request:
                    s.send(bytes([byte]))
                    sent += 1
                    time.sleep(0.1)
                reply = s.recv(100)
            except (BrokenPipeError, ConnectionResetError):
                reply = b""
        assert sent < len(request) or reply == b"", "the trickling client was served"
        # An idle keep-alive connection is closed by the server after the header deadline.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            assert s.recv(100) == b""
        assert get(srv, "/manifest.json")[0] == 200


def test_token_checked_as_soon_as_headers_arrive(folder: Path, tmp_path: Path) -> None:
    """Without the token a client gets 403 right after its headers, whatever it promises to send
    next, and the connection is closed (no keep-alive for strangers)."""
    with ViewerServer(build_gallery([folder]), port=0, token="tok", header_timeout=30) as srv:
        host = f"Host: 127.0.0.1:{srv.port}\r\n"
        t0 = time.monotonic()
        reply = raw_exchange(srv.port, f"POST /media/0 HTTP/1.1\r\n{host}Content-Length: 100000000\r\n\r\n".encode(), timeout=20)
        assert reply.startswith(b"HTTP/1.1 403 ") and b"Connection: close" in reply
        reply = raw_exchange(srv.port, f"GET / HTTP/1.1\r\n{host}Connection: keep-alive\r\n\r\n".encode(), timeout=20)
        assert reply.startswith(b"HTTP/1.1 403 ") and reply.count(b"HTTP/1.1") == 1
        assert time.monotonic() - t0 < 20  # closed by the server, not by the client's read timeout
        reply = raw_exchange(srv.port, f"GET /media/0?t=tok HTTP/1.1\r\n{host}Connection: close\r\n\r\n".encode())
        assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"\xff\xd8 raw")


def test_loose_key_permissions_are_not_reused(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    cert, key = ensure_certificate(["127.0.0.1"], folder=folder)
    first = key.read_bytes()
    assert ensure_certificate(["127.0.0.1"], folder=folder) == (cert, key) and key.read_bytes() == first
    key.chmod(0o644)  # readable by everyone: it may have leaked
    ensure_certificate(["127.0.0.1"], folder=folder)
    assert key.read_bytes() != first and (key.stat().st_mode & 0o777) == 0o600
    assert (folder.stat().st_mode & 0o777) == 0o700
    second = key.read_bytes()
    key.unlink()
    elsewhere = tmp_path / "other.pem"
    elsewhere.write_bytes(second)
    elsewhere.chmod(0o600)
    key.symlink_to(elsewhere)  # a symlink is not this folder's key
    ensure_certificate(["127.0.0.1"], folder=folder)
    assert not key.is_symlink() and (key.stat().st_mode & 0o777) == 0o600
    assert elsewhere.read_bytes() == second  # the link's target is left alone
    ctx = server_context(cert, key)  # the new pair loads
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_stereo_from_metadata_and_override(tmp_path: Path, video360_dir: Path) -> None:
    """Videos: Spherical V1/V2 metadata (written here by pano.io.spherical); photos: GPano
    StereoMode; ``stereo=`` (the --stereo flag) overrides both."""
    from pano.io.spherical import SphericalMetadata, copy_with_spherical_metadata

    src = video360_dir / "panolens_1941-battle-low.mp4"
    if not src.is_file():
        pytest.skip(f"{src.name} is absent")
    lr = tmp_path / "lr.mp4"
    copy_with_spherical_metadata(src, lr, SphericalMetadata(stereo="left-right"))
    photo = _gpano_jpeg(tmp_path / "tb.jpg", full_width=64, full_height=32, crop_left=0, crop_top=0, crop_width=64, crop_height=32)
    from PIL import Image

    from pano.io.gpano import SphereGeometry, gpano_xmp

    stereo_photo = tmp_path / "stereo.jpg"
    xmp = gpano_xmp(SphereGeometry.full_sphere(64, 32), extra={"GPano:StereoMode": "top-bottom"})
    Image.new("RGB", (64, 64), (90, 90, 90)).save(stereo_photo, xmp=xmp)
    g = build_gallery([src, lr, photo, stereo_photo])
    assert [f.stereo for f in g.files] == ["mono", "left-right", "mono", "top-bottom"]
    assert [i["a"]["stereo"] for i in g.manifest()["items"]] == ["mono", "left-right", "mono", "top-bottom"]
    assert {f.stereo for f in build_gallery([src, lr, photo], stereo="top-bottom").files} == {"top-bottom"}
