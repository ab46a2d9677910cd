"""What bench/compare.py and bench/device.py share: running a command, reading `calm bench`'s and
llama-bench's results, the machine's ceilings from calm-roofline, and the roofline of a result."""
import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def run(cmd, env=None):
    """Runs cmd in the project root and returns its standard output; raises on failure."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}).stdout


def local_setup():
    """On this machine: llama.cpp built (tests/ref/build_llama.sh), calm built into build/, and
    the default model in full precision. Returns (llama.cpp dir, calm binary, the folder for
    benchmark files, the f32 file)."""
    ll = run(["tests/ref/build_llama.sh"]).strip().splitlines()[-1]
    run(["tools/build.sh", "build"])
    calm = os.path.join(ROOT, "build", "calm")
    md = os.path.join(ROOT, "build", "bench-models")
    os.makedirs(md, exist_ok=True)
    f32 = os.path.join(md, "smollm2-f32.gguf")
    if not os.path.exists(f32):
        run([calm, "convert", "-m", DEFAULT_MODEL, "-o", f32, "--type", "f32"])
    return ll, calm, md, f32


def calm_bench(calm, path, threads, reps, pp=512, tg=128, env=None):
    """`calm bench` on one file: ({(threads, "pp512"|"tg128"): t/s}, size MiB, parameters)."""
    out = run([calm, "bench", "-m", path, "-t", threads, "-r", str(reps), "-p", str(pp), "-n", str(tg)],
              env=env)
    ts = {(m[0], m[1]): float(m[2])
          for m in re.findall(r"\|\s+(\d+) \| (pp\d+|tg\d+) \|\s+([\d.]+)", out)}
    size = float(re.search(r"\|\s+([\d.]+) MiB", out).group(1))
    params = float(re.search(r"\|\s+([\d.]+) M \|", out).group(1)) * 1e6
    return ts, size, params


def llama_bench(binary, path, threads, reps, pp=512, tg=128):
    """llama-bench on one file: {(threads, "pp512"|"tg128"): t/s}."""
    rows = json.loads(run([binary, "-m", path, "-t", threads, "-p", str(pp), "-n", str(tg),
                           "-r", str(reps), "-o", "json"]))
    return {(str(r["n_threads"]), f"pp{pp}" if r["n_prompt"] else f"tg{tg}"): r["avg_ts"] for r in rows}


def kl_stats(out):
    """Perplexity, mean KL divergence from the base model and top-token agreement (%) from the
    final statistics of `calm perplexity --kl` or `llama-perplexity --kl-divergence`, which print
    them alike."""
    def num(key):
        return float(re.search(re.escape(key) + r"\s*:?\s*([-\d.]+)", out).group(1))
    return num("Mean PPL(Q)"), num("Mean    KLD:"), num("Same top p:")


def roofline(binary, threads):
    """calm-roofline at each thread count: {threads: {"bandwidth_gib_s": ..., "int8_gmac_s": ...,
    "amx_int8_gmac_s": ..., "f32_gflop_s": ...}}."""
    roof = {}
    for t in threads.split(","):
        out = run([binary], env={"OMP_NUM_THREADS": t})
        roof[t] = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out)}
    return roof


def bound(test, roof, size_mib, params):
    """The roofline in tokens/s: generation streams every weight byte once per token; prompt
    processing does one multiply-accumulate per parameter and token at the best int8 peak."""
    if test.startswith("tg"):
        return roof["bandwidth_gib_s"] * (1 << 30) / (size_mib * (1 << 20))
    peak = max(roof.get("int8_gmac_s", 0), roof.get("amx_int8_gmac_s", 0))
    return peak * 1e9 / params
