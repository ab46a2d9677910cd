#!/usr/bin/env python3
"""calm against llama.cpp where speed is judged: on the device machine, over .devpack/ (made here by
../shared/tools/device-pack after tools/build.sh build), random-weight models of real LLaMA shapes.

    python3 bench/device.py [--shapes "llama1b llama8b"] [--types "Q4_0 Q8_0 Q4_K_M qg4_32 qg4_128"]
                            [--threads 1,4,16] [--reps 2]

It builds llama.cpp there (.devpack/run.sh setup), measures the read bandwidth and the int8 peaks
(AVX-512 VNNI and AMX tiles) with calm-roofline at each thread count, makes each model once
(llama-quantize for llama.cpp's types, calm convert for calm's), runs llama-bench and calm bench on
it, and prints one table: calm / llama.cpp for pp512 and tg128, and each result as a fraction of
its roofline (generation: bandwidth / file size; prompt: best int8 peak / parameters). calm's own
formats are compared with llama.cpp's Q4_0 of the same shape. The table is also written to
$OUT/device.md. One device call lasts at most 10 minutes: give a subset per call."""
import argparse
import os
import shutil
import subprocess
import sys

from benchlib import ROOT, bound, calm_bench, llama_bench, roofline, run

PACK = os.path.join(ROOT, ".devpack")
CALM = "/tmp/calm/bin/calm"
LLAMA = "/tmp/ll/build/bin"
ENV = {"LD_LIBRARY_PATH": "/tmp/calm/lib"}


def model(shape, typ):
    """The file of one shape in one type, made once in /tmp/m (which survives only while the
    machine stays warm)."""
    os.makedirs("/tmp/m", exist_ok=True)
    f16, path = f"/tmp/m/{shape}-f16.gguf", f"/tmp/m/{shape}-{typ}.gguf"
    if not os.path.exists(f16):
        run([sys.executable, f"{PACK}/mkshape.py", "/tmp/ll/gguf-py", f"{PACK}/ggml-vocab-gpt-2.gguf",
             f16, shape])
    if not os.path.exists(path):
        if typ.startswith("qg"):
            run([CALM, "convert", "-m", f16, "-o", path, "--type", typ], env=ENV)
        else:
            run([f"{LLAMA}/llama-quantize", f16, path, typ, str(os.cpu_count())])
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="llama1b llama8b")
    ap.add_argument("--types", default="Q4_0 Q8_0 Q4_K_M qg4_32 qg4_128")
    ap.add_argument("--threads", default="1,4,16")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--isa-ab", default="", metavar="ISA",
                    help="also time calm's pp512 with CALM_ISA=ISA (e.g. avx512 against amx), same files")
    a = ap.parse_args()
    if not os.path.exists(f"{PACK}/run.sh"):
        sys.exit("device.py: .devpack/ is missing: run ../shared/tools/device-pack and carry it")
    subprocess.run(["bash", f"{PACK}/run.sh", "setup"], check=True, cwd=ROOT)
    out_dir = os.environ.get("OUT", "/tmp/out")
    os.makedirs(out_dir, exist_ok=True)
    lines = [open(os.path.join(out_dir, "machine.txt")).read().strip(), ""]

    def emit(s):
        print(s, flush=True)
        lines.append(s)

    roof = roofline("/tmp/calm/bin/calm-roofline", a.threads)
    for t, r in roof.items():
        emit(f"roofline, {t} thread(s): read {r['bandwidth_gib_s']:.1f} GiB/s, int8 VNNI "
             f"{r['int8_gmac_s']:.0f} GMAC/s, int8 AMX {r.get('amx_int8_gmac_s', 0):.0f} GMAC/s")
    emit("")
    ab = f" | calm t/s with CALM_ISA={a.isa_ab}" if a.isa_ab else ""
    emit("| shape | format | MiB | threads | test | llama.cpp t/s | calm t/s | calm / llama.cpp "
         f"| calm roofline t/s | llama.cpp / its roof | calm / its roof{ab} |")
    emit("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---:" + (" | ---:" if ab else "") + " |")
    for shape in a.shapes.split():
        llama_cache = {}
        for typ in a.types.split():
            base = "Q4_0" if typ.startswith("qg") else typ
            if base not in llama_cache:
                llama_cache[base] = llama_bench(f"{LLAMA}/llama-bench", model(shape, base), a.threads, a.reps)
            path = model(shape, typ)
            cts, size, params = calm_bench(CALM, path, a.threads, a.reps, env=ENV)
            if a.isa_ab:  # prompt processing only: generation does not use the prefill kernels
                ab_ts = calm_bench(CALM, path, a.threads, a.reps, tg=16, env={**ENV, "CALM_ISA": a.isa_ab})[0]
            for t in a.threads.split(","):
                for test in ("pp512", "tg128"):
                    rl = bound(test, roof[t], size, params)
                    lrl = bound(test, roof[t], os.path.getsize(model(shape, base)) / (1 << 20), params)
                    l, c = llama_cache[base][(t, test)], cts[(t, test)]
                    name = typ + (f" (vs {base})" if base != typ else "")
                    extra = ""
                    if a.isa_ab:
                        extra = f" | {ab_ts[(t, test)]:.1f}" if test.startswith("pp") else " | -"
                    emit(f"| {shape} | {name} | {size:.0f} | {t} | {test} | {l:.1f} | {c:.1f} | "
                         f"{c / l:.2f} | {rl:.0f} | {l / lrl:.2f} | {c / rl:.2f}{extra} |")
        shutil.rmtree("/tmp/m", ignore_errors=True)  # the next shape needs the disk
    with open(os.path.join(out_dir, "device.md"), "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
