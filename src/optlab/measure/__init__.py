"""Measurements that decide batch size and optimizer on your own model and hardware (issue 5).

* :func:`time_per_update` — time per update / per epoch against batch size (module ``timing``).
* :func:`noise_scale` — the noise scale B_simple (McCandlish et al. 2018), :class:`NoiseScaleTracker`,
  :func:`fit_critical_batch` (S_min, E_min, B_crit).
* :func:`sharpness` — Keskar et al.'s Metric 2.1.
* :func:`hessian_eigenvalues`, :func:`hessian_trace` — Lanczos and Hutchinson on Hessian-vector products;
  :class:`HessianTracker`.
* :func:`interpolation_1d`, :func:`direction_1d`, :func:`surface_2d` — loss landscapes (module ``landscape``;
  Keskar et al. 2017, Li et al. 2018).
* :func:`recommend` and ``optlab.measure.advise.advise`` — batch size, lr and warm-up from timing and
  noise scale.
* :func:`load_run` — a finished run's config, dataset and model with its final weights.

All of them evaluate the model in eval mode (BatchNorm running statistics, no dropout) and leave its
parameters as they found them.
"""

from optlab.measure.advise import Advice, recommend
from optlab.measure.hessian import HessianTracker, TraceEstimate, hessian_eigenvalues, hessian_trace
from optlab.measure.landscape import direction_1d, interpolation_1d, surface_2d
from optlab.measure.noise_scale import (
    CriticalBatchFit,
    NoiseScale,
    NoiseScaleTracker,
    fit_critical_batch,
    noise_scale,
    plot_critical_batch,
)
from optlab.measure.runs import LoadedRun, load_run
from optlab.measure.sharpness import Sharpness, sharpness
from optlab.measure.timing import Timing, time_per_update

__all__ = [
    "Advice",
    "CriticalBatchFit",
    "HessianTracker",
    "LoadedRun",
    "NoiseScale",
    "NoiseScaleTracker",
    "Sharpness",
    "Timing",
    "TraceEstimate",
    "direction_1d",
    "fit_critical_batch",
    "hessian_eigenvalues",
    "hessian_trace",
    "interpolation_1d",
    "load_run",
    "noise_scale",
    "plot_critical_batch",
    "recommend",
    "sharpness",
    "surface_2d",
    "time_per_update",
]
