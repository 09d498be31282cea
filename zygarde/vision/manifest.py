"""Image folders: a manifest of every file (class, split, size, mode, decodability) with quarantine, the checks
that need no decoding (run before any service starts), and the manifest's great-expectations suite."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image, UnidentifiedImageError

from zygarde.errors import ZygardeError
from zygarde.validation import expect

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
SHIRTS = "shirts"
MIN_PER_CLASS = 2  # readable images per class the suite requires
MIN_FILES_PER_CLASS = 10  # files per class a folder needs to set aside stratified validation and test images


@dataclass
class ImageManifest:
    """Every file under an image folder: class, split, size, mode, whether it decodes and, if not, why.

    (``class_names``, not ``classes``: cloudpickle mistakes a function's ``.classes`` attribute access for
    the ``torch.classes`` pseudo-module and fails to ship it to Dask.)
    """

    root: Path
    frame: pd.DataFrame
    class_names: list[str]

    @property
    def usable(self) -> pd.DataFrame:
        """Rows of decodable images."""
        return self.frame[self.frame["decodable"]]

    @property
    def quarantined(self) -> pd.DataFrame:
        """Rows that are skipped: corrupt, empty or not images."""
        return self.frame[~self.frame["decodable"]]

    @property
    def has_test_split(self) -> bool:
        """True for a folder with its own ``train/`` and ``test/``."""
        return bool((self.frame["split"] == "test").any())


Inspect = Callable[[list[Path]], list[dict[str, Any]]]


def inspect_images(paths: list[Path]) -> list[dict[str, Any]]:
    """``inspect_image`` of every path, in order (here, or as one chunk on a Dask worker)."""
    return [inspect_image(path) for path in paths]


def inspect_on_cluster(client: Any, paths: list[Path], chunk: int = 256) -> list[dict[str, Any]]:
    """Decode the files on ``client``'s workers, ``chunk`` at a time (they must see the same folder, as a
    LocalCluster's workers do); a folder of one chunk or less is decoded here, shipping nothing."""
    if len(paths) <= chunk:
        return inspect_images(paths)
    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
    return [row for part in client.gather(client.map(inspect_images, chunks, pure=False)) for row in part]


def build_manifest(root: Path, inspect: Inspect = inspect_images) -> ImageManifest:
    """Scan ``root`` (``<class>/*`` or ``train|test/<class>/*``) and decode every file once, with ``inspect``."""
    if not root.exists():
        raise ZygardeError(f"Image folder not found: {root}. Pass a folder with one subfolder per class.")
    if not root.is_dir():
        raise ZygardeError(f"{root} is a file; pass a folder with one subfolder per class.")
    splits = {"train": root / "train", "test": root / "test"} if (root / "train").is_dir() else {"train": root}
    listed: list[tuple[Path, str, str]] = []
    classes: list[str] = []
    for split, folder in splits.items():
        if not folder.is_dir():
            continue
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if split == "train":
                classes.append(class_dir.name)
            files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
            listed += [(path, split, class_dir.name) for path in files]
    described = inspect([path for path, _, _ in listed])
    rows = [{"path": str(path), "split": split, "label": label, **facts}
            for (path, split, label), facts in zip(listed, described, strict=True)]  # fmt: skip
    frame = pd.DataFrame(
        rows, columns=["path", "split", "label", "bytes", "width", "height", "mode", "decodable", "problem"]
    )
    return ImageManifest(root=root, frame=frame, class_names=classes)


