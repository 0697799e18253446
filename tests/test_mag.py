"""Magnitude accuracy options (issue 13): pointwise input/output convolutions and bfloat16 training.

Both are new fields whose dataclass defaults rebuild the old model exactly; old model files load and decode
as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from distill_tui.config import ModelConfig, TrainConfig, from_dict, model_parameters, to_dict
from distill_tui.errors import BadInputError
from distill_tui.inference.codec import build_vqvae
from distill_tui.model.vqvae import VQVAE
from distill_tui.persistence.model_file import load_model_file, read_document
from distill_tui.train.vqvae_loop import train_vqvae

from .test_train import tiny_request

DEMO = Path(__file__).resolve().parents[1] / "samples" / "demo.distill"
SMALL = dict(channels=32, latent_dim=8, res_blocks=1, levels=2, codebook_sizes=[16, 16], kmeans_init=False)


def _db(frames: int = 32, bins: int = 513) -> torch.Tensor:
    torch.manual_seed(1)
    return (-90 * torch.rand(2, bins, frames)).clamp(-90, 0)  # (B, F, T) relative dB


def test_an_old_config_and_model_file_load_and_decode_as_before(one_torch_thread):
    old = to_dict(ModelConfig(**SMALL))
    del old["io_kernel"]  # written before the field existed
    assert from_dict(ModelConfig, old).io_kernel == 3
    model, _ = build_vqvae(load_model_file(DEMO), DEMO)  # a model file from before: strict load
    assert model.cfg.io_kernel == 3
    assert model.encoder.net[0].kernel_size == (3,) and model.decoder.net[-1].kernel_size == (3,)
    codes = torch.randint(0, 2, (1, model.cfg.levels, 6))  # (B, Q, P)
    z = model.quantizer.decode_indices(codes, None).transpose(1, 2)  # (B, D, P)
    with torch.no_grad():
        assert torch.equal(model.decoder(z), model.decoder.net(z))  # the float32 path is the old plain Sequential


def test_pointwise_io_convolutions_round_trip_and_decode(dataset, tmp_path, one_torch_thread):
    with pytest.raises(BadInputError, match="io_kernel 2 must be odd"):
        ModelConfig(**SMALL, io_kernel=2).validate()
    with pytest.raises(BadInputError, match=r"model.io_kernel = 11 is not allowed"):
        from_dict(ModelConfig, {**to_dict(ModelConfig(**SMALL)), "io_kernel": 11})
    one, three = ModelConfig(**SMALL, io_kernel=1), ModelConfig(**SMALL)
    assert model_parameters(three) - model_parameters(one) == 2 * 2 * 513 * 32  # two 513-bin convolutions, 3 taps -> 1
    model = VQVAE(one)
    assert model.encoder.net[0].kernel_size == (1,) and model.decoder.net[-1].kernel_size == (1,)
    assert model(_db()).recon_db.shape == (2, 513, 32)

    req = tiny_request(dataset, tmp_path, steps=6)
    req.model_overrides["io_kernel"] = 1
    res = train_vqvae(req)
    doc = read_document(res.output)
    assert doc.model.io_kernel == 1
    loaded, spec = build_vqvae(load_model_file(res.output), res.output)
    assert loaded.encoder.net[0].kernel_size == (1,)
    out = loaded.decode(torch.zeros(1, 2, 5, dtype=torch.long))  # (B, F, P * stride)
    assert out.shape == (1, spec.n_bins, 20) and torch.isfinite(out).all()


def test_bfloat16_runs_the_convolutions_in_bfloat16_and_writes_float32(dataset, tmp_path, one_torch_thread):
    model = VQVAE(ModelConfig(**SMALL)).train()
    seen: dict[str, torch.dtype] = {}

    def latent_dtype(module: torch.nn.Module, args: tuple) -> None:
        seen["latent"] = args[0].dtype

    model.quantizer.register_forward_pre_hook(latent_dtype)
    with torch.autocast("cpu", torch.bfloat16):
        out = model(_db())
    assert seen["latent"] == torch.bfloat16  # the encoder ran in bfloat16
    assert out.quant.quantized.dtype == torch.float32  # the quantizer in float32
    assert out.recon_db.dtype == torch.float32  # the spectrum out, and so the loss, in float32

    assert TrainConfig().precision == "auto"  # bfloat16 where the CPU computes it
    with pytest.raises(BadInputError, match="train.precision = 'float16' is not allowed"):
        from_dict(TrainConfig, {"precision": "float16"})
    res = train_vqvae(tiny_request(dataset, tmp_path, steps=12, precision="bfloat16"))
    assert res.status == "done" and res.step == 12
    doc = read_document(res.output)
    assert doc.training.train.precision == "bfloat16"
    mf = load_model_file(res.output)
    assert all(t.dtype == torch.float32 for t in mf.group("vqvae").values() if t.is_floating_point())
    assert all(g > 0 for g in doc.health.level_gain_db[:1])  # it learnt something: the first level helps


def test_every_model_and_train_field_has_a_bound():
    import dataclasses

    from distill_tui.config import BOUNDS

    for cls in (ModelConfig, TrainConfig):
        names = {f.name for f in dataclasses.fields(cls)}
        assert names <= set(BOUNDS[cls.__name__]), names - set(BOUNDS[cls.__name__])


def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it(tmp_path, monkeypatch):
    from distill_tui.train import state

    zen4 = tmp_path / "zen4"
    zen4.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n")
    old = tmp_path / "old"
    old.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert state.cpu_has_bfloat16(zen4) and not state.cpu_has_bfloat16(old)
    assert not state.cpu_has_bfloat16(arm) and not state.cpu_has_bfloat16(tmp_path / "missing")
    monkeypatch.setattr(state, "cpu_has_bfloat16", lambda: True)
    assert state.pick_precision("auto", "cpu") == "bfloat16"
    assert state.pick_precision("auto", "cuda") == state.pick_precision("auto", "mps") == "float32"
    assert state.pick_precision("float32", "cpu") == "float32"
    monkeypatch.setattr(state, "cpu_has_bfloat16", lambda: False)
    assert state.pick_precision("auto", "cpu") == "float32"
    assert state.pick_precision("bfloat16", "cpu") == "bfloat16"


@pytest.mark.parametrize("native", [True, False])
def test_the_model_file_records_the_precision_auto_chose(dataset, tmp_path, monkeypatch, one_torch_thread, native,
                                                         capsys):
    from distill_tui.cli import main
    from distill_tui.train import state

    monkeypatch.setattr(state, "cpu_has_bfloat16", lambda: native)
    res = train_vqvae(tiny_request(dataset, tmp_path, steps=4, precision="auto"))
    assert res.status == "done"
    assert read_document(res.output).training.train.precision == ("bfloat16" if native else "float32")
    capsys.readouterr()
    assert main(["info", str(res.output)]) == 0
    said = " ".join(capsys.readouterr().out.split())  # rich wraps lines
    assert ("on cpu in bfloat16;" in said) == native and "steps in" in said
