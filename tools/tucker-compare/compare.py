"""Side-by-side check of OnnxFactorize's Tucker-2 (HOSVD + HOOI) against a numpy reference HOOI on the same tensors.

  compare.py gen DIR                 write the test tensors (raw float32) and DIR/manifest.json
  compare.py numpy DIR N SWEEPS TOL  time the numpy reference (warm-up + best of N), write its factors, print JSON
  compare.py table DIR OURS.json[,..] NUMPY.json[,..]   print the table (best time over the files)

Tensors are every 3×3 conv shape of ResNet-18 [out, in, 9], at ranks 0.25 and 0.5 of each mode, of two kinds:
  gauss  i.i.d. Gaussian (flat mode spectra: the hardest case for subspace iteration, HOOI gains little)
  decay  C ×₀ (U_o diag σ) ×₁ (U_i diag σ) with Haar-random U, σ_j = (1+j)^-0.75 and a Gaussian core C: decaying mode
         spectra like trained weights.
The reference is the textbook algorithm in float32 (the weights' precision), matmul on OpenBLAS and LAPACK eigh for
every mode Gram matrix; the stopping rule is the one of OnnxFactorize: at most SWEEPS sweeps, stop when a sweep lowers
the relative error ‖W‖²−‖G‖² by less than TOL or raises it. Both sides' errors are measured here the same way, in
float64, from the factors each side wrote.
"""
import json
import sys
import time

import numpy as np

SHAPES = [(64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (512, 256), (512, 512)]
RATIOS = [0.25, 0.5]
KINDS = ["gauss", "decay"]
SPATIAL = 9


def orthonormal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def tensor(rng, kind, o, i):
    c = rng.standard_normal((o, i, SPATIAL))
    if kind == "decay":
        so = (1.0 + np.arange(o)) ** -0.75
        si = (1.0 + np.arange(i)) ** -0.75
        c = np.einsum("ap,pqs->aqs", orthonormal(rng, o) * so, c)
        c = np.einsum("bq,aqs->abs", orthonormal(rng, i) * si, c)
    return (c / np.sqrt(np.mean(c * c)) * 0.05).astype(np.float32)


def gen(directory):
    rng = np.random.default_rng(2025)
    manifest = []
    for kind in KINDS:
        for o, i in SHAPES:
            name = f"{kind}{o}x{i}"
            tensor(rng, kind, o, i).tofile(f"{directory}/{name}.f32")
            for ratio in RATIOS:
                manifest.append({"name": f"{name}r{ratio}", "file": name, "kind": kind, "out": o, "in": i,
                                 "spatial": SPATIAL, "rankOut": max(1, int(o * ratio)), "rankIn": max(1, int(i * ratio))})
    with open(f"{directory}/manifest.json", "w") as f:
        json.dump(manifest, f)


def load(directory, entry):
    return np.fromfile(f"{directory}/{entry['file']}.f32", dtype=np.float32).reshape(entry["out"], entry["in"], entry["spatial"])


def leading(gram, r):
    _, vectors = np.linalg.eigh(gram)
    return np.ascontiguousarray(vectors[:, ::-1][:, :r])


def hooi(w, ro, ri, sweeps, tol):
    o, i, s = w.shape
    x0 = w.reshape(o, i * s)
    x1 = np.ascontiguousarray(w.transpose(1, 0, 2)).reshape(i, o * s)
    norm2 = float(np.dot(x0.ravel().astype(np.float64), x0.ravel().astype(np.float64)))

    def project_out(uo):
        z = (uo.T @ x0).reshape(ro, i, s)
        return np.ascontiguousarray(z.transpose(1, 0, 2)).reshape(i, ro * s)

    def core(z1, ui):
        c = ui.T @ z1
        kept = float(np.dot(c.ravel().astype(np.float64), c.ravel().astype(np.float64)))
        return c, np.sqrt(max(0.0, norm2 - kept) / norm2)

    uo = leading(x0 @ x0.T, ro)
    ui = leading(x1 @ x1.T, ri)
    c, err = core(project_out(uo), ui)
    sweep = 0
    while sweep < sweeps and err > 0:
        y = (ui.T @ x1).reshape(ri, o, s)
        y0 = np.ascontiguousarray(y.transpose(1, 0, 2)).reshape(o, ri * s)
        uo_n = leading(y0 @ y0.T, ro)
        z1 = project_out(uo_n)
        ui_n = leading(z1 @ z1.T, ri)
        c_n, err_n = core(z1, ui_n)
        sweep += 1
        if err_n > err:
            break
        improvement = err - err_n
        uo, ui, c, err = uo_n, ui_n, c_n, err_n
        if improvement < tol:
            break
    # c is [r_in, r_out, s]; the core is [r_out, r_in, s].
    return uo, ui, np.ascontiguousarray(c.reshape(ri, ro, s).transpose(1, 0, 2)), sweep


def run_numpy(directory, repeats, sweeps, tol):
    results = []
    for entry in json.load(open(f"{directory}/manifest.json")):
        w = load(directory, entry)
        args = (w, entry["rankOut"], entry["rankIn"], sweeps, tol)
        uo, ui, c, sweep = hooi(*args)  # warm-up
        best = best_cpu = float("inf")
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            uo, ui, c, sweep = hooi(*args)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - start_cpu)
        write_factors(directory, "numpy", entry["name"], uo, ui, c)
        results.append({"name": entry["name"], "seconds": best, "cpu": best_cpu, "sweeps": sweep})
    print(json.dumps(results))


