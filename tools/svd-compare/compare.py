"""Side-by-side check of OnnxFactorize's truncated SVD against scikit-learn's randomized_svd.

  compare.py gen DIR        write the test matrices (raw float32) and DIR/manifest.json
  compare.py sklearn DIR N  time sklearn (warm-up + best of N) and print JSON
  compare.py table DIR OURS.json[,..] SKLEARN.json[,..]   print the table (best time over the files)

Matrices are U·diag(σ)·Vᵀ with Haar-random orthogonal U, V and σ_i = (1+i)^-1/2, a slowly decaying spectrum like
trained weights, so the Eckart–Young optimum sqrt(Σ_{i≥k} σ_i²) is known exactly.
"""
import json
import sys
import time

import numpy as np

CASES = [
    ("w4096x4096", 4096, 4096, 256),
    ("w768x3072", 768, 3072, 64),
    ("w512x4608", 512, 4608, 128),
]


def orthonormal(rng, n, s):
    q, r = np.linalg.qr(rng.standard_normal((n, s)))
    return q * np.sign(np.diag(r))


def gen(directory):
    rng = np.random.default_rng(2024)
    manifest = []
    for name, m, n, k in CASES:
        s = min(m, n)
        sigma = (1.0 + np.arange(s)) ** -0.5
        a = ((orthonormal(rng, m, s) * sigma) @ orthonormal(rng, n, s).T).astype(np.float32)
        a.tofile(f"{directory}/{name}.f32")
        optimum = float(np.sqrt(np.sum(sigma[k:] ** 2)))
        manifest.append({"name": name, "rows": m, "cols": n, "rank": k, "optimum": optimum})
    with open(f"{directory}/manifest.json", "w") as f:
        json.dump(manifest, f)


def residual(a, u, s, vt):
    return float(np.linalg.norm(a.astype(np.float64) - (u * s).astype(np.float64) @ vt.astype(np.float64)))


def run_sklearn(directory, repeats):
    from sklearn.utils.extmath import randomized_svd

    results = []
    for entry in json.load(open(f"{directory}/manifest.json")):
        a = np.fromfile(f"{directory}/{entry['name']}.f32", dtype=np.float32).reshape(entry["rows"], entry["cols"])
        u, s, vt = randomized_svd(a, entry["rank"], random_state=0)  # warm-up, default settings
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            u, s, vt = randomized_svd(a, entry["rank"], random_state=0)
            best = min(best, time.perf_counter() - start)
        results.append({"name": entry["name"], "seconds": best, "error": residual(a, u, s, vt)})
    print(json.dumps(results))


def best_of(paths):
    """Merges comma-separated result files (interleaved rounds) keeping each matrix's fastest time."""
    best = {}
    for path in paths.split(","):
        for r in json.load(open(path)):
            if r["name"] not in best or r["seconds"] < best[r["name"]]["seconds"]:
                best[r["name"]] = r
    return best


def table(directory, ours_path, sklearn_path):
    manifest = {e["name"]: e for e in json.load(open(f"{directory}/manifest.json"))}
    ours, theirs = best_of(ours_path), best_of(sklearn_path)
    print(f"{'size':>11} {'rank':>5} {'ours s':>8} {'sklearn s':>10} {'time ratio':>11} {'ours err/opt':>13} {'sklearn err/opt':>16} {'goal met':>9}")
    for name, e in manifest.items():
        o, t = ours[name], theirs[name]
        print(f"{e['rows']:>5}x{e['cols']:<5} {e['rank']:>5} {o['seconds']:>8.3f} {t['seconds']:>10.3f} "
              f"{o['seconds'] / t['seconds']:>11.2f} {o['error'] / e['optimum']:>13.5f} {t['error'] / e['optimum']:>16.5f} "
              f"{'yes' if o['seconds'] <= t['seconds'] and o['error'] <= t['error'] else 'no':>9}")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "gen":
        gen(sys.argv[2])
    elif command == "sklearn":
        run_sklearn(sys.argv[2], int(sys.argv[3]))
    elif command == "table":
        table(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown command {command}; use gen, sklearn or table")
