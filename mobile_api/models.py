"""Every table of the phone API's parts, imported so that the metadata (and Alembic) knows them."""
from mobile_api.inbox import models as inbox_models  # noqa: F401 - indexes on dispatch's tables
from mobile_api.push import models as push_models  # noqa: F401
from mobile_api.sync import models as sync_models  # noqa: F401
