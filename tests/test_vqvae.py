"""The VQVAE's whole-sound encode/decode: silence around every sound, as its training crops have it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

from distill_tui.config import ModelConfig
from distill_tui.model.vqvae import VQVAE


def _model(edge: int = 4) -> VQVAE:
    torch.manual_seed(0)
    model = VQVAE(ModelConfig(channels=32, latent_dim=8, res_blocks=1, levels=2, codebook_sizes=[16, 16],
                              edge_positions=edge, kmeans_init=False))
    return model.eval()


def _sound(frames: int = 24) -> torch.Tensor:
    torch.manual_seed(1)
    return (-90 * torch.rand(1, 513, frames)).clamp(-90, 0)  # (1, F, T) relative dB


def in_a_fresh_process(code: str) -> str:
    """Run `code` in a new Python (nothing imported yet) and give back what it printed."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_silence_codes_are_what_silence_encodes_to():
    model = _model()
    silence = model.silence_codes()
    assert silence.shape == (2,)
    codes = model.encode(torch.full((1, 513, 40), -90.0))  # (1, Q, 10)
    assert (codes[0, :, 3:7] == silence[:, None]).all()  # away from the ends, silence codes are silence's
    assert model.silence_codes() is silence  # cached in eval mode
    model.train()
    assert getattr(model, "_silence", None) is None


def test_encoding_adds_silence_around_the_sound():
    model = _model()
    db = _sound()
    more = F.pad(db, (8, 8), value=-90.0)  # two positions of explicit silence on each side
    # with edge_positions of silence added anyway, two more change nothing inside the sound
    assert torch.equal(model.encode(more)[..., 2:-2], model.encode(db))
    bare = _model(edge=0)
    bare.load_state_dict(model.state_dict())
    assert not torch.equal(bare.encode(more)[..., 2:-2], bare.encode(db))  # without it, the ends see zero padding


def test_decoding_adds_silence_columns_around_the_grid():
    model = _model()
    codes = model.encode(_sound())  # (1, Q, P)
    out = model.decode(codes)
    assert out.shape == (1, 513, codes.shape[-1] * 4)
    silence = model.silence_codes().view(1, -1, 1).expand(1, 2, 2)
    wider = model.decode(torch.cat([silence, codes, silence], dim=-1))[..., 8:-8]
    assert torch.allclose(out, wider, atol=1e-4)
    muted = model.decode(codes, muted=[1])
    assert torch.allclose(muted, model.decode(codes, levels=1))
    assert not torch.allclose(muted, out)


def test_continuous_reconstruction_has_the_same_frames():
    model = _model()
    db = _sound(22)  # not a multiple of the stride: padded to 24
    assert model.reconstruct_continuous(db).shape == (1, 513, 24)


def test_the_loss_weighs_a_short_sound_like_a_long_one():
    from distill_tui.model.vqvae import spectral_loss

    target = torch.full((2, 513, 32), -40.0)
    pred = target.clone()
    pred[0, :, :5] += 10.0  # a 5-frame sound, 10 dB off everywhere
    pred[1] += 10.0  # a long sound, 10 dB off everywhere
    inside = torch.zeros(2, 32, dtype=torch.bool)
    inside[0, :5] = True
    inside[1] = True
    per_crop = [spectral_loss(pred[i : i + 1], target[i : i + 1], inside[i : i + 1]).item() for i in range(2)]
    assert abs(per_crop[1] - 11.0) < 0.01  # 10 dB RMS + 0.1 * 10 dB L1
    assert per_crop[0] > 6.0  # the short sound's frames dominate its crop, not the silence around it
    assert spectral_loss(pred[:1], target[:1]).item() < 2.0  # unweighted, its 5 frames are drowned out


