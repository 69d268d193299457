import importlib
import pkgutil

from . import commands as package


def register(app) -> None:
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for command in getattr(module, "commands", []):
            app.cli.add_command(command)
