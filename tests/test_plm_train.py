"""`rtvos train plm` (rtvos/models/plm/train.py): the --smoke run end to end."""

import json

import pytest
import torch

from rtvos.models.plm.net import PLMNet


@pytest.mark.heavy
@pytest.mark.parametrize("more", [[], ["--tune-blocks", "2", "--lucid-clips", "1", "--synthetic-p", "1"],
                                  ["--backbone", "lite2", "--tune-blocks", "1"]],
                         ids=["davis", "tuned-blocks-synthetic-clips", "lite2"])
def test_smoke_pretraining_writes_a_loadable_checkpoint(davis_root, tmp_path, more):
    from rtvos.models.plm import train as plm_train
    from rtvos.models.plm.segmenter import load_pretrained
    from rtvos.evaluation.splits import DEV_SEQUENCES
    from rtvos.training.ecssd import default_root

    photos = ["--ecssd-clips", "2"] if more and (default_root() / "images").is_dir() else []
    assert plm_train.main(["--smoke", "--davis-root", str(davis_root), "--out", str(tmp_path), *more, *photos]) == 0
    net = load_pretrained(tmp_path / "best.pt")
    assert isinstance(net, PLMNet) and (net.tuned is not None) == bool(more)
    sidecar = json.loads((tmp_path / "best.json").read_text())
    assert sidecar["model"] == "plm" and sidecar["step"] == 3
    assert not set(sidecar["data"]["train_sequences"]) & set(DEV_SEQUENCES)
    assert net.config.get("backbone", "lite0") == ("lite2" if "lite2" in more else "lite0")
    if "--synthetic-p" in more:  # every step drew its pairs from the synthetic clips
        assert sidecar["data"]["synthetic"] == {"lucid": 1, "ecssd": 2 if photos else 0, "clip_len": 12,
                                                "size_hw": [256, 448], "p": 1.0}


@pytest.mark.parametrize("backbone,most", [("lite0", 5), ("lite2", 7)])
def test_a_bad_tune_blocks_is_refused_with_the_range(davis_root, tmp_path, backbone, most):
    from rtvos.models.plm import train as plm_train

    with pytest.raises(SystemExit, match=rf"--tune-blocks: tuned_blocks must be 0\.\.{most} \(blocks of EfficientNet-Lite"):
        plm_train.main(["--tune-blocks", "9", "--backbone", backbone, "--steps", "1", "--davis-root", str(davis_root),
                        "--out", str(tmp_path)])


@pytest.mark.heavy
def test_a_run_whose_network_segments_nothing_stops_with_an_error_that_says_so(davis_root, tmp_path, monkeypatch):
    """A pre-training stuck below 0.5 everywhere (seen once: Lite2 at seed 0) must not end in a
    checkpoint that scores ~0 J&F: the run stops and says why; one whose outputs do reach 0.5 runs on."""
    from rtvos.models.plm import train as plm_train

    def biased(bias: float):
        class Biased(plm_train.PLMTrainer):
            def build(self, args):
                net = super().build(args)
                with torch.no_grad():
                    net.decoder[-1].bias.fill_(bias)  # every output ~0 (or ~1), whatever Adam's 3 steps do
                return net
        return Biased()

    monkeypatch.setattr(plm_train, "STUCK_STEPS", 3)
    args = ["--smoke", "--davis-root", str(davis_root)]
    with pytest.raises(SystemExit, match="stuck: no output reached 0.5 in the last 3 steps"):
        plm_train.loop.main(biased(-1e4), [*args, "--out", str(tmp_path / "stuck")])
    assert not (tmp_path / "stuck" / "best.pt").exists()
    assert plm_train.loop.main(biased(1e4), [*args, "--out", str(tmp_path / "segments")]) == 0
    assert (tmp_path / "segments" / "best.pt").is_file()