def test_unused_codes_are_refilled_where_the_data_is_quantized_worst():
    from distill_tui.model.quantizer import Quantizer

    torch.manual_seed(0)
    q = Quantizer(ModelConfig(latent_dim=4, levels=2, codebook_sizes=[8, 8], kmeans_init=False)).eval()
    z = torch.cat([torch.randn(200, 4) * 0.1 + c for c in torch.eye(4) * 5])  # 4 tight clusters
    for layer in q.rvq.layers:
        layer._codebook.embed.data[0] = 50 + torch.randn(8, 4)  # far from everything: one code wins all
    layer0 = q.rvq.layers[0]._codebook.embed[0]
    before = torch.cdist(z, layer0).min(dim=1).values.mean()
    refilled = q.refill_dead_codes_(z)
    assert refilled[0] >= 7 and refilled[1] >= 1
    after = torch.cdist(z, layer0).min(dim=1).values.mean()
    assert after < before / 10  # the four clusters now have codes
    codes = q(z[None]).indices[0]  # (N, Q)
    assert len(torch.unique(codes[:, 0])) == 8 and len(torch.unique(codes[:, 1])) == 8  # every code in use
    assert q.refill_dead_codes_(z) == [0, 0]


def test_codes_a_rounding_error_apart_are_refilled_as_encoding_sees_them():
    """Codes that sit a hair apart on a large vector: torch.cdist tells them apart, the library's encoding
    (|x|^2 + |e|^2 - 2 x.e in float32) does not, and gives every vector to one of them."""
    from distill_tui.model.quantizer import Quantizer

    torch.manual_seed(0)
    q = Quantizer(ModelConfig(latent_dim=8, levels=1, codebook_sizes=[16], kmeans_init=False)).eval()
    centre = torch.full((8,), 7.0)  # |x| about 20
    z = torch.cat([centre + torch.randn(300, 8) * 1e-3, centre + torch.randn(40, 8) * 3])  # (N, D): a dense spot, a spread
    q.rvq.layers[0]._codebook.embed.data[0] = centre + torch.randn(16, 8) * 1e-3  # every code on the dense spot
    q.refill_dead_codes_(z)
    codes = q(z[None]).indices[0, :, 0]  # (N,) as encoding chooses
    assert len(torch.unique(codes)) == 16  # every code in use, not only in cdist's eyes


def test_dilation_growth_sets_how_far_a_position_reaches():
    reach = {}
    for growth in (1, 3):
        torch.manual_seed(0)
        model = VQVAE(ModelConfig(channels=16, latent_dim=8, res_blocks=2, levels=2, codebook_sizes=[16, 16],
                                  dilation_growth=growth, kmeans_init=False)).eval()
        z = torch.randn(1, 40, 8)  # (B, P, D)
        z2 = z.clone()
        z2[0, 20] += 1.0
        with torch.no_grad():
            moved = torch.nonzero((model.decode_latent(z) - model.decode_latent(z2)).abs().amax(dim=1)[0] > 0).flatten()
        reach[growth] = int(moved[-1] - moved[0])
    assert reach[1] < reach[3]


def test_quantize_dropout_is_the_share_of_steps_that_drop_levels():
    from distill_tui.model.quantizer import Quantizer

    def dropped_share(p: float) -> float:
        torch.manual_seed(0)
        q = Quantizer(ModelConfig(latent_dim=4, levels=2, codebook_sizes=[8, 8], kmeans_init=False,
                                  quantize_dropout=p)).train()
        z = torch.randn(1, 16, 4)  # (B, T, D)
        # a dropped level comes back as index -1 in train mode; with 2 levels, k = 1 is drawn half the time
        return sum(bool((q(z).indices[..., 1] == -1).all()) for _ in range(400)) / 400

    assert dropped_share(0.0) == 0.0
    assert 0.4 < dropped_share(1.0) < 0.6
    assert 0.07 < dropped_share(0.25) < 0.19
    assert ModelConfig(quantize_dropout=True).quantize_dropout == 1.0  # an old model file's `true`


