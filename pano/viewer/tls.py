"""HTTPS for ``pano view --lan``: a self-signed certificate made on first use, kept in the user's
config folder (``$XDG_CONFIG_HOME/pano/tls`` or ``~/.config/pano/tls``).

WebXR needs a secure context; a headset on the LAN reaches the viewer by IP address, so plain
HTTP will not do. The browser warns once about the self-signed certificate; after that the
headset remembers the exception for this certificate, which is why it is kept and reused.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import socket
import ssl
import stat
import tempfile
from pathlib import Path

from pano.errors import PanoError


def config_dir() -> Path:
    """pano's per-user config folder: ``$XDG_CONFIG_HOME/pano`` or ``~/.config/pano``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pano"


def lan_address() -> str:
    """This machine's address on the LAN (the interface of the default route), or ``127.0.0.1``.

    Opens a UDP socket towards a private address to learn which local address the OS would use;
    nothing is sent.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _cert_names(cert_path: Path) -> set[str]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    now = _dt.datetime.now(_dt.timezone.utc)
    if cert.not_valid_after_utc <= now + _dt.timedelta(days=1):
        return set()
    return {str(n) for n in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))


def _key_is_private(key_path: Path) -> bool:
    """Whether ``key.pem`` is a plain file of this user that nobody else can read or write
    (mode 0600 or stricter), as an SSH client demands of its keys."""
    try:
        st = os.lstat(key_path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
        return False
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file (made 0600, then ``mode``) and a rename:
    never half a file, never a moment with looser permissions, and a symlink at ``path`` is replaced,
    not followed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_certificate(hosts: list[str], folder: Path | None = None) -> tuple[Path, Path]:
    """Return ``(cert.pem, key.pem)``, creating a self-signed pair if none covers ``hosts``.

    Args:
        hosts: IP addresses or host names the certificate must name (subject alternative names).
        folder: Where to keep it (default ``config_dir() / "tls"``).

    Returns:
        Paths of the PEM certificate and the PEM private key (mode 0600). An existing key that
        others could read or write (or that belongs to another user, or is a symlink) is never
        used: a new pair replaces it, since the old key may have leaked.

    Raises:
        PanoError: The folder cannot be written or ``cryptography`` is missing.
    """
    folder = folder or config_dir() / "tls"
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as exc:  # pragma: no cover - cryptography is a dependency
        raise PanoError("--lan needs the 'cryptography' package: pip install cryptography") from exc

    wanted = set(hosts) | {"localhost", "127.0.0.1"}
    if cert_path.is_file() and _key_is_private(key_path):
        try:
            if wanted <= _cert_names(cert_path):
                return cert_path, key_path
            wanted |= _cert_names(cert_path)  # keep the names it had
        except ValueError:
            pass  # unreadable: make a new one

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pano view (self-signed)")])
    alt: list[x509.GeneralName] = []
    for h in sorted(wanted):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        _write_private(key_path, key_pem, 0o600)
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as exc:
        raise PanoError(f"cannot write the TLS certificate to {folder}: {exc.strerror}; set XDG_CONFIG_HOME") from exc
    return cert_path, key_path


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2+) for the given certificate and key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    return ctx