def inspect_image(path: Path) -> dict[str, Any]:
    """Size, mode and decodability of one file (fully decoded, so truncated files are caught)."""
    size = path.stat().st_size
    info: dict[str, Any] = {"bytes": size, "width": 0, "height": 0, "mode": "", "decodable": False, "problem": ""}
    if size == 0:
        return {**info, "problem": "empty file (0 bytes)"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # too many pixels: never decode it
            with Image.open(path) as image:
                image.load()
                return {**info, "width": image.width, "height": image.height, "mode": image.mode, "decodable": True}
    except UnidentifiedImageError:
        return {**info, "problem": "not an image"}
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return {**info, "problem": f"too many pixels (Pillow's decompression-bomb guard): {exc}"}
    except (OSError, SyntaxError, ValueError) as exc:
        return {**info, "problem": f"corrupt: {exc}"}


def check_classes(manifest: ImageManifest) -> None:
    """At least two classes, none of them without usable images; each problem named."""
    if len(manifest.class_names) < 2:
        found = ", ".join(manifest.class_names) or "none"
        raise ZygardeError(f"{manifest.root}: needs at least 2 class folders (one subfolder per class), found {found}.")
    counts = manifest.usable[manifest.usable["split"] == "train"]["label"].value_counts()
    empty = [c for c in manifest.class_names if counts.get(c, 0) == 0]
    if len(empty) == len(manifest.class_names):
        raise ZygardeError(
            f"{manifest.root}: none of the {len(manifest.frame)} files is a readable image "
            f"(e.g. {manifest.frame['path'].head(3).tolist()}: {manifest.frame['problem'].head(3).tolist()})."
        )
    if empty:
        raise ZygardeError(f"{manifest.root}: class folder(s) {', '.join(empty)} have no readable images.")


def manifest_frames(manifest: ImageManifest) -> dict[str, pd.DataFrame]:
    """The tables the GX suite validates: every file, the decodable ones, and images per class."""
    train = manifest.usable[manifest.usable["split"] == "train"]
    counts = train["label"].value_counts().reindex(manifest.class_names, fill_value=0)
    return {
        "files": manifest.frame.assign(decodable=manifest.frame["decodable"].astype(bool)),
        "images": manifest.usable,
        "classes": pd.DataFrame({"label": counts.index, "count": counts.to_numpy()}),
    }


def image_suite(min_per_class: int = MIN_PER_CLASS) -> dict[str, list[dict[str, Any]]]:
    """Expectations per manifest table (see ``manifest_frames``)."""

    return {
        "files": [expect("column_values_to_be_in_set", column="decodable", value_set=[True], mostly=0.9)],
        "images": [
            expect("column_values_to_be_between", column=side, min_value=8, max_value=20000)
            for side in ("width", "height")
        ],
        "classes": [
            expect("table_row_count_to_be_between", min_value=2),
            expect("column_values_to_be_between", column="count", min_value=min_per_class),
        ],
    }


def check_folder(root: Path) -> None:
    """What can be told without decoding: the folder exists, has 2+ class folders with enough image files each,
    and a ``test/`` split names no class that ``train/`` lacks."""
    if not root.exists():
        raise ZygardeError(f"Image folder not found: {root}. Pass a folder with one subfolder per class.")
    if not root.is_dir():
        raise ZygardeError(f"{root} is a file; pass a folder with one subfolder per class.")
    train = root / "train" if (root / "train").is_dir() else root
    classes = _class_dirs(train)
    if len(classes) < 2:
        found = ", ".join(c.name for c in classes) or "none"
        raise ZygardeError(f"{train}: needs at least 2 class folders (one subfolder per class), found {found}.")
    if (root / "train").is_dir() and (root / "test").is_dir():
        extra = sorted({c.name for c in _class_dirs(root / "test")} - {c.name for c in classes})
        if extra:
            raise ZygardeError(
                f"{root / 'test'}: class folder(s) {', '.join(extra)} have no counterpart in {train}; "
                "the model can only learn classes it trains on. Add them to train/ or remove them from test/."
            )
    few = {c.name: n for c in classes if (n := _count_images(c)) < MIN_FILES_PER_CLASS}
    if few:
        counts = ", ".join(f"{name}: {n}" for name, n in few.items())
        raise ZygardeError(
            f"{train}: too few images to train and test on ({counts}); every class needs at least "
            f"{MIN_FILES_PER_CLASS} images so that stratified validation and test images can be set aside."
        )


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _count_images(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
