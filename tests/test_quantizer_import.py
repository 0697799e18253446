"""Building a trainable model imports vector-quantize-pytorch without torch._dynamo or sympy (both slow to import
and unused by training), and everything that reads sympy afterwards still gets the real module."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_training_steps_import_neither_dynamo_nor_sympy():
    out = _run("""
        import sys
        import torch
        from distill_tui.config import ModelConfig
        from distill_tui.model.vqvae import VQVAE, spectral_loss
        from distill_tui.train.adamw import AdamW

        model = VQVAE(ModelConfig(channels=32, latent_dim=8, res_blocks=1, levels=2, codebook_sizes=[16, 16])).train()
        opt = AdamW(model.parameters(), lr=1e-3)  # torch.optim imports torch._dynamo itself
        target = torch.randn(2, 513, 32) * 10 - 40
        for _ in range(3):
            out = model(target)
            loss = spectral_loss(out.recon_db, target) + out.quant.commit_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            assert model.eval()(target[:1]).quant.indices.shape == (1, 8, 2)  # codes taken in eval mode
        print("dynamo" if "torch._dynamo" in sys.modules else "no dynamo")
        print("sympy" if "Symbol" in vars(sys.modules.get("sympy", sys)) else "no sympy")
    """)
    assert out.splitlines()[-2:] == ["no dynamo", "no sympy"]


def test_sympy_read_after_the_library_is_the_real_one():
    out = _run("""
        import importlib.util
        import sys
        from distill_tui.model.quantizer import residual_vq_class

        residual_vq_class()
        assert importlib.util.find_spec("sympy") is not None  # answers as it would without the stand-in
        import einx
        import torch
        a, b = torch.arange(6.0).reshape(2, 3), torch.ones(2, 3, 2)
        print(einx.add("... j, ... j k -> ... (j k)", a, b).tolist())  # one of the library's einx calls
        from sympy import Eq, Symbol, solve
        x = Symbol("x")
        print(solve(Eq(2 * x, 6), x))
        import sympy.core
        print(type(sys.modules["sympy"]).__name__, sympy.core.Symbol is Symbol)
    """)
    lines = out.splitlines()
    assert lines[0] == str([[1.0, 1.0, 2.0, 2.0, 3.0, 3.0], [4.0, 4.0, 5.0, 5.0, 6.0, 6.0]])
    assert lines[1:] == ["[3]", "module True"]
