#!/usr/bin/env python3
"""The PTQ pool and the CALM search on the default model: every algorithm of `calm quantize` at 4
and 3 bits (groups of 128), SmoothQuant W8A8 and `calm calibrate` (4, 3 and a mixed 3.5 bits per
weight), beside llama.cpp's Q4_0, Q4_K_M and Q3_K_M made by llama-quantize
from the same full-precision file. Prints one markdown table: perplexity on wiki.test.raw and on
eval.raw, and on eval.raw the mean KL divergence of each file's next-token distributions from the
F32 model's and how often their top tokens agree (calm's files against `calm perplexity
--kl-base` of the F32 file, llama.cpp's against llama-perplexity --kl-divergence-base of it), file
size, pp512 and tg128 tokens/s (calm's files with `calm bench`, llama.cpp's with llama-bench; the
F32 file with both, as the baseline of the same run), and the time each quantization took.

    bench/pool.py [--samples 32] [--chunks 100] [--kl-chunks 100] [--threads 2] [--rows hero:4,calm:4]
                  [--no-baselines]

Calibration: --samples windows of 512 tokens from calib.raw (disjoint from wiki.test.raw)."""
import argparse
import json
import os
import re
import subprocess
import sys
import time

from benchlib import ROOT, kl_stats, local_setup

DATA = os.path.join(ROOT, "..", "shared", "data", "wikitext-2")