def test_dataset_sizes_pick_levels_and_codebooks_and_overrides_win():
    from distill_tui.config import adaptive_model_config

    small = adaptive_model_config(20, 0.91, 513)
    assert (small.levels, small.codebook_sizes, small.quantize_dropout) == (3, [64, 64, 64], 0.0)
    assert adaptive_model_config(13, 0.27, 513).levels == 2
    big = adaptive_model_config(200, 5.4, 513)
    assert (big.levels, big.codebook_sizes) == (4, [256] * 4)
    mine = adaptive_model_config(20, 0.91, 513, levels=2, codebook_size=32, quantize_dropout=0.5)
    assert (mine.levels, mine.codebook_sizes, mine.quantize_dropout) == (2, [32, 32], 0.5)


def test_building_a_model_leaves_torch_dynamo_unimported():
    """einx (under vector-quantize-pytorch) would import torch._dynamo to mark its operations for torch.compile:
    1.3-1.5 s of every start on a 2-core CPU. A fresh process builds the quantizer without it, and the quantizer
    still quantizes; `torch.compiler.allow_in_graph` is torch's own again afterwards."""
    code = (
        "import sys, torch\n"
        "mark = torch.compiler.allow_in_graph\n"
        "from distill_tui.config import ModelConfig\n"
        "from distill_tui.model.vqvae import VQVAE\n"
        "m = VQVAE(ModelConfig(channels=16, latent_dim=8, res_blocks=1, levels=2, codebook_sizes=[8, 8],"
        " kmeans_init=False)).eval()\n"
        "codes = m.encode(-90 * torch.rand(1, 513, 16))\n"
        "assert codes.shape[:2] == (1, 2), codes.shape\n"
        "assert 'vector_quantize_pytorch' in sys.modules and torch.compiler.allow_in_graph is mark\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    assert in_a_fresh_process(code) == "False"


def test_decoding_codes_sums_codebook_vectors_without_the_librarys_per_length_graphs():
    """The library's `get_output_from_indices` builds an einx graph for each new (batch, length): 35-60 ms the
    first time a sound of a new length is decoded, 300 ms the first time of all. Decoding sums the levels'
    codebook vectors itself, and gives what the library gives, muted levels (-1, `levels`) included."""
    model = _model()
    q = model.quantizer
    torch.manual_seed(2)
    idx = torch.randint(0, 16, (3, 2, 17))  # (B, Q, T)
    idx[1, 1, 5:9] = -1  # a muted stretch of level 2
    with torch.no_grad():
        reference = q.rvq.get_output_from_indices(idx.transpose(1, 2))
        coarse = q.rvq.get_output_from_indices(torch.cat([idx[:, :1], torch.full_like(idx[:, 1:], -1)], 1).transpose(1, 2))

        def refuse(*_args, **_kwargs):
            raise AssertionError("decoded through the library's einx graph")

        q.rvq.get_output_from_indices = refuse
        assert torch.allclose(q.decode_indices(idx), reference, atol=1e-6)
        assert torch.allclose(q.decode_indices(idx, levels=1), coarse, atol=1e-6)
        assert q.decode_indices(idx[:, :, :0]).shape == (3, 0, 8)


def _both_quantizers(path):
    """The model at `path` loaded as the editor and the commands load it (stored codebooks) and as training
    builds it (vector-quantize-pytorch's ResidualVQ), with the same weights."""
    from distill_tui.inference.codec import Codec, build_vqvae
    from distill_tui.model.codebooks import StoredCodebooks
    from distill_tui.persistence.model_file import load_model_file

    mf = load_model_file(path)
    stored, spec = build_vqvae(mf, path)
    assert isinstance(stored.quantizer.rvq, StoredCodebooks)
    library = VQVAE(mf.document.model, floor_db=spec.floor_db)
    library.load_state_dict(mf.group("vqvae"), strict=True)
    library.eval()
    return Codec(stored, spec, mf.fingerprint, mf.document), Codec(library, spec, mf.fingerprint, mf.document)


def test_a_loaded_model_encodes_real_sounds_to_the_librarys_codes_bit_for_bit():
    """A loaded model quantizes with its stored codebooks, without importing vector-quantize-pytorch; every
    code of every demo sound (and of real recordings, where the machine has them) is the library's."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    stored, library = _both_quantizers(root / "distill_tui" / "samples" / "demo.distill")
    files = sorted((root / "distill_tui" / "samples" / "sounds").glob("*.wav"))
    sys.path.insert(0, str(root / "bench"))
    import corpus

    if corpus.available():
        files += sorted(corpus.files("pads-drums-5"))
    assert len(files) >= 13
    columns = 0
    for f in files:
        a, b = stored.encode_file(f), library.encode_file(f)
        assert np.array_equal(a.codes, b.codes), f.name
        columns += a.codes.shape[1]
    assert columns > 500
    # latents a rounding error from a code, or halfway between two: the library's tie-breaking too
    torch.manual_seed(3)
    q_lib, q_own = library.model.quantizer, stored.model.quantizer
    e = q_lib.embeddings(0)
    z = torch.cat([e + 1e-7 * torch.randn_like(e), 0.5 * (e[:-1] + e[1:]), 3 * torch.randn(200, e.shape[1])])[None]
    with torch.no_grad():
        lib, own = q_lib(z), q_own(z)
    assert torch.equal(lib.indices, own.indices)
    assert torch.equal(lib.quantized, own.quantized)


def test_loading_a_model_to_encode_and_decode_leaves_the_quantizer_library_unimported():
    """vector-quantize-pytorch (with einx and sympy) cost 0.8-1.1 s of the start of every command and of the
    editor's model load on a 2-core CPU; a loaded model encodes and decodes without it."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import distill_tui\n"
        "from distill_tui.inference.session import InferenceSession\n"
        "root = Path(distill_tui.__file__).parent / 'samples'\n"
        "s = InferenceSession.load(root / 'demo.distill')\n"
        "grid = s.codec.encode_file(root / 'sounds' / 'snare.wav')\n"
        "audio = s.codec.decode(grid).audio\n"
        "assert len(audio) > 1000 and abs(audio).max() > 0.01\n"
        "print('vector_quantize_pytorch' in sys.modules, 'sympy' in sys.modules)\n"
    )
    assert in_a_fresh_process(code) == "False False"


