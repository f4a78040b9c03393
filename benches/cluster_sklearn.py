#!/usr/bin/env python3
"""The scikit-learn peer of `workbench bench-cluster`: the same job on the same matrix.

For every k in the range: KMeans (k-means++, 10 starts, as `n_init=10` does, but kept apart so
stability, the mean ARI between starts, can be measured as the workbench does), silhouette on a
seeded sample of the same size, Calinski-Harabasz and Davies-Bouldin on all rows; then the final
fit of k=6 with n_init=10. Prints wall time by phase and peak memory.

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn
    benches/cluster.sh          # runs both, back to back, and prints the ratio
"""
import argparse
import itertools
import json
import resource
import time

t_process = time.perf_counter()
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.preprocessing import StandardScaler  # noqa: E402

t_imported = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("matrix", help="CSV written by `workbench bench-cluster --write-matrix`")
ap.add_argument("--k-min", type=int, default=2)
ap.add_argument("--k-max", type=int, default=12)
ap.add_argument("--k", type=int, default=6)
ap.add_argument("--seeds", type=int, default=10)
ap.add_argument("--silhouette-sample", type=int, default=10_000)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--json", action="store_true")
args = ap.parse_args()

t0 = time.perf_counter()
x = np.loadtxt(args.matrix, delimiter=",", skiprows=1)
read_s = time.perf_counter() - t0
z = StandardScaler().fit_transform(x)

t0 = time.perf_counter()
scores = []
for k in range(args.k_min, args.k_max + 1):
    fits = [KMeans(k, init="k-means++", n_init=1, random_state=args.seed + s).fit(z) for s in range(args.seeds)]
    best = min(fits, key=lambda f: f.inertia_)
    scores.append(
        dict(
            k=k,
            inertia=best.inertia_,
            silhouette=silhouette_score(z, best.labels_, sample_size=min(args.silhouette_sample, len(z)), random_state=args.seed),
            calinski_harabasz=calinski_harabasz_score(z, best.labels_),
            davies_bouldin=davies_bouldin_score(z, best.labels_),
            stability=float(np.mean([adjusted_rand_score(a.labels_, b.labels_) for a, b in itertools.combinations(fits, 2)])),
        )
    )
sweep_s = time.perf_counter() - t0
t0 = time.perf_counter()
final = KMeans(args.k, init="k-means++", n_init=args.seeds, random_state=args.seed).fit(z)
final_s = time.perf_counter() - t0
total_s = time.perf_counter() - t_process
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = dict(
    rows=len(z), import_s=t_imported - t_process, read_s=read_s, sweep_s=sweep_s,
    final_fit_s=final_s, total_s=total_s, peak_rss_mib=peak, final_inertia=final.inertia_, scores=scores,
)
if args.json:
    print(json.dumps(result, indent=2))
else:
    print(f"scikit-learn job on {len(z)} rows x {z.shape[1]} features")
    for name in ["import_s", "read_s", "sweep_s", "final_fit_s", "total_s"]:
        print(f"  {name[:-2]:<13} {result[name]:8.2f} s")
    print(f"  peak memory   {peak:8.0f} MiB")
    for s in scores:
        print(f"  k={s['k']:<2} inertia {s['inertia']:12.1f}  silhouette {s['silhouette']:.3f}  CH {s['calinski_harabasz']:9.1f}  DB {s['davies_bouldin']:.3f}  stability {s['stability']:.3f}")