def write_factors(directory, side, name, uo, ui, c):
    for part, x in (("uout", uo), ("uin", ui), ("core", c)):
        np.asarray(x, dtype=np.float32).tofile(f"{directory}/{side}-{name}-{part}.f32")


def error(directory, side, entry):
    """‖W − G ×₀ U_out ×₁ U_in‖ / ‖W‖ in float64 from the factors the side wrote."""
    o, i, s, ro, ri = entry["out"], entry["in"], entry["spatial"], entry["rankOut"], entry["rankIn"]
    w = load(directory, entry).astype(np.float64)
    read = lambda part: np.fromfile(f"{directory}/{side}-{entry['name']}-{part}.f32", dtype=np.float32).astype(np.float64)
    uo, ui, c = read("uout").reshape(o, ro), read("uin").reshape(i, ri), read("core").reshape(ro, ri, s)
    approx = np.einsum("oa,abs,ib->ois", uo, c, ui, optimize=True)
    return float(np.linalg.norm(w - approx) / np.linalg.norm(w))


def best_of(paths):
    """Merges comma-separated result files (interleaved rounds) keeping each case's fastest wall and CPU time."""
    best = {}
    for path in paths.split(","):
        for r in json.load(open(path)):
            b = best.setdefault(r["name"], dict(r))
            b["seconds"] = min(b["seconds"], r["seconds"])
            b["cpu"] = min(b["cpu"], r["cpu"])
    return best


def table(directory, ours_path, numpy_path):
    manifest = json.load(open(f"{directory}/manifest.json"))
    ours, theirs = best_of(ours_path), best_of(numpy_path)
    print(f"{'kind':>5} {'shape':>13} {'ranks':>9} {'ours s':>8} {'numpy s':>8} {'time ratio':>10} {'cpu ratio':>9} "
          f"{'ours err':>9} {'numpy err':>9} {'err ratio':>9} {'sweeps':>6} {'goal met':>8}")
    total_ours = total_numpy = cpu_ours = cpu_numpy = 0.0
    met = 0
    for e in manifest:
        o, t = ours[e["name"]], theirs[e["name"]]
        eo, et = error(directory, "ours", e), error(directory, "numpy", e)
        ok = o["seconds"] <= t["seconds"] and eo <= 1.001 * et
        met += ok
        total_ours += o["seconds"]
        total_numpy += t["seconds"]
        cpu_ours += o["cpu"]
        cpu_numpy += t["cpu"]
        print(f"{e['kind']:>5} {str(e['out']) + 'x' + str(e['in']) + 'x' + str(e['spatial']):>13} "
              f"{str(e['rankOut']) + ',' + str(e['rankIn']):>9} {o['seconds']:>8.4f} {t['seconds']:>8.4f} "
              f"{o['seconds'] / t['seconds']:>10.2f} {o['cpu'] / t['cpu']:>9.2f} {eo:>9.5f} {et:>9.5f} {eo / et:>9.5f} "
              f"{str(o['sweeps']) + '/' + str(t['sweeps']):>6} {'yes' if ok else 'no':>8}")
    print(f"total wall: ours {total_ours:.3f} s, numpy {total_numpy:.3f} s, ratio {total_ours / total_numpy:.2f}; "
          f"total CPU: ours {cpu_ours:.3f} s, numpy {cpu_numpy:.3f} s, ratio {cpu_ours / cpu_numpy:.2f}; "
          f"goal (time ≤ 1.0×, error ≤ 1.001×) met on {met}/{len(manifest)} (wall time)")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "gen":
        gen(sys.argv[2])
    elif command == "numpy":
        run_numpy(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif command == "table":
        table(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown command {command}: use gen, numpy or table")
