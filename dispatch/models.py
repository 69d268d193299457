"""Importing this module registers every table of dispatch with the mapper and Alembic (each
part keeps its models in its own ``models.py``; import them from there)."""
from dispatch.attachments import models as attachments  # noqa: F401
from dispatch.cases import list_indexes  # noqa: F401 - indexes the case lists page by
from dispatch.cases import models as cases  # noqa: F401
from dispatch.clocks import models as clocks  # noqa: F401
from dispatch.enforcement import models as enforcement  # noqa: F401
from dispatch.indicators import models as indicators  # noqa: F401
from dispatch.notifications import models as notifications  # noqa: F401
