from .runner import build_runner, cfg_options_argument, launcher_arguments

__all__ = ["build_runner", "cfg_options_argument", "launcher_arguments"]
