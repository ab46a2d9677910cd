#!/usr/bin/env python3
"""calm against llama.cpp on the same GGUF files, in one run: pp512 and tg128 tokens/s of
llama-bench and `calm bench`, their ratio, the roofline (weight bytes per token over the read
bandwidth; multiply-accumulates per token over the int8 peak), and with --ppl the perplexity of
both on the first chunks of wiki.test.raw.

    bench/compare.py [--threads 1,2] [--reps 3] [--ppl CHUNKS] [--only-files] [--files F.gguf ...]

--files adds GGUF files compared as they are (e.g. models/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf
from tools/setup.sh --all-models); --only-files skips the default model's variants.

Needs the llama.cpp build of tests/ref/build_llama.sh (made if missing) and calm in build/."""
import argparse
import os
import re
import subprocess
import sys

from benchlib import DEFAULT_MODEL, ROOT, bound, calm_bench, llama_bench, local_setup, roofline, run

WIKI = os.path.join(ROOT, "..", "shared", "data", "wikitext-2", "wiki.test.raw")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ppl", type=int, default=0, help="also compare perplexity on this many chunks")
    ap.add_argument("--files", nargs="*", default=[], help="more GGUF files, compared as they are")
    ap.add_argument("--only-files", action="store_true", help="only the --files")
    a = ap.parse_args()

    ll, calm, md, f32 = local_setup()
    files = {} if a.only_files else {"Q4_1": DEFAULT_MODEL}
    for t in [] if a.only_files else ["Q4_0", "Q8_0", "Q4_K_M", "Q6_K"]:
        p = os.path.join(md, f"smollm2-{t}.gguf")
        if not os.path.exists(p):
            run([f"{ll}/build/bin/llama-quantize", f32, p, t])
        files[t] = p
    if not a.only_files:
        qg = os.path.join(md, "smollm2-qg4_32.gguf")
        if not os.path.exists(qg):
            run([calm, "convert", "-m", f32, "-o", qg, "--type", "qg4_32"])
        files["calm qg4_32"] = qg
    for f in a.files:
        if not os.path.exists(f):
            sys.exit(f"compare.py: {f}: no such file")
        files[os.path.basename(f)] = f

    roof = roofline(os.path.join(ROOT, "build", "bench", "calm-roofline"), a.threads)
    for t in a.threads.split(","):
        print(f"machine, {t} thread(s): read {roof[t]['bandwidth_gib_s']:.1f} GiB/s, "
              f"int8 {roof[t]['int8_gmac_s']:.0f} GMAC/s, f32 {roof[t]['f32_gflop_s']:.0f} GFLOP/s")

    print("\n| format | size MiB | threads | test | llama.cpp t/s | calm t/s | calm / llama.cpp | roofline t/s | calm / roofline |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, path in files.items():
        # calm's own format has no llama.cpp kernel: its baseline is llama.cpp's format of the
        # same bits per weight (qg4_32 and Q4_1 both take 5.0).
        base = files["Q4_1"] if name.startswith("calm") else path
        lts = llama_bench(f"{ll}/build/bin/llama-bench", base, a.threads, a.reps)
        cts, size, params = calm_bench(calm, path, a.threads, a.reps)
        for t in a.threads.split(","):
            for test in ["pp512", "tg128"]:
                rl = bound(test, roof[t], size, params)
                l, c = lts[(t, test)], cts[(t, test)]
                print(f"| {name}{' (vs Q4_1)' if base != path else ''} | {size:.1f} | {t} | {test} | {l:.1f} | "
                      f"{c:.1f} | {c / l:.2f} | {rl:.0f} | {c / rl:.2f} |")
        sys.stdout.flush()

    if a.ppl:
        print(f"\n| format | llama.cpp PPL ({a.ppl} chunks) | calm PPL | difference |")
        print("| --- | ---: | ---: | ---: |")
        for name, path in files.items():
            if name.startswith("calm"):
                continue
            lo = subprocess.run([f"{ll}/build/bin/llama-perplexity", "-m", path, "-f", WIKI, "-c", "512",
                                 "--chunks", str(a.ppl)], capture_output=True, text=True).stderr
            lp = float(re.search(r"Final estimate: PPL = ([\d.]+)", lo).group(1))
            co = run([calm, "perplexity", "-m", path, "-f", WIKI, "-c", "512", "--chunks", str(a.ppl)])
            cp = float(re.search(r"Final estimate: PPL = ([\d.]+)", co).group(1))
            print(f"| {name} | {lp:.4f} | {cp:.4f} | {100 * (cp - lp) / lp:+.2f}% |")


if __name__ == "__main__":
    main()
