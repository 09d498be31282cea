"""Clustering and vision explanations: what sets each cluster apart; Grad-CAM on the CNN."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline

from zygarde.explain.cluster import explain_clusters
from zygarde.explain.vision import explain_images, grad_cam
from zygarde.vision.model import Normalized, SmallCNN


def test_cluster_explanation_names_the_separating_feature_and_each_clusters_difference() -> None:
    rng = np.random.default_rng(0)
    centre = np.repeat([-10.0, 0.0, 10.0], 40)
    frame = pd.DataFrame({"fat": centre + rng.normal(size=120), "salt": rng.normal(scale=0.3, size=120),
                          "chain": np.where(centre > 0, "big", rng.choice(["big", "small"], 120))})  # fmt: skip
    X = frame[["fat", "salt"]]
    model = make_pipeline(KMeans(3, n_init=5, random_state=0)).fit(X)  # unscaled: fat dominates
    explanation = explain_clusters(model, frame, X, seconds=30)
    assert explanation.importance[0]["feature"] == "fat" and explanation.rows == 120
    means = pd.DataFrame(explanation.json["explain/cluster_means.json"]).T
    assert means["fat"].min() < -1 and means["fat"].max() > 1 and means["fat"].abs().min() < 0.2  # low, mid, high
    assert means["salt"].abs().max() < 0.5  # noise sets no cluster apart
    lifts = explanation.json["explain/category_lift.json"]
    assert {row["column"] for row in lifts} == {"chain"} and max(row["lift"] for row in lifts) > 1.2
    assert {"explain/cluster_means.png", "explain/importance.png"} <= set(explanation.figures)


def test_grad_cam_maps_every_image_and_the_explanation_shows_right_and_wrong_ones() -> None:
    torch.manual_seed(0)
    model = Normalized(SmallCNN(1, 2, 16, width=4), torch.zeros(1), torch.ones(1))
    images = torch.rand(6, 1, 16, 16)
    maps = grad_cam(model, images, torch.tensor([0, 1, 0, 1, 0, 1]))
    assert maps.shape == (6, 16, 16) and maps.min() >= 0 and maps.max() <= 1 + 1e-6
    test = SimpleNamespace(x=(images * 255).to(torch.uint8), y=torch.tensor([0, 1, 0, 1, 0, 1]),
                           class_names=["shirt", "tshirt"], paths=[f"{i}.png" for i in range(6)])  # fmt: skip
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.2, 0.8]])
    explanation = explain_images(model, test, proba, seconds=30)
    shown = explanation.json["explain/grad_cam.json"]
    assert {row["predicted"] == row["true"] for row in shown} == {True, False}
    assert shown[0]["confidence"] == 0.9 and "explain/grad_cam.png" in explanation.figures
