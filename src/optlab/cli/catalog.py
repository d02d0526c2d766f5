"""``optlab version``: what is installed (the optimizer and schedule listings join here)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the optlab and torch versions."""
        import torch

        import optlab

        print(f"optlab {optlab.__version__}, torch {torch.__version__}")
