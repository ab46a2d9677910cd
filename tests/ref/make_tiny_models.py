#!/usr/bin/env python3
"""Makes tiny random Hugging Face models (Llama 3 with rope scaling, Qwen2, Qwen3) with
transformers and saves, for each, the directory and the logits of a fixed token sequence.
calm's tests load the directories and compare (tests/test_archs.c). Run where torch and
transformers are installed:  python3 make_tiny_models.py OUT_DIR"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

out = sys.argv[1]
torch.manual_seed(0)
TOKENS = [1, 17, 250, 3, 99, 42, 511, 7, 300, 12, 5, 480, 64, 2, 9, 128]

common = dict(vocab_size=512, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, torch_dtype="float32")
configs = {
    "tiny-llama3": LlamaConfig(**common, rope_theta=500000.0, tie_word_embeddings=False,
                               rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                             "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                             "original_max_position_embeddings": 64}),
    "tiny-qwen2": Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True),
}
try:
    from transformers import Qwen3Config
    configs["tiny-qwen3"] = Qwen3Config(**common, head_dim=32, rope_theta=1000000.0,
                                        tie_word_embeddings=True)
except ImportError:
    print("transformers", transformers.__version__, "has no Qwen3")

for name, cfg in configs.items():
    model = AutoModelForCausalLM.from_config(cfg).eval()
    with torch.no_grad():  # random biases, so the Qwen2 test sees them
        for n, p in model.named_parameters():
            if n.endswith("bias") or "norm" in n:
                p.add_(0.1 * torch.randn_like(p))
        logits = model(torch.tensor([TOKENS])).logits[0]
    d = os.path.join(out, name)
    model.save_pretrained(d, safe_serialization=True)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"tokens": TOKENS, "logits": logits.tolist(),
                   "transformers": transformers.__version__}, f)
    print(name, "ok", sorted(os.listdir(d)))
