"""Vision core: manifest and quarantine on generated files, mode conversions, class checks, augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zygarde.errors import ZygardeError
from zygarde.vision.data import load_images
from zygarde.vision.manifest import build_manifest, check_classes
from zygarde.vision.model import SmallCNN
from zygarde.vision.train import augment


def _image(path: Path, mode: str, colour: object, size: tuple[int, int] = (20, 16), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, format=fmt)
    return path


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    """Two classes with every kind of file a real folder holds: modes, formats, and broken files."""
    root = tmp_path / "pets"
    _image(root / "cat" / "grey.png", "L", 128)
    _image(root / "cat" / "rgba.png", "RGBA", (255, 0, 0, 0))  # fully transparent red: white after compositing
    _image(root / "cat" / "palette.gif", "P", 3)
    _image(root / "dog" / "cmyk.jpg", "CMYK", (0, 255, 255, 0), fmt="JPEG")
    _image(root / "dog" / "rgb.jpg", "RGB", (0, 0, 255))
    (root / "dog" / "empty.jpg").write_bytes(b"")
    (root / "dog" / "notes.jpg").write_text("this is not an image")
    good = (root / "dog" / "rgb.jpg").read_bytes()
    (root / "dog" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    return root


def test_manifest_quarantines_broken_files_and_reads_every_mode(odd_folder: Path) -> None:
    manifest = build_manifest(odd_folder)
    frame = manifest.frame.set_index(manifest.frame["path"].map(lambda p: Path(p).name))
    assert manifest.class_names == ["cat", "dog"] and not manifest.has_test_split
    assert set(manifest.quarantined.index.map(lambda i: Path(manifest.frame.loc[i, "path"]).name)) == {
        "empty.jpg",
        "notes.jpg",
        "truncated.jpg",
    }
    assert frame.loc["empty.jpg", "problem"] == "empty file (0 bytes)"
    assert frame.loc["notes.jpg", "problem"] == "not an image"
    assert frame.loc["truncated.jpg", "problem"].startswith("corrupt")
    assert frame.loc["cmyk.jpg", "mode"] == "CMYK" and frame.loc["grey.png", "width"] == 20
    check_classes(manifest)  # both classes still have readable images


def test_every_mode_converts_consistently(odd_folder: Path) -> None:
    paths = [str(odd_folder / "cat" / n) for n in ("grey.png", "rgba.png", "palette.gif")]
    paths += [str(odd_folder / "dog" / n) for n in ("cmyk.jpg", "rgb.jpg")]
    rgb = load_images(paths, channels=3, size=12)
    grey = load_images(paths, channels=1, size=12)
    assert rgb.shape == (5, 3, 12, 12) and grey.shape == (5, 1, 12, 12) and rgb.dtype == torch.uint8
    assert (rgb[0] == 128).all()  # greyscale replicated to 3 channels
    assert (rgb[1] == 255).all()  # transparent pixels composited on white
    assert rgb[4, 2].float().mean() > 200 and rgb[4, 0].float().mean() < 50  # blue stays blue


def test_class_problems_are_named(tmp_path: Path) -> None:
    one = tmp_path / "one"
    _image(one / "cat" / "a.png", "L", 1)
    with pytest.raises(ZygardeError, match="at least 2 class folders"):
        check_classes(build_manifest(one))
    empty_class = tmp_path / "empty_class"
    _image(empty_class / "cat" / "a.png", "L", 1)
    (empty_class / "dog").mkdir()
    with pytest.raises(ZygardeError, match="class folder\\(s\\) dog have no readable images"):
        check_classes(build_manifest(empty_class))
    broken = tmp_path / "broken"
    for name in ("cat", "dog"):
        (broken / name).mkdir(parents=True)
        (broken / name / "x.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(ZygardeError, match="none of the 2 files is a readable image"):
        check_classes(build_manifest(broken))
    with pytest.raises(ZygardeError, match="Image folder not found"):
        build_manifest(tmp_path / "absent")


def test_augmentation_is_seeded_and_keeps_shapes() -> None:
    batch = torch.rand(6, 3, 16, 16)
    first = augment(batch, torch.Generator().manual_seed(1))
    again = augment(batch, torch.Generator().manual_seed(1))
    assert first.shape == batch.shape and torch.equal(first, again)
    assert not torch.equal(first, batch)
    values = np.sort(first[0].flatten().numpy())  # a crop of a reflect-padded image: no new values invented
    assert np.isin(values, batch[0].flatten().numpy()).all()


def test_too_small_images_for_the_network_are_refused() -> None:
    with pytest.raises(ZygardeError, match="image_size 4 is too small for 3 conv blocks"):
        SmallCNN(1, 2, size=4, blocks=3)


def test_successive_halving_budgets_and_trial_count() -> None:
    from zygarde.search.schedulers.asha import halving_trials
    from zygarde.vision.search import epoch_budgets

    assert epoch_budgets(6) == [1, 3, 6] and epoch_budgets(2) == [1, 2] and epoch_budgets(1) == [1]
    assert halving_trials(16, 3) == 16 + 5 + 1 and halving_trials(3, 2) == 3 + 1 and halving_trials(1, 3) == 3


def test_resnet18_takes_greyscale_and_small_images() -> None:
    from zygarde.vision.model import build_model
    from zygarde.vision.search import plan_vision_trials

    model = build_model({"arch": "resnet18"}, channels=1, n_classes=2, size=28)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 2)
    specs = plan_vision_trials("grid", 1, 0, 1000, arch="resnet18")
    assert {s.algorithm for s in specs} == {"resnet18"} and all("width" not in s.params for s in specs)
    assert len(specs) == 4  # lr x batch size; the small CNN's own parameters dropped
