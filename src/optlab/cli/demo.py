"""``optlab demo``: GD, momentum, Adagrad, RMSProp and Adam on a 2-D ill-conditioned quadratic."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Path = typer.Option(
            Path("demo-output"), "--out", "-o", help="Folder for the contour plot (PNG)."
        ),
        steps: int = typer.Option(200, "--steps", min=1, help="Updates per optimizer."),
    ) -> None:
        """Five optimizers on a 2-D ill-conditioned quadratic: final loss, distance to the minimum, a plot."""
        from optlab.experiments.demo import demo_surface, run_demo

        rows, figure = run_demo(out, steps)
        print(f"surface: {demo_surface().formula}; start {demo_surface().start}; {steps} updates each")
        name_width = max(len(r.method) for r in rows)
        hyper_width = max(len(r.hyperparameters) for r in rows)
        print(
            f"{'method':<{name_width}}  {'hyperparameters':<{hyper_width}}  {'final loss − f*':>15}  "
            f"{'distance to min':>15}"
        )
        for r in rows:
            print(
                f"{r.method:<{name_width}}  {r.hyperparameters:<{hyper_width}}  {r.final_loss:>15.4e}  "
                f"{r.distance_to_minimum:>15.4e}"
            )
        print(f"contour plot of the trajectories: {figure.resolve()}")
