"""Staff roles (docs/domain.md §1). Roles, not people: one person may hold several."""
from wangge.i18n import t

GRID_WORKER = "grid_worker"
INTAKE_CLERK = "intake_clerk"
SHIFT_LEADER = "shift_leader"
DISPATCHER = "dispatcher"
DEPARTMENT_HANDLER = "department_handler"
ENFORCEMENT_LEADER = "enforcement_leader"
ENFORCEMENT_OFFICER = "enforcement_officer"
LEADER = "leader"
ADMIN = "admin"

ROLES = (
    GRID_WORKER, INTAKE_CLERK, SHIFT_LEADER, DISPATCHER, DEPARTMENT_HANDLER,
    ENFORCEMENT_LEADER, ENFORCEMENT_OFFICER, LEADER, ADMIN,
)

# Anyone on the staff may read the registry; these may see all of it.
STAFF = ROLES
DISPATCH_CENTER = (INTAKE_CLERK, SHIFT_LEADER, DISPATCHER)


def role_label(role: str, lang: str) -> str:
    """How people call a role, in ``lang`` (``zh`` or ``en``); unknown roles as they are.
    The words are the catalog's ``role_<role>`` messages (wangge/translations)."""
    key = f"role_{role}"
    text = t(key, lang=lang)
    return role if text == key else text
