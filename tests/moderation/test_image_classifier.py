from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelserve.errors import ContentPolicyViolation
from reelserve.service.moderation import ContentPolicy, ImageClassifier, TextPolicy, sample_frames
from tests.moderation.tiny_classifier import save_tiny_classifier


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_classifier(tmp_path_factory.mktemp("nsfw-model"), ["normal", "nsfw"])


def noise_images(count: int, size: tuple[int, int] = (48, 40), seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(count)]


def test_scores_are_probabilities_one_per_image(model_dir: Path) -> None:
    classifier = ImageClassifier(model_dir)
    images = [*noise_images(3), Image.new("L", (300, 500), 128), Image.new("RGBA", (20, 20))]
    scores = classifier.classify(images)
    assert len(scores) == len(images)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert classifier.classify([]) == []


def test_batches_give_the_same_scores(model_dir: Path) -> None:
    images = noise_images(5)
    one_batch = ImageClassifier(model_dir, batch_size=16).classify(images)
    small_batches = ImageClassifier(model_dir, batch_size=2).classify(images)
    assert small_batches == pytest.approx(one_batch, abs=1e-5)


def test_unsafe_labels_pick_the_right_column(model_dir: Path) -> None:
    import torch
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    images = noise_images(2)
    model = AutoModelForImageClassification.from_pretrained(model_dir, local_files_only=True).eval()
    processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
    with torch.no_grad():
        expected = model(**processor(images=images, return_tensors="pt")).logits.softmax(-1)[:, 1].tolist()

    nsfw = ImageClassifier(model_dir, unsafe_labels=["NSFW"])
    normal = ImageClassifier(model_dir, unsafe_labels=["normal"])
    assert nsfw.unsafe_labels == ["nsfw"]
    assert nsfw.classify(images) == pytest.approx(expected, abs=1e-5)
    assert [a + b for a, b in zip(nsfw.classify(images), normal.classify(images), strict=True)] == pytest.approx(
        [1.0, 1.0], abs=1e-5
    )


def test_several_unsafe_labels_add_up(tmp_path: Path) -> None:
    path = save_tiny_classifier(tmp_path, ["neutral", "porn", "hentai", "drawings"])
    images = noise_images(2)
    both = ImageClassifier(path).classify(images)
    porn = ImageClassifier(path, unsafe_labels=["porn"]).classify(images)
    hentai = ImageClassifier(path, unsafe_labels=["hentai"]).classify(images)
    assert both == pytest.approx([p + h for p, h in zip(porn, hentai, strict=True)], abs=1e-5)


def test_multi_label_model_takes_the_highest_sigmoid(tmp_path: Path) -> None:
    path = save_tiny_classifier(tmp_path, ["nsfw", "porn"], problem_type="multi_label_classification")
    classifier = ImageClassifier(path)
    assert classifier.multi_label
    scores = classifier.classify(noise_images(2))
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_threshold_decides(model_dir: Path) -> None:
    image = noise_images(1)[0]
    assert ImageClassifier(model_dir, threshold=0.0).is_unsafe(image)
    assert not ImageClassifier(model_dir, threshold=1.01).is_unsafe(image)


def test_model_without_unsafe_labels_is_refused(model_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"labels \['normal', 'nsfw'\], none of which is an unsafe label"):
        ImageClassifier(model_dir, unsafe_labels=["gore"])


def test_missing_directory_names_path_and_files(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ValueError, match="does not exist") as raised:
        ImageClassifier(missing)
    message = str(raised.value)
    assert str(missing) in message
    assert "config.json" in message
    assert "model.safetensors" in message
    assert "preprocessor_config.json" in message


def test_incomplete_directory_names_what_is_missing(model_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(model_dir / "config.json", partial / "config.json")
    with pytest.raises(ValueError, match="incomplete") as raised:
        ImageClassifier(partial)
    assert str(partial) in str(raised.value)
    assert "model.safetensors" in str(raised.value)
    assert "preprocessor_config.json" in str(raised.value)


def test_unreadable_weights_fail_with_the_path(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    classifier = ImageClassifier(broken)
    with pytest.raises(ValueError, match="cannot load the image classifier") as raised:
        classifier.load()
    assert str(broken) in str(raised.value)


def policy_with(classifier: ImageClassifier | None, block: bool) -> ContentPolicy:
    return ContentPolicy(TextPolicy.default(), classifier, block_unsafe_inputs=block, block_unsafe_outputs=block)


def test_flagged_input_image_is_blocked_with_its_param(model_dir: Path) -> None:
    policy = policy_with(ImageClassifier(model_dir, threshold=0.0), block=True)
    with pytest.raises(ContentPolicyViolation) as raised:
        policy.check_input_image(noise_images(1)[0], "end_image")
    error = raised.value
    assert error.param == "end_image"
    assert error.status == 400
    assert error.body_code == 503
    assert error.type == "content_policy_violation"
    assert error.message == "end_image was blocked by this server's content policy"


def test_input_image_passes_below_threshold_or_without_blocking(model_dir: Path) -> None:
    image = noise_images(1)[0]
    policy_with(ImageClassifier(model_dir, threshold=1.01), block=True).check_input_image(image, "image")
    policy_with(ImageClassifier(model_dir, threshold=0.0), block=False).check_input_image(image, "image")
    policy_with(None, block=True).check_input_image(image, "image")


def test_output_frames_are_scored_from_a_sample(model_dir: Path) -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (36, 64, 3), dtype=np.uint8) for _ in range(25)]
    sampled = sample_frames(frames, 4)
    assert len(sampled) == 4
    assert sampled[0] is frames[0]
    assert sampled[-1] is frames[-1]
    assert policy_with(ImageClassifier(model_dir, threshold=0.0), block=False).score_output_frames(sampled)
    assert not policy_with(ImageClassifier(model_dir, threshold=1.01), block=False).score_output_frames(sampled)
    assert not policy_with(None, block=False).score_output_frames(sampled)
    assert not policy_with(ImageClassifier(model_dir, threshold=0.0), block=False).score_output_frames([])