def run(cmd, err=False):
    p = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return p.stderr if err else p.stdout + p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--chunks", type=int, default=100)
    ap.add_argument("--kl-chunks", type=int, default=None,
                    help="chunks of eval.raw for its perplexity, KL divergence and top-1 agreement "
                    "(default: --chunks; each base file takes 98 KiB per scored token, 2.5 GB for 100)")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--rows", default="rtn:4,gptq:4,awq:4,hadamard:4,hero:4,rtn:3,gptq:3,awq:3,hadamard:3,"
                    "hero:3,smoothquant:8,calm:4,calm-nohero:4,calm:3,calm:3.5",
                    help="ALGO:BITS (calm: the CALM search; BITS with a point: --target-bpw)")
    ap.add_argument("--no-baselines", dest="baselines", action="store_false",
                    help="skip the f32 rows")
    ap.add_argument("--llama", default="Q4_0,Q4_K_M,Q3_K_M", help="llama-quantize types to compare")
    ap.add_argument("--speed-only", action="store_true",
                    help="only pp512/tg128 of the files an earlier run made (on a quiet machine)")
    a = ap.parse_args()

    ll, calm, md, f32 = local_setup()
    kc = str(a.kl_chunks or a.chunks)
    wiki, calib = os.path.join(DATA, "wiki.test.raw"), os.path.join(DATA, "calib.raw")

    def calm_ppl(path):
        out = run([calm, "perplexity", "-m", path, "-f", wiki, "-c", "512", "--chunks", str(a.chunks),
                   "-t", a.threads])
        return float(re.search(r"Final estimate: PPL = ([\d.]+)", out).group(1))

    def calm_speed(path):
        out = run([calm, "bench", "-m", path, "-t", a.threads, "-r", "2"])
        ts = dict(re.findall(r"\| (pp512|tg128) \|\s+([\d.]+)", out))
        return float(ts["pp512"]), float(ts["tg128"])

    def llama_ppl(path):
        out = run([f"{ll}/build/bin/llama-perplexity", "-m", path, "-f", wiki, "-c", "512", "--chunks",
                   str(a.chunks), "-t", a.threads], err=True)
        return float(re.search(r"Final estimate: PPL = ([\d.]+)", out).group(1))

    def llama_speed(path):
        j = json.loads(subprocess.run([f"{ll}/build/bin/llama-bench", "-m", path, "-t", a.threads, "-p", "512",
                                       "-n", "128", "-r", "2", "-o", "json"], check=True, capture_output=True,
                                      text=True, cwd=ROOT).stdout)
        ts = {("pp512" if r["n_prompt"] else "tg128"): r["avg_ts"] for r in j}
        return ts["pp512"], ts["tg128"]

    ev = os.path.join(DATA, "eval.raw")
    calm_base, llama_base = (os.path.join(md, f"f32-eval-{kc}.{t}") for t in ("calm-kl", "llama-kld"))

    def calm_kl(path):
        """PPL, mean KLD and top-1 agreement on eval.raw against the F32 model, made once."""
        ppl = [calm, "perplexity", "-f", ev, "-c", "512", "--chunks", kc, "-t", a.threads]
        if not os.path.exists(calm_base):
            run(ppl + ["-m", f32, "--kl-base", calm_base])
        return kl_stats(run(ppl + ["-m", path, "--kl", calm_base]))

    def llama_kl(path):
        ppl = [f"{ll}/build/bin/llama-perplexity", "-c", "512", "-b", "512", "-t", a.threads,
               "--kl-divergence-base", llama_base]
        if not os.path.exists(llama_base):
            run(ppl + ["-m", f32, "-f", ev, "--chunks", kc])
        return kl_stats(run(ppl + ["-m", path, "--kl-divergence"]))

    if a.speed_only:
        print("| file | runtime | pp512 t/s | tg128 t/s |\n| --- | --- | ---: | ---: |")
        for t in [t for t in a.llama.split(",") if t]:
            p = os.path.join(md, f"smollm2-{t}.gguf")
            print(f"| {t} | llama.cpp | %.0f | %.0f |" % llama_speed(p), flush=True)
        for spec in [s for s in a.rows.split(",") if s]:
            algo, bits = spec.split(":")
            p = os.path.join(md, f"smollm2-{algo}-{bits}.gguf")
            print(f"| {algo} {bits} | calm | %.0f | %.0f |" % calm_speed(p), flush=True)
        return

    def ppls(path, llama=False):
        """PPL on wiki.test.raw, then PPL, mean KLD and top-1 agreement on eval.raw."""
        if llama:
            return (llama_ppl(path),) + llama_kl(path)
        return (calm_ppl(path),) + calm_kl(path)

    print(f"calibration: {a.samples} x 512 tokens of calib.raw; perplexity: first {a.chunks} chunks of "
          f"512 tokens of wiki.test.raw and {kc} of eval.raw; KLD and top-1: mean KL divergence from "
          f"the F32 model and top-token agreement on the same chunks of eval.raw; {a.threads} threads\n")
    print("| method | weights | runtime | size MiB | PPL wiki.test | PPL eval | KLD eval | top-1 eval | "
          "pp512 t/s | tg128 t/s | quantize s |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def row(name, weights, runtime, path, q, speed, qt):
        mib = os.path.getsize(path) / (1 << 20)
        print(f"| {name} | {weights} | {runtime} | {mib:.1f} | {q[0]:.3f} | {q[1]:.3f} | {q[2]:.4f} | "
              f"{q[3]:.2f}% | {speed[0]:.0f} | {speed[1]:.0f} | {qt} |")
        sys.stdout.flush()

    if a.baselines:
        row("full precision", "f32", "calm", f32, ppls(f32), calm_speed(f32), "")
        row("full precision", "f32", "llama.cpp", f32, ppls(f32, True), llama_speed(f32), "")
    for t in [t for t in a.llama.split(",") if t]:
        if True:
            p = os.path.join(md, f"smollm2-{t}.gguf")
            t0 = time.time()
            run([f"{ll}/build/bin/llama-quantize", f32, p, t])
            qt = f"{time.time() - t0:.0f}"
            row(f"llama-quantize {t}", t, "llama.cpp", p, ppls(p, True), llama_speed(p), qt)
    for spec in [s for s in a.rows.split(",") if s]:
        algo, bits = spec.split(":")
        p = os.path.join(md, f"smollm2-{algo}-{bits}.gguf")
        common = ["--data", calib, "--samples", str(a.samples), "-t", a.threads, "-o", p]
        if algo.startswith("calm"):
            pool = "rtn,gptq,awq,hadamard" if algo == "calm-nohero" else "rtn,gptq,awq,hadamard,hero"
            width = ["--target-bpw", bits] if "." in bits else ["--bits", bits]
            cmd = [calm, "calibrate", "-m", f32, "--pool", pool] + width + common
            weights = f"mixed {bits} bpw" if "." in bits else f"qg{bits}_128 mixed"
            name = f"CALM ({pool})"
        elif algo == "smoothquant":
            cmd, weights, name = [calm, "quantize", "-m", f32, "--algo", algo] + common, "w8a8", algo
        else:
            cmd = [calm, "quantize", "-m", f32, "--algo", algo, "--bits", bits, "--group", "128"] + common
            weights, name = f"qg{bits}_128", algo
        t0 = time.time()
        run(cmd)
        qt = f"{time.time() - t0:.0f}"
        row(name, weights, "calm", p, ppls(p), calm_speed(p), qt)


if __name__ == "__main__":
    main()
