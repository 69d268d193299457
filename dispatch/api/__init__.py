"""Dispatch HTTP API: every module in this package that defines ``blp`` is registered."""
import importlib
import pkgutil


def blueprints():
    out = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "blp"):
            out.append(module.blp)
    return out
