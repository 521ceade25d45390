"""``pano view``: serve photospheres and 360 videos to a browser or a VR headset."""

from __future__ import annotations

import errno
import secrets
import threading
import webbrowser

from pathlib import Path

import click

from pano.errors import PanoError

DEFAULT_PORT = 8360


def media_problem(path: Path, kind: str) -> str | None:
    """Why a browser could not show ``path`` (an ``"image"`` or ``"video"``), in one line, or None.

    Images are decoded (at 1/8 size: the whole file is read, so truncated data is found) with pano's own
    checks (empty, not an image, decompression-bomb header); videos are probed for a video stream and
    their first frame is decoded (audio-only, not a video, no frames)."""
    from pano.errors import InputError

    try:
        if kind == "image":
            from pano.io.decode import decode_image

            decode_image(path, reduce=8)
        else:
            from pano.io.video import iter_video_frames, probe_video

            probe_video(path)
            frames = iter_video_frames(path)
            try:
                if next(frames, None) is None:
                    return f"{path}: no video frame could be decoded"
            finally:
                frames.close()
    except InputError as exc:
        return exc.format_message()
    return None


def _showable(gallery, n_compare: int, stereo=None):
    """The gallery without the files that cannot be shown (one line on stderr for each); PanoError when
    nothing is left."""
    from pano.viewer.media import build_gallery

    problems = {mf.path: why for mf in gallery.files if (why := media_problem(mf.path, mf.kind)) is not None}
    if not problems:
        return gallery
    files: list[str] = []
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(gallery.items):
        good = [mf for mf in (item.a, item.b) if mf is not None and mf.path not in problems]
        if i < n_compare and len(good) == 2:
            pairs.append((str(item.a.path), str(item.b.path)))
        else:
            files.extend(str(mf.path) for mf in good)
    reasons = list(problems.values())
    if not files and not pairs:  # one error line, as for every refused input
        more = f" (and {len(reasons) - 1} more file{'s' if len(reasons) > 2 else ''})" if len(reasons) > 1 else ""
        raise PanoError(f"nothing can be shown: {reasons[0]}{more}")
    for why in reasons:
        click.echo(f"pano view: skipped {why}", err=True)
    return build_gallery(files, pairs, stereo=stereo)


@click.command(
    "view",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Keys: drag/arrows look, wheel/pinch/+/- zoom, PageUp/PageDown or N/P next/previous,
C crossfade, Space play/pause, F full screen, V enter VR, H help.
\b
In a headset (WebXR needs a secure page):
  Quest over USB:  adb reverse tcp:8360 tcp:8360
                   then open http://localhost:8360/ in the Quest browser
                   (use the same number as --port)
  Over Wi-Fi:      pano view --lan FILE   (HTTPS, self-signed certificate, access token, QR code)
                   accept the certificate warning once in the headset browser.
""",
)
@click.argument("files", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--compare",
    nargs=2,
    multiple=True,
    metavar="A B",
    type=click.Path(path_type=str),
    help="Show A with a crossfade slider into B (repeatable). x.jpg + x_dream.jpg pair up on their own.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port; 0 picks a free one.",
)
@click.option(
    "--stereo",
    type=click.Choice(["auto", "mono", "top-bottom", "left-right"]),
    default="auto",
    show_default=True,
    help="How the files pack two eyes; auto reads it from the file (Spherical video metadata, GPano StereoMode).",
)
@click.option("--lan", is_flag=True, help="Serve on the LAN over HTTPS with an access token and print a QR code.")
@click.option("--open", "open_browser", is_flag=True, help="Open the viewer in the default browser.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
def view(
    files: tuple[str, ...],
    compare: tuple[tuple[str, str], ...],
    port: int,
    stereo: str,
    lan: bool,
    open_browser: bool,
    verbose: bool,
) -> None:
    """Show photospheres and 360 videos in a browser or VR headset.

    FILES are equirectangular images (jpg png webp), 360 videos (mp4 webm) or folders of them.
    The viewer runs locally: it serves only these files, on 127.0.0.1 unless --lan. A file and
    its dream (x.jpg and x_dream.jpg) get a crossfade slider. Ctrl-C stops the server.

    \b
    Examples:
      pano view sphere.jpg sphere_dream.jpg --open
      pano view photos/ --port 0
      pano view --compare before.jpg after.jpg
      pano view --lan trip.mp4
    """
    from pano.viewer.media import build_gallery
    from pano.viewer.server import ViewerServer

    if not files and not compare:
        raise PanoError("name something to show: pano view FILE|FOLDER ... (or --compare A B)")
    layout = None if stereo == "auto" else stereo
    gallery = _showable(build_gallery(list(files), list(compare), stereo=layout), len(compare), stereo=layout)  # type: ignore[arg-type]

    token = ssl_context = public_host = None
    host = "127.0.0.1"
    if lan:
        from pano.viewer.tls import ensure_certificate, lan_address, server_context

        public_host = lan_address()
        cert, key = ensure_certificate([public_host])
        ssl_context = server_context(cert, key)
        token = secrets.token_urlsafe(16)
        host = "0.0.0.0"
    try:
        server = ViewerServer(
            gallery, host=host, port=port, token=token, ssl_context=ssl_context, public_host=public_host, verbose=verbose
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PanoError(f"port {port} is in use (another pano view?): pick another with --port, or --port 0") from exc
        if exc.errno == errno.EACCES:
            raise PanoError(f"port {port} needs extra privileges: use a port above 1023 with --port") from exc
        raise PanoError(f"cannot listen on {host}:{port}: {exc.strerror}; try --port 0") from exc

    n_items, n_pairs = len(gallery.items), sum(1 for it in gallery.items if it.b)
    pairs = f" ({n_pairs} with a crossfade)" if n_pairs else ""
    click.echo(f"pano view: {n_items} item{'s' if n_items != 1 else ''}{pairs}")
    click.echo(f"  open {server.url}")
    if lan:
        from pano.viewer.qr import qr_terminal

        click.echo("  scan to open (the browser warns once about the self-signed certificate):")
        click.echo(qr_terminal(server.url, color=click.get_text_stream("stdout").isatty()), nl=False)
    else:
        click.echo(
            f"  Quest over USB: adb reverse tcp:{server.port} tcp:{server.port}, "
            f"then open http://localhost:{server.port}/ in the headset"
        )
    click.echo("Ctrl-C stops the server.")
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    click.echo("pano view: stopped")