def test_the_spectrums_first_and_last_convolutions_start_at_its_principal_directions():
    model = _model()
    gen = torch.Generator().manual_seed(3)
    # spectra (B, F, T) that vary along 5 directions only, around a sloping mean
    shapes = torch.randn(513, 5, generator=gen) * torch.tensor([12.0, 8.0, 5.0, 3.0, 2.0])
    weights = torch.randn(64, 5, 16, generator=gen)
    db = (torch.linspace(-20, -70, 513)[None, :, None] + torch.einsum("fr,brt->bft", shapes, weights)).clamp(-90, 0)
    frames = model.scale_in(db).transpose(1, 2).reshape(-1, 513)  # (N, F) network units
    spread = float((frames - frames.mean(0)).pow(2).mean())
    share = model.start_at_principal_directions(db)
    assert share > 0.99  # 32 channels hold the 5 directions

    first, last = model.encoder.net[0], model.decoder.net[-1]
    first.requires_grad_(False), last.requires_grad_(False)
    k = first.kernel_size[0] // 2
    coords = frames @ first.weight[:, :, k].T + first.bias  # (N, C): what the centre tap makes of each frame
    top = coords[:, :5]
    assert top.mean(dim=0).abs().max() < 1e-3 and torch.allclose(top.std(dim=0), torch.ones(5), atol=0.02)  # whitened
    # the last convolution's centre tap draws the frame back from those coordinates around the mean frame (the
    # rest is the tenth of the random start it keeps, and the clamping at the floor and at 0 dB)
    back = top @ last.weight[:, :5, k].T + last.bias  # (N, F)
    assert float((back - frames).pow(2).mean()) < 0.05 * spread
    assert torch.allclose(last.bias, frames.mean(dim=0), atol=1e-4)
    fresh = _model().decoder.net[-1].requires_grad_(False)  # a random start draws nothing like them
    assert float((top @ fresh.weight[:, :5, k].T + fresh.bias - frames).pow(2).mean()) > spread
